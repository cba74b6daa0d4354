//! [`Releaser`]: the state one release command works with (catalog, registry client, target,
//! catalog directory, tag listings) and the [`ReleaseReporter`] it speaks through.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use plinth_catalog::checks::CheckReport;
use plinth_catalog::{
    Catalog, Changelog, Family, PublishedImage, TagSource, VersionHistory, changelog_path,
};
use plinth_executor::Executor;
use plinth_oci::{Digest, Reference};
use plinth_recipe::{BaseResolver, ImageSubstitutions};
use plinth_registry::{Client, TagListOptions};

use crate::error::{Error, Result};
use crate::record::ReleaseRecords;
use crate::runner::ImageChecker;
use crate::tags::ClientTagSource;
use crate::target::Target;

/// What the release operations tell the user. The CLI prints it; libraries never do.
pub trait ReleaseReporter: Send + Sync {
    /// A progress message (the original tool's texts: `Sanity checks passed.`, …).
    fn status(&self, message: &str);
    /// A warning (an unpinned input changed, a tag was ignored, …).
    fn warning(&self, message: &str);
    /// The check reports of one image, one per platform.
    fn check_reports(&self, reports: &[CheckReport]) {
        let _ = reports;
    }
    /// Where build progress goes.
    fn build_reporter(&self) -> Arc<dyn plinth_executor::BuildReporter> {
        Arc::new(plinth_executor::NoReporter)
    }
    /// Where push progress goes.
    fn push_reporter(&self) -> Arc<dyn plinth_registry::TransferReporter> {
        Arc::new(plinth_registry::NoTransferReporter)
    }
}

/// A reporter that only logs (for library users and tests).
#[derive(Clone, Copy, Debug, Default)]
pub struct LogReporter;

impl ReleaseReporter for LogReporter {
    fn status(&self, message: &str) {
        tracing::info!("{message}");
    }

    fn warning(&self, message: &str) {
        tracing::warn!("{message}");
    }
}

/// Where a release command reads and writes, and where it publishes.
#[derive(Clone, Debug)]
pub struct ReleaseSettings {
    /// The catalog directory: `generated/changelogs/`, `generated/inputs/`,
    /// `generated/registry.json` and the catalog `README.md` live below it.
    pub catalog_dir: PathBuf,
    /// The registry (and namespace) families are published to.
    pub target: Target,
    /// How tags are listed (TTL cache, refresh).
    pub tag_options: TagListOptions,
    /// Stand-in images to build from instead of the recipes' own (`--substitute-image`). With
    /// any rule, nothing is published outside a loopback registry.
    pub image_substitutions: ImageSubstitutions,
    /// The `SOURCE_DATE_EPOCH` the executor stamps times with, recorded in the provenance.
    pub source_date_epoch: Option<u64>,
}

impl ReleaseSettings {
    /// Settings for `catalog_dir`, publishing to Docker Hub, with the default listing cache.
    pub fn new(catalog_dir: impl Into<PathBuf>) -> Self {
        Self {
            catalog_dir: catalog_dir.into(),
            target: Target::default(),
            tag_options: TagListOptions::default(),
            image_substitutions: ImageSubstitutions::new(),
            source_date_epoch: None,
        }
    }

    /// Records `epoch` as the builds' `SOURCE_DATE_EPOCH` in their provenance (it is the
    /// executor's setting; this only says what it is).
    pub fn with_source_date_epoch(mut self, epoch: Option<u64>) -> Self {
        self.source_date_epoch = epoch;
        self
    }

    /// Builds from stand-in images (see [`plinth_recipe::substitute`]); such builds are only
    /// ever published to a loopback registry.
    pub fn with_image_substitutions(mut self, substitutions: ImageSubstitutions) -> Self {
        self.image_substitutions = substitutions;
        self
    }

    /// Publishes to `target`.
    pub fn with_target(mut self, target: Target) -> Self {
        self.target = target;
        self
    }

    /// Lists tags with `options`.
    pub fn with_tag_options(mut self, options: TagListOptions) -> Self {
        self.tag_options = options;
        self
    }
}

/// What a releaser builds and checks with.
pub(crate) struct BuildTools {
    pub(crate) executor: Arc<dyn Executor>,
    pub(crate) checker: Arc<dyn ImageChecker>,
    /// Resolves the base images a Dockerfile's stages are read on.
    pub(crate) bases: Arc<dyn BaseResolver>,
}

/// The state of one release command. Each family's tags are listed at most once per
/// `Releaser` (and the listing is cached on disk for the TTL); what this command publishes is
/// added to the listing, so the docs generated at the end need no second listing.
pub struct Releaser {
    pub(crate) catalog: Catalog,
    pub(crate) client: Client,
    pub(crate) settings: ReleaseSettings,
    /// The process's shared runtime ([`plinth_executor::shared_runtime`]).
    pub(crate) runtime: tokio::runtime::Handle,
    pub(crate) reporter: Arc<dyn ReleaseReporter>,
    tools: Option<BuildTools>,
    tags: Mutex<BTreeMap<String, Vec<(String, Digest)>>>,
    pushed: Mutex<std::collections::BTreeSet<String>>,
}

impl std::fmt::Debug for Releaser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Releaser")
            .field("catalog", &self.catalog)
            .field("settings", &self.settings)
            .field("executor", &self.tools.as_ref().map(|t| t.executor.name()))
            .finish_non_exhaustive()
    }
}

impl Releaser {
    /// A releaser over `catalog`, talking to registries with `client` (its credentials and
    /// mirrors are used for listing and pushing alike).
    pub fn new(
        catalog: Catalog,
        client: Client,
        settings: ReleaseSettings,
        reporter: Arc<dyn ReleaseReporter>,
    ) -> Result<Self> {
        let runtime = plinth_executor::shared_runtime().map_err(Error::Runtime)?;
        Ok(Self {
            catalog,
            client,
            settings,
            runtime,
            reporter,
            tools: None,
            tags: Mutex::new(BTreeMap::new()),
            pushed: Mutex::default(),
        })
    }

    /// Builds versions with `executor` (the embedded engine or BuildKit) and checks them with
    /// `checker`. Both must work in the registry client's store, from which pushes read; this is
    /// checked here, once. `bases` resolves the base images of a family's Dockerfile (the
    /// embedded engine, which is also the checker, in practice).
    pub fn with_executor(
        mut self,
        executor: Arc<dyn Executor>,
        checker: Arc<dyn ImageChecker>,
        bases: Arc<dyn BaseResolver>,
    ) -> Result<Self> {
        let client_store = self.client.store().root();
        let what = [
            (format!("{} executor", executor.name()), executor.store()),
            ("checker".to_owned(), checker.store()),
        ];
        for (what, store) in what {
            if store.root() != client_store {
                return Err(Error::OtherStore {
                    what,
                    store: store.root().to_path_buf(),
                    client_store: client_store.to_path_buf(),
                });
            }
        }
        self.tools = Some(BuildTools {
            executor,
            checker,
            bases,
        });
        Ok(self)
    }

    /// What builds and checks versions ([`with_executor`](Self::with_executor)); an error
    /// naming `repository` when there is none.
    pub(crate) fn build_tools(&self, repository: &str) -> Result<&BuildTools> {
        self.tools.as_ref().ok_or_else(|| Error::NoExecutor {
            repository: repository.to_owned(),
        })
    }

    /// The catalog.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The settings.
    pub fn settings(&self) -> &ReleaseSettings {
        &self.settings
    }

    /// The catalog directory.
    pub fn catalog_dir(&self) -> &Path {
        &self.settings.catalog_dir
    }

    /// The registry client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The family of `repository`.
    pub fn family(&self, repository: &str) -> Result<&dyn Family> {
        Ok(self.catalog.get(repository)?)
    }

    /// Refuses (with [`Error::SubstitutedPublish`]) to publish `repository` when images are
    /// substituted and the target registry is not a loopback one.
    pub fn refuse_substituted_publish(&self, repository: &str) -> Result<()> {
        let subs = &self.settings.image_substitutions;
        let registry = self.settings.target.registry();
        if subs.is_empty() || plinth_oci::reference::is_loopback_host(registry) {
            return Ok(());
        }
        Err(Error::SubstitutedPublish {
            repository: repository.to_owned(),
            registry: registry.to_owned(),
            substitutions: subs
                .rules()
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        })
    }

    /// Where `repository` is published (no tag).
    pub fn published_repository(&self, repository: &str) -> Result<Reference> {
        self.settings.target.reference(repository)
    }

    /// The changelog file of `repository`.
    pub fn changelog_path(&self, repository: &str) -> PathBuf {
        changelog_path(&self.settings.catalog_dir, repository)
    }

    /// The tags of `repository` in the target registry (listed once per releaser).
    pub fn tags(&self, repository: &str) -> Result<Vec<(String, Digest)>> {
        // After a push, list once more so the on-disk listing cache holds the new tag too
        // (the next command would otherwise read the listing from before the push).
        if self.pushed.lock().is_ok_and(|mut p| p.remove(repository)) {
            return self.refresh_tags(repository);
        }
        if let Some(tags) = self
            .tags
            .lock()
            .ok()
            .and_then(|t| t.get(repository).cloned())
        {
            return Ok(tags);
        }
        let reference = self.published_repository(repository)?;
        let source = ClientTagSource::new(
            self.client.clone(),
            self.settings.tag_options.clone(),
            self.runtime.clone(),
        );
        let tags = source.list(&reference)?;
        if let Ok(mut cache) = self.tags.lock() {
            cache.insert(repository.to_owned(), tags.clone());
        }
        Ok(tags)
    }

    /// Forgets the listing of `repository` and lists it again, bypassing the disk cache (used
    /// under the family lock, where a stale listing could let two releases pick one version).
    pub fn refresh_tags(&self, repository: &str) -> Result<Vec<(String, Digest)>> {
        if let Ok(mut cache) = self.tags.lock() {
            cache.remove(repository);
        }
        let reference = self.published_repository(repository)?;
        let mut options = self.settings.tag_options.clone();
        options.refresh = true;
        let source = ClientTagSource::new(self.client.clone(), options, self.runtime.clone());
        let tags = source.list(&reference)?;
        if let Ok(mut cache) = self.tags.lock() {
            cache.insert(repository.to_owned(), tags.clone());
        }
        Ok(tags)
    }

    /// Records a tag this command pushed, so later registries include it without listing again.
    pub(crate) fn note_pushed(&self, repository: &str, tag: &str, digest: &Digest) {
        if let Ok(mut cache) = self.tags.lock() {
            let tags = cache.entry(repository.to_owned()).or_default();
            tags.retain(|(t, _)| t != tag);
            tags.push((tag.to_owned(), digest.clone()));
        }
        if let Ok(mut pushed) = self.pushed.lock() {
            pushed.insert(repository.to_owned());
        }
    }

    /// The registry of `repository`: its changelog united with its published tags, each
    /// entry enriched with its root image (from the family) and its per-platform digests (from
    /// the release record, when the record's digest is the published one).
    pub fn history(&self, repository: &str) -> Result<VersionHistory> {
        let family = self.family(repository)?;
        let changelog = Changelog::load(&self.changelog_path(repository))?;
        let tags = self.tags(repository)?;
        let reference = self.published_repository(repository)?;
        let mut registry = VersionHistory::new(&reference, changelog, tags);
        let records = ReleaseRecords::load(self.catalog_dir(), repository)?;
        let versions: Vec<_> = registry
            .entries()
            .iter()
            .map(|e| e.version().clone())
            .collect();
        for version in versions {
            let root = family
                .root_image(&version)
                .and_then(|s| s.reference().cloned())
                .or_else(|| {
                    records
                        .get(&version)
                        .and_then(|r| r.root_image.as_deref())
                        .and_then(|a| a.parse().ok())
                });
            let Some(entry) = registry.entry_mut(&version) else {
                continue;
            };
            if let Some(root) = root {
                entry.set_root_image(root);
            }
            let published = entry.published_image().map(|p| p.digest().clone());
            if let (Some(record), Some(published)) = (records.get(&version), published)
                && record.index_digest == published
            {
                entry.set_platform_digests(record.platforms());
            }
        }
        for ignored in registry.ignored_tags() {
            tracing::debug!(tag = ignored.tag(), note = ignored.note(), "ignored tag");
        }
        Ok(registry)
    }

    /// The address consumers should pin: the latest published version of `repository`, or the
    /// latest stable (not pre-release) published one. Works for any repository of the target
    /// registry; a family's repository is mapped through the target.
    pub fn latest(&self, repository: &str, stable: bool) -> Result<PublishedImage> {
        let registry = match self.catalog.find(repository) {
            Some(f) => self.history(f.repository())?,
            None => {
                let reference = self.settings.target.repository_address(repository)?;
                let source = ClientTagSource::new(
                    self.client.clone(),
                    self.settings.tag_options.clone(),
                    self.runtime.clone(),
                );
                VersionHistory::new(&reference, Changelog::default(), source.list(&reference)?)
            }
        };
        let entry = if stable {
            registry.latest_stable_published()
        } else {
            registry.latest_published()
        };
        entry
            .and_then(|e| e.published_image().cloned())
            .ok_or_else(|| Error::NothingPublished {
                repository: repository.to_owned(),
                what: if stable {
                    "stable published"
                } else {
                    "published"
                },
                registry: registry.repository().registry().to_owned(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn releaser(registry: &str, substitutions: &[&str]) -> (tempfile::TempDir, Releaser) {
        let dir = tempfile::tempdir().unwrap();
        let store = plinth_oci::Store::open(dir.path().join("store")).unwrap();
        let client = Client::builder(store).build().unwrap();
        let settings = ReleaseSettings::new(dir.path().join("catalog"))
            .with_target(Target::new(registry, None))
            .with_image_substitutions(ImageSubstitutions::parse_all(substitutions).unwrap());
        let releaser = Releaser::new(
            plinth_airbyte::catalog(),
            client,
            settings,
            Arc::new(LogReporter),
        )
        .unwrap();
        (dir, releaser)
    }

    #[test]
    fn stand_in_builds_are_publishable_only_to_loopback_registries() {
        let repo = "airbyte/python-connector-base";
        let (_d, r) = releaser("docker.io", &["python=127.0.0.1:5000/standin/python:3.11"]);
        let err = r.refuse_substituted_publish(repo).unwrap_err();
        assert!(err.is_refusal());
        assert_eq!(
            err.to_string(),
            "refusing to publish airbyte/python-connector-base to `docker.io`: this build replaces \
             images with stand-ins (python=127.0.0.1:5000/standin/python:3.11), so it is not the \
             real image; publish stand-in builds only to a loopback registry (`--registry \
             127.0.0.1:PORT`), or drop `--substitute-image` to build the real one"
        );
        let (_d, r) = releaser("registry.example.com:5000", &["bash=oci:/x"]);
        assert!(r.refuse_substituted_publish(repo).is_err());
        for loopback in ["127.0.0.1:5000", "localhost:5000"] {
            let (_d, r) = releaser(loopback, &["python=oci:/x"]);
            assert!(r.refuse_substituted_publish(repo).is_ok(), "{loopback}");
        }
        let (_d, r) = releaser("docker.io", &[]);
        assert!(r.refuse_substituted_publish(repo).is_ok(), "a real build");
    }

    #[test]
    fn the_executor_and_checker_must_work_in_the_client_store() {
        let engine_at = |dir: &Path, name: &str| {
            let store = plinth_oci::Store::open(dir.join(name)).unwrap();
            Arc::new(plinth_engine::Engine::new(plinth_engine::EngineConfig::new(store)).unwrap())
        };
        let (dir, r) = releaser("127.0.0.1:5000", &[]);
        let err = r.build_tools("fam").err().expect("no executor yet");
        assert_eq!(
            err.to_string(),
            "this releaser cannot build fam: it has no executor (`Releaser::with_executor`)"
        );
        let (same, other) = (
            engine_at(dir.path(), "store"),
            engine_at(dir.path(), "other"),
        );
        let err = r
            .with_executor(other.clone(), same.clone(), same.clone())
            .expect_err("another store is refused");
        assert!(
            err.to_string()
                .starts_with("the embedded executor works in the store `"),
            "{err}"
        );

        let (dir, r) = releaser("127.0.0.1:5000", &[]);
        let (same, other) = (
            engine_at(dir.path(), "store"),
            engine_at(dir.path(), "other"),
        );
        let err = r
            .with_executor(same.clone(), other, same)
            .expect_err("refused");
        assert!(err.to_string().starts_with("the checker works in"), "{err}");

        let (dir, r) = releaser("127.0.0.1:5000", &[]);
        let same = engine_at(dir.path(), "store");
        let r = r.with_executor(same.clone(), same.clone(), same).unwrap();
        assert_eq!(r.build_tools("fam").unwrap().executor.name(), "embedded");
    }
}
