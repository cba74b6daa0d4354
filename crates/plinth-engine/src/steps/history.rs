//! The image history: one entry per Dockerfile instruction, as BuildKit writes it.
//!
//! A step's layer waits for the history entry of the instruction it belongs to: a Dockerfile
//! read records one `Op::History` after each instruction's operations, a recipe declared in
//! Rust gets each operation's own entry at once (`plinth_recipe::history::op_entry`). An
//! instruction that makes a layer in BuildKit (`RUN`, `COPY`, `ADD`, a `WORKDIR` other than
//! `/`) gets one even when nothing changed: an empty one, as BuildKit writes; one whose steps
//! made several layers gets them merged into one. The text is no part of any step key.

use plinth_oci::layer::{store_entries_layer, store_squashed_layer};
use plinth_oci::{Descriptor, Digest, History};
use plinth_recipe::history::{
    FILE_OPERATION_SNAPSHOT, HISTORY_COMMENT, HistoryEntry, op_entry, snapshot_description,
};
use plinth_recipe::{ContainerState, Op};

use super::PlatformBuilder;
use crate::cache::StepRecord;
use crate::error::Result;

/// A layer as the state holds it: its descriptor and its diff_id.
type Layer = (Descriptor, Digest);

/// A step whose history entry is not written yet.
pub(super) struct PendingStep {
    /// When the step was made (its cache record's time, or `SOURCE_DATE_EPOCH`).
    created: String,
    /// Its layer, when it changed files.
    layer: Option<Layer>,
    /// Its own entry, used only if no instruction entry follows (a trailing step).
    own: Option<HistoryEntry>,
    /// BuildKit's description of the snapshot it makes.
    description: Option<String>,
}

impl PlatformBuilder<'_> {
    /// After a step ran (or came from the cache): its layer waits for the instruction's entry,
    /// or, in a recipe without entries, is written at once with the step's own.
    pub(super) fn settle(
        &mut self,
        op: &Op,
        before: &ContainerState,
        created: String,
        layer: Option<Layer>,
    ) -> Result<()> {
        let own = op_entry(op, before);
        self.pending.push(PendingStep {
            created,
            layer,
            own: own.clone(),
            description: snapshot_description(op),
        });
        match own {
            Some(entry) if !self.recorded_history => self.close_instruction(&entry),
            _ => Ok(()),
        }
    }

    /// Writes the entry of the instruction whose steps are pending, with their layer: an
    /// instruction BuildKit gives a layer gets an empty one when its steps made none, and one
    /// layer merged from theirs when they made several (a `COPY` of several sources is a step
    /// per source, BuildKit's one snapshot).
    pub(super) fn close_instruction(&mut self, entry: &HistoryEntry) -> Result<()> {
        let steps = std::mem::take(&mut self.pending);
        let created = steps
            .iter()
            .map(|s| s.created.clone())
            .max()
            .or_else(|| self.state.config.created.clone())
            .unwrap_or_else(|| self.engine.created_now());
        let description = steps
            .iter()
            .find_map(|s| s.description.clone())
            .unwrap_or_else(|| FILE_OPERATION_SNAPSHOT.to_owned());
        let mut layers: Vec<Layer> = steps.into_iter().filter_map(|s| s.layer).collect();
        if layers.is_empty() && entry.layer {
            layers.push(self.empty_layer()?);
        }
        if layers.len() > 1 {
            layers = vec![self.merged_layer(&layers)?];
        }
        let history = History {
            created: Some(created),
            created_by: Some(entry.created_by.clone()),
            comment: Some(HISTORY_COMMENT.to_owned()),
            ..History::default()
        };
        if layers.is_empty() {
            self.state.push(
                History {
                    empty_layer: true,
                    ..history
                },
                None,
            );
            return Ok(());
        }
        for layer in layers {
            self.state
                .push(history.clone(), Some((layer, description.clone())));
        }
        Ok(())
    }

    /// The layers of one instruction merged into one ([`store_squashed_layer`]); cached by the
    /// parts, so a warm build reads no layer.
    fn merged_layer(&self, parts: &[Layer]) -> Result<Layer> {
        let engine = self.engine;
        let options = engine.write_options();
        let mut identity = format!(
            "merged layer v1\ncompression {}\nepoch {:?}\n",
            options.compression(),
            options.source_date_epoch()
        );
        for (descriptor, diff_id) in parts {
            identity.push_str(&format!("{} {diff_id}\n", descriptor.digest));
        }
        let key = Digest::of(identity.as_bytes());
        if !self.settings.no_cache
            && let Some((record, Some(layer))) = engine.cache.lookup(&key)?
            && let Some(diff_id) = record.diff_id
        {
            return Ok((layer, diff_id));
        }
        let descriptors: Vec<Descriptor> = parts.iter().map(|(d, _)| d.clone()).collect();
        let info = store_squashed_layer(&engine.store, &descriptors, &options)?;
        let descriptor = Descriptor::new(
            engine.media_types.layer(info.compression),
            info.digest,
            info.size,
        );
        let record = StepRecord {
            created: engine.created_now(),
            created_by: "the layers of one instruction, merged".to_owned(),
            diff_id: Some(info.diff_id.clone()),
        };
        engine.cache.insert(&key, &record, Some(&descriptor))?;
        Ok((descriptor, info.diff_id))
    }

    /// Steps after the last instruction entry (none in a Dockerfile read) get their own.
    pub(super) fn close_trailing_steps(&mut self) -> Result<()> {
        for step in std::mem::take(&mut self.pending) {
            // Every operation that can make a layer has an entry of its own.
            let Some(entry) = step.own.clone() else {
                continue;
            };
            self.pending.push(step);
            self.close_instruction(&entry)?;
        }
        Ok(())
    }

    /// The empty layer (a tar with no entries) BuildKit writes for a step that changed nothing.
    fn empty_layer(&self) -> Result<Layer> {
        let engine = self.engine;
        let info = store_entries_layer(&engine.store, &[], &engine.write_options())?;
        let descriptor = Descriptor::new(
            engine.media_types.layer(info.compression),
            info.digest,
            info.size,
        );
        Ok((descriptor, info.diff_id))
    }
}
