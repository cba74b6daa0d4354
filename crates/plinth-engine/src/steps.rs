//! The steps of one platform: inputs → key → cache hit or execution → config and history.
//!
//! This module walks the recipe and reports each step; the step kinds live in its children:
//! `from` (the root), `keyed` (key, cache, execution, history), `copy` (file and directory
//! inputs), `mounts` and `helpers` (what an exec's mounts show, helper stages built ahead),
//! `workdir`.

use std::collections::BTreeMap;
use std::time::Instant;

use plinth_executor::{
    BuildInput, BuildReporter, BuildSecrets, CacheStatus, PlatformBuild, StepReport,
};
use plinth_oci::{Descriptor, Digest, ImageManifest, Platform};
use plinth_recipe::state::normalize_path;
use plinth_recipe::{Container, Op, Step};

use crate::cache::{BuildRecord, StepTrace};
use crate::engine::Inner;
use crate::error::Result;
use crate::files::CopyItem;
use crate::state::ImageState;
use crate::step_description::{describe, set_default_path};

mod copy;
mod from;
mod helpers;
mod history;
mod keyed;
mod mounts;
mod workdir;
pub(crate) use mounts::{PreparedMount, PreparedSeed};

/// What a step needs besides its operation, found before its key is computed.
enum Prepared {
    Nothing,
    /// The mounts of an exec and the seeds of its seeded caches, their contents found.
    Exec {
        mounts: Vec<PreparedMount>,
        seeds: Vec<PreparedSeed>,
    },
    /// Items to write under a destination, with the owner of a created destination directory.
    Items {
        dest: String,
        items: Vec<CopyItem>,
        dest_owner: (u64, u64),
    },
    /// An archive to extract under a destination, read only if the step runs.
    Archive {
        dest: String,
        pending: crate::archive_tree::PendingArchive,
        dest_owner: (u64, u64),
    },
}

/// What became of one step, for its report.
struct StepOutcome {
    status: CacheStatus,
    explanation: String,
    /// The layer it added, if any.
    layer: Option<Descriptor>,
}

/// How one build runs, the same for every platform and helper container.
#[derive(Clone, Copy)]
pub(crate) struct BuildSettings<'a> {
    pub(crate) no_cache: bool,
    pub(crate) reporter: &'a dyn BuildReporter,
    pub(crate) secrets: &'a BuildSecrets,
    pub(crate) ssh: &'a plinth_executor::BuildSsh,
    pub(crate) allow_host_network: bool,
    /// Labels of the final image (none for a helper stage).
    pub(crate) labels: &'a BTreeMap<String, String>,
}

/// The labels of a helper stage: `--label` sets only the final image's.
pub(crate) static NO_LABELS: BTreeMap<String, String> = BTreeMap::new();

struct PlatformBuilder<'a> {
    engine: &'a Inner,
    /// The platform the steps run on: the container's own (`FROM --platform=…`), else the
    /// build's.
    platform: &'a Platform,
    /// The platform built for: the image's, the one progress is reported under, the one helper
    /// stages without a platform of their own are built on.
    target: &'a Platform,
    settings: BuildSettings<'a>,
    recipe_id: &'a str,
    previous: Option<BuildRecord>,
    state: ImageState,
    traces: Vec<StepTrace>,
    reports: Vec<StepReport>,
    url_inputs: BTreeMap<String, Digest>,
    /// Roots, host files and directories read (URL inputs are in `url_inputs`).
    inputs: Vec<BuildInput>,
    /// Helper containers built ahead, concurrently, by their name in this build.
    helpers: BTreeMap<String, PlatformBuild>,
    /// The seed containers of the seeded caches mounted so far, by mount point.
    cache_seeds: BTreeMap<String, PlatformBuild>,
    /// Whether the recipe records its own history entries (a Dockerfile read), else each step
    /// gets its own.
    recorded_history: bool,
    /// Steps whose layers wait for their instruction's history entry.
    pending: Vec<history::PendingStep>,
}

/// Builds `container` for one platform (its steps run on the container's own platform when it
/// has one).
pub(crate) fn build_platform(
    engine: &Inner,
    container: &Container,
    target: &Platform,
    settings: BuildSettings<'_>,
    recipe_id: &str,
) -> Result<PlatformBuild> {
    // Steps are numbered without the history entries, which close instructions as they go.
    let (container, entries) = plinth_recipe::history::split_entries(container);
    let platform = container.run_platform(target);
    if platform != target {
        crate::platform::check_platform(platform)?;
    }
    let mut builder = PlatformBuilder {
        engine,
        platform,
        target,
        settings,
        recipe_id,
        previous: engine.cache.last_build(recipe_id, target),
        state: {
            // BuildKit's empty image: the default PATH and `/` as the workdir.
            let mut state = ImageState::scratch(platform);
            set_default_path(&mut state.config);
            state.config.runtime_mut().working_dir = Some("/".to_owned());
            state
        },
        traces: Vec::new(),
        reports: Vec::new(),
        url_inputs: BTreeMap::new(),
        inputs: Vec::new(),
        helpers: BTreeMap::new(),
        cache_seeds: BTreeMap::new(),
        recorded_history: !entries.is_empty(),
        pending: Vec::new(),
    };
    builder.prebuild_helpers(&container)?;
    let mut entries = entries.into_iter().peekable();
    for step in std::iter::once(None).chain(container.steps().map(Some)) {
        let mut result = match &step {
            Some(step) => builder.run_step(step),
            None => Ok(()),
        };
        // The entries of the instructions the steps so far complete.
        let done = step.as_ref().map_or(0, |s| s.index + 1);
        while let Some((_, entry)) = entries.next_if(|(after, _)| *after <= done) {
            result = result.and_then(|()| builder.close_instruction(&entry));
        }
        if let Err(e) = result {
            builder.keep_partial();
            return Err(e);
        }
    }
    builder.close_trailing_steps()?;
    builder.finish()
}

impl PlatformBuilder<'_> {
    /// Runs one step and reports it: `FROM` resolves a root, cache mount markers do nothing,
    /// every other step goes through its key and the cache.
    fn run_step(&mut self, step: &Step<'_>) -> Result<()> {
        let description = describe(step.op);
        self.settings
            .reporter
            .on_step_start(self.target, step.index, &description);
        let started = Instant::now();
        let parent = self.state.key.clone();
        let mut inputs = BTreeMap::new();
        let outcome = match step.op {
            Op::From { source } => self.run_from(step.index, source, &mut inputs)?,
            Op::MountedCache { .. } | Op::UnmountCache { .. } => {
                // A seeded cache's seed is built now, for the execs the cache is mounted for.
                if let Op::MountedCache { path, options, .. } = step.op
                    && let Some(seed) = &options.seed
                {
                    let name =
                        helpers::helper_name(step.index, plinth_recipe::HelperRole::CacheSeed);
                    let build = self.build_helper(&seed.container, &name)?;
                    self.cache_seeds.insert(normalize_path(path), build);
                }
                StepOutcome {
                    status: CacheStatus::Hit,
                    explanation: "build-time cache mount: nothing to build".to_owned(),
                    layer: None,
                }
            }
            op => self.run_keyed(step, op, &description, &parent, &mut inputs)?,
        };
        let key = self.state.key.clone();
        // The trace is what the next build's explanations compare against.
        self.traces.push(StepTrace {
            description: description.clone(),
            op_digest: step.op.op_digest(),
            parent: (!matches!(step.op, Op::From { .. })).then_some(parent),
            inputs,
            key: key.clone(),
        });
        let report = StepReport {
            index: step.index,
            description,
            status: outcome.status,
            duration: started.elapsed(),
            key,
            explanation: outcome.explanation,
            layer: outcome.layer,
        };
        tracing::debug!(index = report.index, status = ?report.status, "{}", report.explanation);
        self.settings.reporter.on_step_done(self.target, &report);
        self.reports.push(report);
        Ok(())
    }

    /// After a failure: keeps the layers made so far referenced (best effort).
    fn keep_partial(&self) {
        let layers: Vec<Descriptor> = self.state.layers.iter().map(|(d, _)| d.clone()).collect();
        let record = BuildRecord {
            steps: self.traces.clone(),
        };
        if let Err(e) =
            self.engine
                .cache
                .save_partial(self.recipe_id, self.target, &record, &layers)
        {
            tracing::warn!(error = %e, "could not record the layers of a failed build");
        }
    }

    fn finish(self) -> Result<PlatformBuild> {
        let engine = self.engine;
        let flavor = engine.media_types;
        let mut config = self.state.config;
        let descriptions = &self.state.descriptions;
        plinth_recipe::history::account_for_layers(
            &mut config.history,
            self.state.layers.len(),
            |i| descriptions.get(i).cloned().unwrap_or_default(),
            config.created.clone(),
        );
        if self.platform != self.target {
            // BuildKit labels an image with the platform built for, whatever platform its
            // last stage's files came from.
            config.architecture.clone_from(&self.target.architecture);
            config.os.clone_from(&self.target.os);
            config.variant.clone_from(&self.target.variant);
        }
        if !self.settings.labels.is_empty() {
            config
                .runtime_mut()
                .labels
                .get_or_insert_with(BTreeMap::new)
                .extend(self.settings.labels.clone());
        }
        let config_descriptor = engine.store.write_config(flavor.config(), &config)?;
        let layers: Vec<Descriptor> = self
            .state
            .layers
            .iter()
            .map(|(d, _)| {
                let mut d = d.clone();
                if let Some(c) = d.media_type.layer_compression() {
                    d.media_type = flavor.layer(c);
                }
                d
            })
            .collect();
        let manifest = ImageManifest::new(flavor.manifest(), config_descriptor.clone(), layers);
        let manifest_descriptor = engine
            .store
            .write_manifest(&manifest)?
            .with_platform(self.target.clone());
        let kept: Vec<Descriptor> = self.state.layers.iter().map(|(d, _)| d.clone()).collect();
        engine.cache.save_build(
            self.recipe_id,
            self.target,
            &BuildRecord { steps: self.traces },
            &kept,
        )?;
        Ok(PlatformBuild::new(
            self.target.clone(),
            manifest_descriptor,
            &manifest,
            config_descriptor,
            config,
            self.reports,
            self.url_inputs,
        )?
        .with_inputs(self.inputs))
    }
}
