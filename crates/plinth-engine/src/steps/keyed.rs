//! The steps that have a key of their own (everything but `FROM` and cache mount markers):
//! inputs found → key → cache hit, or execution stored under the key → config and history.

use std::collections::BTreeMap;
use std::path::PathBuf;

use plinth_executor::CacheStatus;
use plinth_oci::{Descriptor, Digest};
use plinth_recipe::{CacheMount, CacheOptions, Op, Step};

use super::{PlatformBuilder, Prepared, PreparedSeed, StepOutcome};
use crate::cache::{StepRecord, StepTrace, explain, step_key};
use crate::error::Result;
use crate::files::write_items_layer;
use crate::step_context::StepContext;
use crate::step_description::apply_config;

/// A layer as the state holds it: its descriptor and its diff_id.
type Layer = (Descriptor, Digest);

impl PlatformBuilder<'_> {
    /// Runs `op` (step `step.index`) on top of the state, or takes its result from the cache.
    pub(super) fn run_keyed(
        &mut self,
        step: &Step<'_>,
        op: &Op,
        description: &str,
        parent: &Digest,
        inputs: &mut BTreeMap<String, String>,
    ) -> Result<StepOutcome> {
        // Inputs first: the key hashes what they are (downloads, host trees, helper images).
        let prepared = self.prepare(step, inputs)?;
        let key = step_key(parent, op, inputs, self.platform);
        let trace = StepTrace {
            description: description.to_owned(),
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
            None => self.execute_and_store(step, description, &key, prepared)?,
        };
        self.advance(step, &record, layer.clone(), key)?;
        Ok(StepOutcome {
            status,
            explanation,
            layer: layer.map(|(d, _)| d),
        })
    }

    /// Runs a step that missed the cache and stores its record and layer under `key`.
    fn execute_and_store(
        &self,
        step: &Step<'_>,
        description: &str,
        key: &Digest,
        prepared: Prepared,
    ) -> Result<(StepRecord, Option<Layer>)> {
        let ctx = StepContext {
            engine: self.engine,
            platform: self.target,
            index: step.index,
            description,
            reporter: self.settings.reporter,
        };
        let layer = self.execute(&ctx, step, prepared)?;
        let record = StepRecord {
            created: self.engine.created_now(),
            created_by: description.to_owned(),
            diff_id: layer.as_ref().map(|(_, d)| d.clone()),
        };
        self.engine
            .cache
            .insert(key, &record, layer.as_ref().map(|(d, _)| d))?;
        Ok((record, layer))
    }

    /// The state after the step: its config change, its layer (with its history entry, see
    /// `history.rs`) and its key. With `SOURCE_DATE_EPOCH` set the entry is dated by it, not by
    /// the cache record, so a build gives the same config whether its steps ran or came from
    /// the cache.
    fn advance(
        &mut self,
        step: &Step<'_>,
        record: &StepRecord,
        layer: Option<Layer>,
        key: Digest,
    ) -> Result<()> {
        apply_config(&mut self.state.config, step.op);
        let created = match self.engine.source_date_epoch {
            Some(epoch) => crate::time::rfc3339(epoch),
            None => record.created.clone(),
        };
        self.state.key = key;
        self.settle(step.op, &step.state, created, layer)
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
                let mounts = self.prepare_exec(step.index, *network, mounts, inputs)?;
                // The active cache mounts change what a run sees, so they are part of its key.
                let caches = step.state.caches();
                let seeds = self.prepare_seeds(step.index, caches)?;
                if !caches.is_empty() {
                    let list: Vec<String> =
                        caches.iter().map(|c| cache_key_line(c, &seeds)).collect();
                    inputs.insert("caches".to_owned(), list.join(","));
                }
                Ok(Prepared::Exec { mounts, seeds })
            }
            Op::File {
                path,
                source,
                owner,
                mode,
            } => self.prepare_file(
                step.index,
                path,
                source,
                owner.as_deref(),
                mode.as_ref(),
                inputs,
            ),
            Op::Directory {
                path,
                source,
                owner,
                mode,
            } => self.prepare_directory(
                step.index,
                path,
                source,
                owner.as_deref(),
                mode.as_ref(),
                inputs,
            ),
            Op::Workdir { path } => self.prepare_workdir(step.index, path),
            Op::From { .. }
            | Op::Env { .. }
            | Op::Label { .. }
            | Op::User { .. }
            | Op::Entrypoint { .. }
            | Op::DefaultArgs { .. }
            | Op::MountedCache { .. }
            | Op::UnmountCache { .. }
            | Op::Config { .. }
            | Op::History { .. } => Ok(Prepared::Nothing),
        }
    }

    /// Runs a step that missed the cache; returns its layer, if it made one.
    fn execute(
        &self,
        ctx: &StepContext<'_>,
        step: &Step<'_>,
        prepared: Prepared,
    ) -> Result<Option<Layer>> {
        match (step.op, prepared) {
            (
                Op::Exec {
                    argv, network, env, ..
                },
                prepared,
            ) => {
                let (mounts, seeds) = match prepared {
                    Prepared::Exec { mounts, seeds } => (mounts, seeds),
                    Prepared::Nothing | Prepared::Items { .. } | Prepared::Archive { .. } => {
                        (Vec::new(), Vec::new())
                    }
                };
                let request = crate::exec::ExecRequest {
                    argv,
                    network: *network,
                    build_env: env,
                    caches: step.state.caches(),
                    seeds: &seeds,
                    mounts: &mounts,
                    secrets: self.settings.secrets,
                    ssh: self.settings.ssh,
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
                // Regular files' bytes go to the step's scratch directory, dropped with it.
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
}

/// How an active cache mount takes part in an exec's key: its place, volume and owner, its
/// options when any is set, and for a seeded cache the contents of the seed path (as BuildKit
/// keys a mount by the contents it selects), never the seed container's recipe.
fn cache_key_line(cache: &CacheMount, seeds: &[PreparedSeed]) -> String {
    let mut line = format!(
        "{}={}:{}",
        cache.path,
        cache.volume,
        cache.owner.as_deref().unwrap_or("")
    );
    let options = CacheOptions {
        seed: None,
        ..cache.options.clone()
    };
    // Left out when all default, so existing keys keep their meaning.
    if !options.is_default() {
        line.push_str(&format!(
            ":{}",
            serde_json::to_string(&options).unwrap_or_default()
        ));
    }
    if let Some(seed) = seeds.iter().find(|s| s.path == cache.path) {
        line.push_str(&format!(":seed={}@{}", seed.source, seed.contents));
    }
    line
}
