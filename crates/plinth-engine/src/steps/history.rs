//! The image history: one entry per Dockerfile instruction, as BuildKit writes it.
//!
//! A step's layer waits for the history entry of the instruction it belongs to: a Dockerfile
//! read records one `Op::History` after each instruction's operations, a recipe declared in
//! Rust gets each operation's own entry at once (`plinth_recipe::history::op_entry`). An
//! instruction that makes a layer in BuildKit (`RUN`, `COPY`, `ADD`, a `WORKDIR` other than
//! `/`) gets one even when nothing changed: an empty one, as BuildKit writes. The text is no
//! part of any step key.

use plinth_oci::layer::store_entries_layer;
use plinth_oci::{Descriptor, Digest, History};
use plinth_recipe::history::{HISTORY_COMMENT, HistoryEntry, op_entry};
use plinth_recipe::{ContainerState, Op};

use super::PlatformBuilder;
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
        });
        match own {
            Some(entry) if !self.recorded_history => self.close_instruction(&entry),
            _ => Ok(()),
        }
    }

    /// Writes the entry of the instruction whose steps are pending, with their layers; an
    /// instruction BuildKit gives a layer gets an empty one when its steps made none. (Several
    /// layers, from a `COPY` of several sources, each get the entry: BuildKit makes one.)
    pub(super) fn close_instruction(&mut self, entry: &HistoryEntry) -> Result<()> {
        let steps = std::mem::take(&mut self.pending);
        let created = steps
            .iter()
            .map(|s| s.created.clone())
            .max()
            .or_else(|| self.state.config.created.clone())
            .unwrap_or_else(|| self.engine.created_now());
        let mut layers: Vec<Layer> = steps.into_iter().filter_map(|s| s.layer).collect();
        if layers.is_empty() && entry.layer {
            layers.push(self.empty_layer()?);
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
            self.state.push(history.clone(), Some(layer));
        }
        Ok(())
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
