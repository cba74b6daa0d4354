//! `publish REPOSITORY VERSION`: build that version's recipe, check it, push exactly the checked
//! bytes, and never move a published tag to other bytes without `force`.

use plinth_attest::push_attachments;
use plinth_catalog::Version;
use plinth_oci::{Digest, Reference};
use plinth_registry::{PushOptions, ReferrersDiscovery, push_to_registry};

use crate::attest::attachments_of;

use crate::build_version::BuiltVersion;
use crate::error::{Error, Result};
use crate::lock::FamilyLock;
use crate::record::{ReleaseRecords, VersionRecord};
use crate::releaser::Releaser;

/// What `publish` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PublishOutcome {
    /// The image was pushed; `registry/repository:version@digest`.
    Pushed(String),
    /// The tag already pointed at the identical image: nothing was sent.
    Unchanged(String),
}

impl PublishOutcome {
    /// The published address with digest.
    pub fn address(&self) -> &str {
        match self {
            PublishOutcome::Pushed(a) | PublishOutcome::Unchanged(a) => a,
        }
    }
}

impl Releaser {
    /// Pushes a built (and checked) version: children first, the tag last, read back. When the
    /// tag exists with another digest, `confirm(existing)` decides (the interactive question);
    /// without `force` or a yes the push is refused. Returns the address with digest.
    pub(crate) fn push_built(
        &self,
        built: &BuiltVersion,
        force: bool,
        confirm: &dyn Fn(&Digest) -> bool,
    ) -> Result<String> {
        match self.push_checked(built, force, confirm)? {
            PublishOutcome::Pushed(a) | PublishOutcome::Unchanged(a) => Ok(a),
        }
    }

    fn push_checked(
        &self,
        built: &BuiltVersion,
        force: bool,
        confirm: &dyn Fn(&Digest) -> bool,
    ) -> Result<PublishOutcome> {
        // Last line of defence: the commands refuse before building already.
        if !built.substitutions.is_empty() {
            self.refuse_substituted_publish(&built.repository)?;
        }
        let tag = built.version.to_string();
        let target = self
            .published_repository(&built.repository)?
            .with_tag(&tag)
            .map_err(|e| {
                Error::Catalog(plinth_catalog::Error::InvalidAddress {
                    input: tag.clone(),
                    reason: e.to_string(),
                })
            })?;
        let registry_err = |action: &'static str| {
            let target = target.to_string();
            move |source: plinth_registry::Error| Error::Registry {
                action,
                target,
                source: Box::new(source),
            }
        };
        let digest = built.root.digest.clone();
        let address = format!("{}@{digest}", target);
        let existing = self
            .runtime
            .block_on(self.client.head_manifest(&target))
            .map_err(registry_err("read the tag"))?;
        let mut overwrite = force;
        if let Some(existing) = existing.map(|i| i.digest) {
            if existing == digest {
                self.reporter.status(&format!(
                    "{address} is already published with the same digest; nothing to push."
                ));
                self.note_pushed(&built.repository, &tag, &digest);
                return Ok(PublishOutcome::Unchanged(address));
            }
            if !force && !confirm(&existing) {
                return Err(Error::PublishedDiffers {
                    address: target.to_string(),
                    published: existing,
                    built: digest,
                });
            }
            overwrite = true;
            self.reporter
                .warning(&format!("overwriting {target} (was {existing})"));
        }
        let options = if overwrite {
            PushOptions::new()
        } else {
            PushOptions::new().if_tag_absent_or_same()
        };
        self.push_with_attachments(built, &target)?;
        let report = self
            .runtime
            .block_on(push_to_registry(
                &self.client,
                &built.root,
                &target,
                &options,
                self.reporter.push_reporter(),
            ))
            .map_err(registry_err("push to"))?;
        if let Some(pushed) = &report.digest
            && pushed != &digest
        {
            return Err(Error::Registry {
                action: "verify",
                target: target.to_string(),
                source: Box::new(plinth_registry::Error::VerifyFailed {
                    reference: target.to_string(),
                    expected: digest.clone(),
                    actual: pushed.to_string(),
                }),
            });
        }
        self.note_pushed(&built.repository, &tag, &digest);
        if report.unchanged {
            self.reporter.status(&format!(
                "{address} is already published with the same digest; nothing to push."
            ));
            return Ok(PublishOutcome::Unchanged(address));
        }
        self.reporter
            .status(&format!("Published {address} successfully."));
        Ok(PublishOutcome::Pushed(address))
    }

    /// Pushes the image by digest (no tag yet), then its attestations, whose subjects now
    /// exist: a version tag is only written once both are in the registry.
    fn push_with_attachments(&self, built: &BuiltVersion, target: &Reference) -> Result<()> {
        let attachments = attachments_of(
            self.client.store(),
            built,
            target,
            self.settings.source_date_epoch,
        )?;
        if attachments.is_empty() {
            return Ok(());
        }
        let by_digest = target
            .repository_only()
            .with_digest(built.root.digest.clone());
        self.runtime
            .block_on(push_to_registry(
                &self.client,
                &built.root,
                &by_digest,
                &PushOptions::new(),
                self.reporter.push_reporter(),
            ))
            .map_err(|source| Error::Registry {
                action: "push to",
                target: by_digest.to_string(),
                source: Box::new(source),
            })?;
        let discovery = self
            .runtime
            .block_on(push_attachments(
                &self.client,
                target,
                &attachments,
                self.reporter.push_reporter(),
            ))
            .map_err(|source| Error::Attest {
                action: "attach the attestations of",
                target: by_digest.to_string(),
                source: Box::new(source),
            })?;
        let how = match discovery {
            Some(ReferrersDiscovery::Api) => "found through the referrers API",
            _ => "listed under each manifest's sha256-<digest> tag",
        };
        self.reporter.status(&format!(
            "Attached {} attestations ({}), {how}.",
            attachments.len(),
            attachments
                .iter()
                .map(|a| a.what.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
        Ok(())
    }

    /// Publishes `version` of `repository`: it must have a changelog entry; its own recipe is
    /// built for every platform and checked on every platform; then the checked image is pushed
    /// (see [`PublishOutcome`]), the release record written and the docs regenerated. The
    /// changelog is not touched.
    pub fn publish(
        &self,
        repository: &str,
        version: &Version,
        force: bool,
        confirm: &dyn Fn(&Digest) -> bool,
    ) -> Result<PublishOutcome> {
        let family = self.family(repository)?;
        let repository = family.repository().to_owned();
        self.refuse_substituted_publish(&repository)?;
        let _lock = FamilyLock::try_acquire(self.catalog_dir(), &repository)?;
        let registry = self.history(&repository)?;
        if registry
            .entry(version)
            .and_then(|e| e.changelog_entry())
            .is_none()
        {
            return Err(Error::NoChangelogEntry {
                version: version.clone(),
            });
        }
        let built = self.build_and_check(family, version)?;
        let outcome = self.push_checked(&built, force, confirm)?;
        let mut records = ReleaseRecords::load(self.catalog_dir(), &repository)?;
        records.upsert(VersionRecord::of(&built));
        records.write(self.catalog_dir())?;
        self.write_docs()?;
        Ok(outcome)
    }
}
