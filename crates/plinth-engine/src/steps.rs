//! The steps of one platform: inputs → key → cache hit or execution → config and history.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use plinth_executor::{
    BuildInput, BuildReporter, BuildSecrets, CacheStatus, InputKind, PlatformBuild, StepReport,
};
use plinth_oci::{Descriptor, Digest, History, ImageManifest, Platform};
use plinth_recipe::state::{join_path, normalize_path};
use plinth_recipe::{Container, Op, Step};

use crate::archive_tree::PendingArchive;
use crate::cache::{BuildRecord, StepRecord, StepTrace, explain, root_key, step_key};
use crate::engine::Inner;
use crate::error::Result;
use crate::files::{CopyItem, resolve_owner, write_items_layer};
use crate::state::ImageState;
use crate::step_context::StepContext;
use crate::step_description::{apply_config, describe, set_default_path};

mod copy;
mod helpers;
mod mounts;
mod workdir;
pub(crate) use mounts::PreparedMount;

/// What a step needs besides its operation, found before its key is computed.
enum Prepared {
    Nothing,
    /// The mounts of an exec, their contents found.
    Exec(Vec<PreparedMount>),
    /// Items to write under a destination, with the owner of a created destination directory.
    Items {
        dest: String,
        items: Vec<CopyItem>,
        dest_owner: (u64, u64),
    },
    /// An archive to extract under a destination, read only if the step runs.
    Archive {
        dest: String,
        pending: PendingArchive,
        dest_owner: (u64, u64),
    },
}

/// How one build runs, the same for every platform and helper container.
#[derive(Clone, Copy)]
pub(crate) struct BuildSettings<'a> {
    pub(crate) no_cache: bool,
    pub(crate) reporter: &'a dyn BuildReporter,
    pub(crate) secrets: &'a BuildSecrets,
    pub(crate) allow_host_network: bool,
    /// Labels of the final image (none for a helper stage).
    pub(crate) labels: &'a BTreeMap<String, String>,
}

/// The labels of a helper stage: `--label` sets only the final image's.
pub(crate) static NO_LABELS: BTreeMap<String, String> = BTreeMap::new();

struct PlatformBuilder<'a> {
    engine: &'a Inner,
    platform: &'a Platform,
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
}

/// Builds `container` for one platform.
pub(crate) fn build_platform(
    engine: &Inner,
    container: &Container,
    platform: &Platform,
    settings: BuildSettings<'_>,
    recipe_id: &str,
) -> Result<PlatformBuild> {
    let mut builder = PlatformBuilder {
        engine,
        platform,
        settings,
        recipe_id,
        previous: engine.cache.last_build(recipe_id, platform),
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
    };
    builder.prebuild_helpers(container)?;
    for step in container.steps() {
        if let Err(e) = builder.run_step(&step) {
            builder.keep_partial();
            return Err(e);
        }
    }
    builder.finish()
}

impl PlatformBuilder<'_> {
    fn run_step(&mut self, step: &Step<'_>) -> Result<()> {
        let description = describe(step.op);
        self.settings
            .reporter
            .on_step_start(self.platform, step.index, &description);
        let started = Instant::now();
        let parent = self.state.key.clone();
        let mut inputs = BTreeMap::new();
        let (status, explanation, layer) = match step.op {
            Op::From { source } => {
                let root = crate::resolve::resolve_root(self.engine, source, self.platform)?;
                let digest = root.manifest.digest.clone();
                inputs.insert("root".to_owned(), digest.to_string());
                self.inputs.push(BuildInput::new(
                    InputKind::RootImage,
                    source.address(),
                    digest.clone(),
                ));
                let before = self
                    .previous
                    .as_ref()
                    .and_then(|p| p.steps.get(step.index))
                    .and_then(|s| s.inputs.get("root"));
                let explanation = match before {
                    Some(old) if *old != digest.to_string() => {
                        format!("the root image changed from `{old}` to `{digest}`")
                    }
                    _ if root.fetched => format!("root image `{digest}` fetched"),
                    _ => format!("root image `{digest}` already in the store"),
                };
                let mut config = root.config;
                set_default_path(&mut config);
                self.state = ImageState {
                    config,
                    layers: root.layers,
                    key: root_key(Some(&digest), self.platform),
                };
                let status = if root.fetched {
                    CacheStatus::Miss
                } else {
                    CacheStatus::Hit
                };
                (status, explanation, None)
            }
            Op::MountedCache { .. } | Op::UnmountCache { .. } => (
                CacheStatus::Hit,
                "build-time cache mount: nothing to build".to_owned(),
                None,
            ),
            op => {
                let ctx = StepContext {
                    engine: self.engine,
                    platform: self.platform,
                    index: step.index,
                    description: &description,
                    reporter: self.settings.reporter,
                };
                let prepared = self.prepare(step, &mut inputs)?;
                let key = step_key(&parent, op, &inputs, self.platform);
                let trace = StepTrace {
                    description: description.clone(),
                    op_digest: op.op_digest(),
                    parent: Some(parent.clone()),
                    inputs: inputs.clone(),
                    key: key.clone(),
                };
                let cached = if self.settings.no_cache {
                    None
                } else {
                    self.engine.cache.lookup(&key)?
                };
                let status = if cached.is_some() {
                    CacheStatus::Hit
                } else {
                    CacheStatus::Miss
                };
                let explanation = explain(
                    self.previous.as_ref(),
                    step.index,
                    &trace,
                    cached.is_some(),
                    self.settings.no_cache,
                );
                let (record, layer) = match cached {
                    Some((record, layer)) => (record.clone(), layer.zip(record.diff_id)),
                    None => {
                        let layer = self.execute(&ctx, step, prepared)?;
                        let record = StepRecord {
                            created: self.engine.created_now(),
                            created_by: description.clone(),
                            diff_id: layer.as_ref().map(|(_, d)| d.clone()),
                        };
                        self.engine
                            .cache
                            .insert(&key, &record, layer.as_ref().map(|(d, _)| d))?;
                        (record, layer)
                    }
                };
                apply_config(&mut self.state.config, op);
                let created = match self.engine.source_date_epoch {
                    Some(epoch) => crate::time::rfc3339(epoch),
                    None => record.created.clone(),
                };
                self.state.push(
                    History {
                        created: Some(created),
                        created_by: Some(record.created_by.clone()),
                        empty_layer: layer.is_none(),
                        ..History::default()
                    },
                    layer.clone(),
                );
                self.state.key = key;
                (status, explanation, layer.map(|(d, _)| d))
            }
        };
        let key = self.state.key.clone();
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
            status,
            duration: started.elapsed(),
            key,
            explanation,
            layer,
        };
        tracing::debug!(index = report.index, status = ?report.status, "{}", report.explanation);
        self.settings.reporter.on_step_done(self.platform, &report);
        self.reports.push(report);
        Ok(())
    }

    /// Finds the inputs of a step (downloads, host files, helper images) for its key.
    fn prepare(
        &mut self,
        step: &Step<'_>,
        inputs: &mut BTreeMap<String, String>,
    ) -> Result<Prepared> {
        match step.op {
            Op::Exec {
                network, mounts, ..
            } => {
                let prepared = self.prepare_exec(step.index, *network, mounts, inputs)?;
                let caches = step.state.caches();
                if !caches.is_empty() {
                    let list: Vec<String> = caches
                        .iter()
                        .map(|c| {
                            format!(
                                "{}={}:{}",
                                c.path,
                                c.volume,
                                c.owner.as_deref().unwrap_or("")
                            )
                        })
                        .collect();
                    inputs.insert("caches".to_owned(), list.join(","));
                }
                Ok(prepared)
            }
            Op::File {
                path,
                source,
                owner,
                mode,
            } => self.prepare_file(step.index, path, source, owner.as_deref(), *mode, inputs),
            Op::Directory {
                path,
                source,
                owner,
                mode,
            } => self.prepare_directory(step.index, path, source, owner.as_deref(), *mode, inputs),
            Op::Workdir { path } => self.prepare_workdir(step.index, path),
            Op::From { .. }
            | Op::Env { .. }
            | Op::Label { .. }
            | Op::User { .. }
            | Op::Entrypoint { .. }
            | Op::DefaultArgs { .. }
            | Op::MountedCache { .. }
            | Op::UnmountCache { .. }
            | Op::Config { .. } => Ok(Prepared::Nothing),
        }
    }

    /// `path` against the image's working directory, keeping a trailing `/` (it names a
    /// directory).
    fn in_workdir(&self, path: &str) -> String {
        let workdir = self
            .state
            .config
            .config
            .as_ref()
            .and_then(|c| c.working_dir.clone())
            .filter(|w| !w.is_empty())
            .unwrap_or_else(|| "/".to_owned());
        let trailing = path.len() > 1 && path.ends_with('/');
        let mut out = join_path(&normalize_path(&workdir), path);
        if trailing && out != "/" {
            out.push('/');
        }
        out
    }

    /// The uid and gid of `owner` in the image built so far.
    fn owner_ids(&self, owner: &str, index: usize) -> Result<(u32, u32)> {
        let dirs = self.engine.snapshots.read_dirs(&self.state.layers)?;
        resolve_owner(&dirs, owner, index)
    }

    /// Runs a step that missed the cache; returns its layer, if it made one.
    fn execute(
        &self,
        ctx: &StepContext<'_>,
        step: &Step<'_>,
        prepared: Prepared,
    ) -> Result<Option<(Descriptor, Digest)>> {
        match (step.op, prepared) {
            (
                Op::Exec {
                    argv, network, env, ..
                },
                prepared,
            ) => {
                let mounts = match prepared {
                    Prepared::Exec(mounts) => mounts,
                    Prepared::Nothing | Prepared::Items { .. } | Prepared::Archive { .. } => {
                        Vec::new()
                    }
                };
                let request = crate::exec::ExecRequest {
                    argv,
                    network: *network,
                    build_env: env,
                    caches: step.state.caches(),
                    mounts: &mounts,
                    secrets: self.settings.secrets,
                };
                crate::exec::run_exec(ctx, &self.state, &request)
            }
            (
                _,
                Prepared::Items {
                    dest,
                    items,
                    dest_owner,
                },
            ) => {
                let dirs: Vec<PathBuf> = self.engine.snapshots.read_dirs(&self.state.layers)?;
                Ok(Some(write_items_layer(
                    ctx, &dirs, &dest, &items, dest_owner,
                )?))
            }
            (
                _,
                Prepared::Archive {
                    dest,
                    pending,
                    dest_owner,
                },
            ) => {
                let scratch = self.engine.snapshots.step_dir()?;
                let items = pending.items(ctx.index, scratch.path())?;
                let dirs: Vec<PathBuf> = self.engine.snapshots.read_dirs(&self.state.layers)?;
                Ok(Some(write_items_layer(
                    ctx, &dirs, &dest, &items, dest_owner,
                )?))
            }
            _ => Ok(None),
        }
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
                .save_partial(self.recipe_id, self.platform, &record, &layers)
        {
            tracing::warn!(error = %e, "could not record the layers of a failed build");
        }
    }

    fn finish(self) -> Result<PlatformBuild> {
        let engine = self.engine;
        let flavor = engine.media_types;
        let mut config = self.state.config;
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
            .with_platform(self.platform.clone());
        let kept: Vec<Descriptor> = self.state.layers.iter().map(|(d, _)| d.clone()).collect();
        engine.cache.save_build(
            self.recipe_id,
            self.platform,
            &BuildRecord { steps: self.traces },
            &kept,
        )?;
        Ok(PlatformBuild::new(
            self.platform.clone(),
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
