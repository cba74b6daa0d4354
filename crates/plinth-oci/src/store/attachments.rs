//! Refs of attached artifacts (SBOMs, provenance, check reports), tied to their subject.
//!
//! An artifact about a manifest is reachable from no image: nothing in an image points at what
//! is attached to it. So each one gets a ref of its own, `attachments/<subject>/<artifact>`,
//! which garbage collection treats as conditional: it keeps the artifact while something else
//! keeps its subject, and removes the ref and the artifact together once the subject is gone.

use std::collections::BTreeSet;

use super::Store;
use crate::descriptor::Descriptor;
use crate::digest::Digest;
use crate::error::Result;
use crate::image::walk_present;

/// The prefix of every attachment ref.
pub const ATTACHMENT_REF_PREFIX: &str = "attachments/";

/// The ref name of `artifact` attached to `subject`.
pub fn attachment_ref_name(subject: &Digest, artifact: &Digest) -> String {
    format!("{ATTACHMENT_REF_PREFIX}{subject}/{artifact}")
}

/// The subject of an attachment ref name; `None` for any other ref.
pub fn attachment_subject(ref_name: &str) -> Option<Digest> {
    let rest = ref_name.strip_prefix(ATTACHMENT_REF_PREFIX)?;
    let (subject, _) = rest.split_once('/')?;
    subject.parse().ok()
}

impl Store {
    /// Records `artifact` (a manifest in the store) as attached to `subject`, so gc keeps it as
    /// long as the subject is kept.
    pub fn set_attachment_ref(&self, subject: &Digest, artifact: &Descriptor) -> Result<()> {
        self.set_ref(&attachment_ref_name(subject, &artifact.digest), artifact)
    }

    /// The artifact manifests attached to `subject` in this store, sorted by digest.
    pub fn attachments_of(&self, subject: &Digest) -> Result<Vec<Descriptor>> {
        let prefix = format!("{ATTACHMENT_REF_PREFIX}{subject}/");
        let mut found: Vec<Descriptor> = self
            .list_refs()?
            .into_iter()
            .filter(|r| r.name.starts_with(&prefix))
            .map(|r| r.descriptor)
            .collect();
        found.sort_by(|a, b| a.digest.cmp(&b.digest));
        Ok(found)
    }

    /// Marks, on top of `marked` (what the plain refs reach), every attachment whose subject is
    /// marked, repeatedly (an artifact may be the subject of another). Returns the names of the
    /// attachment refs whose subject is not kept.
    pub(super) fn mark_attachments(
        &self,
        attachment_refs: &[super::StoreRef],
        marked: &mut BTreeSet<Digest>,
    ) -> Result<Vec<String>> {
        let mut pending: Vec<&super::StoreRef> = attachment_refs.iter().collect();
        loop {
            let (kept, rest): (Vec<_>, Vec<_>) = pending.into_iter().partition(|r| {
                attachment_subject(&r.name).is_some_and(|subject| marked.contains(&subject))
            });
            if kept.is_empty() {
                return Ok(rest.into_iter().map(|r| r.name.clone()).collect());
            }
            for r in kept {
                let reachable = walk_present(self, &r.descriptor)?;
                marked.extend(reachable.into_iter().map(|d| d.digest));
            }
            pending = rest;
        }
    }
}
