//! [`BuildkitBackend`]: per platform, prepare → render → context → `docker build` → `docker save`
//! → store; then one index over the platforms, as the embedded engine makes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use plinth_executor::{
    BuildOptions, BuildResult, Executor, PlatformBuild, RootManifests, RootResolver, UrlFetcher,
    UrlMirror,
};
use plinth_oci::{Digest, ImageIndex, MediaType, Platform, Store};
use plinth_recipe::{BuildableDockerfile, BuildableOptions, Container};

use crate::docker::{DockerCli, run_with_timeout, tail};
use crate::docker_host::{DockerHost, DockerHostAssignment, DockerHostInfo};
use crate::error::{Error, Result};
use crate::prepare::{Prepared, Preparer};
use crate::progress::ProgressReader;
use crate::roots::LoadedRoot;
use names::{default_recipe_id, docker_arch, platform_slug, unique_suffix};

/// How long a builder may take to answer `docker info` (ssh connections included).
pub(crate) const INFO_TIMEOUT: Duration = Duration::from_secs(60);
/// How long moving an image out of a daemon or into a registry may take.
const TRANSFER_TIMEOUT: Duration = Duration::from_secs(3600);

/// How a [`BuildkitBackend`] builds. Start from [`BuildkitConfig::new`].
#[derive(Clone, Debug)]
pub struct BuildkitConfig {
    store: Store,
    docker: Option<DockerCli>,
    default_builder: DockerHost,
    builders: Vec<DockerHostAssignment>,
    buildable: BuildableOptions,
    cache_from: Vec<String>,
    cache_to: Option<String>,
    work_dir: Option<PathBuf>,
    url_mirrors: Vec<UrlMirror>,
    always_pull: bool,
    root_manifests: Option<Arc<dyn RootManifests>>,
    roots: Option<Roots>,
    source_date_epoch: Option<u64>,
}

/// The [`RootResolver`] of [`BuildkitConfig::with_roots`] (a trait object, named in `Debug`).
#[derive(Clone)]
struct Roots(Arc<dyn RootResolver>);

impl std::fmt::Debug for Roots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Roots(dyn RootResolver)")
    }
}

impl BuildkitConfig {
    /// Builds into `store` on the local daemon, with the detected docker client.
    pub fn new(store: Store) -> Self {
        Self {
            store,
            docker: None,
            default_builder: DockerHost::Local,
            builders: Vec::new(),
            buildable: BuildableOptions::new(),
            cache_from: Vec::new(),
            cache_to: None,
            work_dir: None,
            url_mirrors: Vec::new(),
            always_pull: false,
            root_manifests: None,
            roots: None,
            source_date_epoch: None,
        }
    }

    /// Makes builds reproducible as the embedded engine's are, whatever the daemon stamps:
    /// each result is rewritten while it is imported, every layer mtime later than `epoch`
    /// clamped to it and the config's `created` times set to it (what BuildKit 0.13's
    /// `rewrite-timestamp` does, for daemons that ignore `SOURCE_DATE_EPOCH`). Without it the
    /// image is imported as the daemon made it.
    pub fn with_source_date_epoch(mut self, epoch: Option<u64>) -> Self {
        self.source_date_epoch = epoch;
        self
    }

    /// Reads which platform manifest the digest BuildKit resolved a root to names (an index's
    /// for a multi-platform root) through `roots`, so the provenance records the platform
    /// manifest digest as the embedded engine's does (the index digest beside it). Without
    /// it, the digest BuildKit printed is recorded as is. Roots handed to the builder
    /// ([`with_roots`](Self::with_roots)) are recorded as their resolver found them instead.
    pub fn with_root_manifests(mut self, roots: Arc<dyn RootManifests>) -> Self {
        self.root_manifests = Some(roots);
        self
    }

    /// Resolves every root with `resolver` into the store (the embedded engine: pulled, imported
    /// or bootstrapped from Debian's archive) and hands it to each builder with `docker load`,
    /// under a local name made of its config digest, instead of letting the builder pull it:
    /// a root is fetched once, by plinth, and roots no registry serves build too. Without it
    /// builders pull registry roots themselves and refuse the others.
    pub fn with_roots(mut self, resolver: Arc<dyn RootResolver>) -> Self {
        self.roots = Some(Roots(resolver));
        self
    }

    /// Passes `--pull` to the builder: root images are looked up in their registry on every
    /// build, never taken from the builder's image store alone. With
    /// [`with_roots`](Self::with_roots) the resolver looks roots up instead (the builder is
    /// handed what it found), and `--pull` is not passed.
    pub fn with_always_pull(mut self, always: bool) -> Self {
        self.always_pull = always;
        self
    }

    /// Uses this docker client instead of probing for one.
    pub fn with_docker(mut self, docker: DockerCli) -> Self {
        self.docker = Some(docker);
        self
    }

    /// The builder of platforms without an assignment (default: [`DockerHost::Local`]).
    pub fn with_default_builder(mut self, builder: DockerHost) -> Self {
        self.default_builder = builder;
        self
    }

    /// Builds `assignment.platform` on `assignment.builder` (`--builder linux/arm64=ssh://arm`).
    /// A later assignment of the same platform wins.
    pub fn with_builder(mut self, assignment: DockerHostAssignment) -> Self {
        self.builders.push(assignment);
        self
    }

    /// Numeric ids for a cache-mount owner name (`RUN --mount` needs numbers).
    pub fn with_owner_ids(mut self, owner: impl Into<String>, uid: u32, gid: u32) -> Self {
        self.buildable = self.buildable.with_owner_ids(owner, uid, gid);
        self
    }

    /// Imports BuildKit's cache from a registry image before building (`--cache-from`). Each
    /// platform uses `REF` with `-<arch>` appended to its tag (tag `buildcache` when none).
    pub fn with_cache_from(mut self, reference: impl Into<String>) -> Self {
        self.cache_from.push(reference.into());
        self
    }

    /// Pushes each platform's result with its inline cache to a registry image (per-platform
    /// tags as in [`with_cache_from`](Self::with_cache_from)), for other builders to import.
    pub fn with_cache_to(mut self, reference: impl Into<String>) -> Self {
        self.cache_to = Some(reference.into());
        self
    }

    /// Reads URL inputs through these mirrors (`--url-mirror PREFIX=URL|DIR`), as the embedded
    /// engine does: URLs are fetched on this machine by the engine's
    /// [`UrlFetcher`], never by the builders. Adds to earlier ones.
    pub fn with_url_mirrors(mut self, mirrors: impl IntoIterator<Item = UrlMirror>) -> Self {
        self.url_mirrors.extend(mirrors);
        self
    }

    /// Where build contexts are written (default: the system temp dir).
    pub fn with_work_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.work_dir = Some(dir.into());
        self
    }
}

/// Builds recipes with BuildKit, through the Docker Engine of each platform's builder.
#[derive(Clone, Debug)]
pub struct BuildkitBackend {
    config: BuildkitConfig,
    docker: DockerCli,
    fetcher: UrlFetcher,
}

impl BuildkitBackend {
    /// A backend over `config`; finds the docker client unless one was given.
    pub fn new(config: BuildkitConfig) -> Result<Self> {
        let docker = match &config.docker {
            Some(d) => d.clone(),
            None => DockerCli::detect()?,
        };
        let fetcher = UrlFetcher::new(&config.store, config.url_mirrors.clone());
        Ok(Self {
            config,
            docker,
            fetcher,
        })
    }

    /// The backend with [`BuildkitConfig::with_roots`]: roots resolved by `resolver` and
    /// handed to the builders.
    #[must_use]
    pub fn with_roots(mut self, resolver: Arc<dyn RootResolver>) -> Self {
        self.config.roots = Some(Roots(resolver));
        self
    }

    /// The store results land in.
    pub fn store(&self) -> &Store {
        &self.config.store
    }

    /// The fetcher of URL inputs (the one both executors use, with the configured mirrors).
    pub fn url_fetcher(&self) -> &UrlFetcher {
        &self.fetcher
    }

    /// The docker client in use.
    pub fn docker(&self) -> &DockerCli {
        &self.docker
    }

    /// The builder of `platform`.
    pub fn builder_for(&self, platform: &Platform) -> &DockerHost {
        self.config
            .builders
            .iter()
            .rev()
            .find(|a| a.platform == *platform || platform.matches(&a.platform))
            .map_or(&self.config.default_builder, |a| &a.builder)
    }

    /// Asks the builder of `platform` who it is; an unreachable builder is an error naming it.
    pub fn check_builder(&self, platform: &Platform) -> Result<DockerHostInfo> {
        let builder = self.builder_for(platform);
        let mut cmd = self.docker.command(builder);
        cmd.args([
            "info",
            "--format",
            "{{.ServerVersion}} {{.OSType}}/{{.Architecture}}",
        ]);
        let unreachable = |detail: String| Error::BuilderUnreachable {
            builder: builder.to_string(),
            platform: platform.to_string(),
            check: builder.check_command(),
            detail,
        };
        let out =
            run_with_timeout(&mut cmd, INFO_TIMEOUT).map_err(|e| unreachable(e.to_string()))?;
        let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        if !out.status.success() || text.is_empty() || text.starts_with(' ') {
            return Err(unreachable(tail(&out.stderr, 3)));
        }
        let (server_version, native) = text.split_once(' ').unwrap_or((&text, ""));
        let native_platform = match native.split_once('/') {
            Some((os, arch)) => format!("{os}/{}", docker_arch(arch)),
            None => native.to_owned(),
        };
        Ok(DockerHostInfo {
            builder: builder.clone(),
            server_version: server_version.to_owned(),
            native_platform,
        })
    }

    /// The Dockerfile [`build`](Self::build) hands to the builder of `platform` for
    /// `container`: the recipe rewritten for that builder (URL inputs fetched here and copied
    /// from the context, file modes explicit, `RUN --network=none` dropped on daemons without
    /// it). Like a build, it asks the builder for its version and fetches the URL inputs.
    pub fn dockerfile(&self, container: &Container, platform: &Platform) -> Result<String> {
        container.validate().map_err(Error::Recipe)?;
        let info = self.check_builder(platform)?;
        let _lock = self.config.store.lock_shared()?;
        let fetched = crate::prepare::fetch_urls(container, &self.fetcher)?;
        let work = self.work_dir()?;
        let (_, rendered) =
            self.render(container, &info, &fetched, &BTreeMap::new(), work.path())?;
        Ok(rendered.text)
    }

    /// Builds `container` for every platform of `options` (concurrently, each on its builder),
    /// imports the results into the store and points `builds/<recipe id>/image` and
    /// [`BuildOptions::tag`] at the result. Each platform's
    /// [`steps`](PlatformBuild::steps) are the steps BuildKit reported (config-only steps have
    /// none, nor has a `FROM` that BuildKit names after a helper stage sharing it), its [`warnings`](PlatformBuild::warnings) what was weakened for its builder.
    /// [`builder_for`](Self::builder_for) names the builder of a platform and
    /// [`dockerfile`](Self::dockerfile) renders what it was given.
    pub fn build(&self, container: &Container, options: &BuildOptions) -> Result<BuildResult> {
        container.validate().map_err(Error::Recipe)?;
        if options.platforms.is_empty() {
            return Err(Error::Step {
                index: 0,
                reason: "no platform to build for".into(),
            });
        }
        let store = &self.config.store;
        let _lock = store.lock_shared()?;
        options
            .reporter
            .on_build_start(&options.platforms, container.step_count());
        let fetched = crate::prepare::fetch_urls(container, &self.fetcher)?;
        let fetched = &fetched;
        let results: Vec<Result<PlatformBuild>> = std::thread::scope(|s| {
            let handles: Vec<_> = options
                .platforms
                .iter()
                .map(|platform| {
                    s.spawn(move || {
                        let span = tracing::info_span!("buildkit", %platform);
                        let _g = span.enter();
                        self.build_platform(container, platform, options, fetched)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(Error::Step {
                            index: 0,
                            reason: "a platform build thread panicked".into(),
                        })
                    })
                })
                .collect()
        });
        let platforms = results.into_iter().collect::<Result<Vec<_>>>()?;
        let (root, index) = if platforms.len() > 1 {
            let index = ImageIndex::new(
                MediaType::OciIndex,
                platforms.iter().map(|p| p.manifest.clone()).collect(),
            );
            let d = store.write_index(&index)?;
            (d.clone(), Some(d))
        } else {
            (platforms[0].manifest.clone(), None)
        };
        let recipe_id = options
            .recipe_id
            .clone()
            .unwrap_or_else(|| default_recipe_id(container));
        store.set_ref(&format!("builds/{recipe_id}/image"), &root)?;
        if let Some(tag) = &options.tag {
            store.set_ref(tag, &root)?;
        }
        Ok(BuildResult {
            root,
            index,
            platforms,
        })
    }

    fn build_platform(
        &self,
        container: &Container,
        platform: &Platform,
        options: &BuildOptions,
        fetched: &BTreeMap<String, Digest>,
    ) -> Result<PlatformBuild> {
        let builder = self.builder_for(platform).clone();
        let info = self.check_builder(platform)?;
        tracing::info!(%builder, version = %info.server_version, native = %info.native_platform, "builder");
        let loaded = match &self.config.roots {
            Some(Roots(resolver)) => crate::roots::load_roots(
                resolver.as_ref(),
                &self.config.store,
                &self.docker,
                &builder,
                container,
                platform,
            )?,
            None => BTreeMap::new(),
        };
        let work = self.work_dir()?;
        // Steps are numbered without the history entries (`history.rs` puts them back).
        let (steps, _) = plinth_recipe::history::split_entries(container);
        let (prepared, rendered) = self.render(&steps, &info, fetched, &loaded, work.path())?;
        for w in &prepared.warnings {
            tracing::warn!(%platform, "{w}");
        }
        tracing::debug!(%platform, %builder, dockerfile = %rendered.text, "generated Dockerfile");
        let context = work.path().join("context");
        std::fs::create_dir(&context).map_err(Error::io("create", &context))?;
        crate::context::materialise(&context, &rendered)?;

        let tag = format!(
            "plinth-buildkit/{}:{}-{}",
            &Digest::of(rendered.text.as_bytes()).hex()[..16],
            platform_slug(platform),
            unique_suffix()
        );
        let mut cmd = self.build_command(&builder, platform, options.no_cache, &tag, &context);
        self.add_option_flags(&mut cmd, &prepared, options, &info, work.path())?;
        let mut reader = ProgressReader::new(
            platform,
            builder.to_string(),
            &prepared.container,
            &rendered.text,
            options.reporter.as_ref(),
        )
        .with_redactions(
            prepared
                .container
                .secret_ids()
                .iter()
                .filter_map(|id| options.secrets.get(id)?.redaction())
                .collect(),
        );
        self.run_build(cmd, platform, &mut reader)?;
        let resolved_roots = reader.resolved_roots();
        let steps = reader.into_reports();
        let imported = self.import_and_untag(&builder, &tag, work.path(), platform)?;
        let (manifest_descriptor, manifest, config_descriptor, config) = crate::history::restore(
            &self.config.store,
            (
                container,
                &crate::history::Generated {
                    text: &rendered.text,
                    context: &context,
                },
            ),
            &loaded,
            (platform, self.config.source_date_epoch),
            imported,
        )?;
        let inputs = crate::inputs::build_inputs(
            container,
            &crate::inputs::RootDigests {
                resolved: &resolved_roots,
                platform,
                manifests: self.config.root_manifests.as_deref(),
                loaded: &loaded,
            },
        )?;
        let build = PlatformBuild::new(
            platform.clone(),
            manifest_descriptor,
            &manifest,
            config_descriptor,
            config,
            steps,
            prepared.url_inputs,
        )
        .map_err(|source| Error::Import {
            builder: builder.to_string(),
            platform: platform.to_string(),
            source: Box::new(source),
        })?;
        Ok(build.with_warnings(prepared.warnings).with_inputs(inputs))
    }

    /// A fresh temp dir for one build's context and downloads, under the configured work dir.
    fn work_dir(&self) -> Result<tempfile::TempDir> {
        match &self.config.work_dir {
            Some(dir) => {
                std::fs::create_dir_all(dir).map_err(Error::io("create", dir))?;
                tempfile::Builder::new()
                    .prefix("plinth-bk-")
                    .tempdir_in(dir)
                    .map_err(Error::io("create a temp dir in", dir))
            }
            None => tempfile::Builder::new()
                .prefix("plinth-bk-")
                .tempdir()
                .map_err(Error::io("create a temp dir in", std::env::temp_dir())),
        }
    }

    /// `container` rewritten for the builder `info` describes (downloads linked under `work`,
    /// roots the builder was handed named by their `loaded` names) and rendered as a buildable
    /// Dockerfile.
    fn render(
        &self,
        container: &Container,
        info: &DockerHostInfo,
        fetched: &BTreeMap<String, Digest>,
        loaded: &BTreeMap<String, LoadedRoot>,
        work: &Path,
    ) -> Result<(Prepared, BuildableDockerfile)> {
        let prepared = Preparer {
            fetcher: &self.fetcher,
            fetched,
            loaded,
            download_dir: &work.join("downloads"),
            keep_network_none: info.supports_network_flag(),
        }
        .prepare(container)?;
        let rendered = prepared
            .container
            .buildable_dockerfile(&self.config.buildable.clone().without_syntax_header())
            .map_err(Error::Recipe)?;
        Ok((prepared, rendered))
    }
}

impl Executor for BuildkitBackend {
    fn name(&self) -> &'static str {
        "buildkit"
    }

    fn store(&self) -> &Store {
        BuildkitBackend::store(self)
    }

    fn build(
        &self,
        container: &Container,
        options: &BuildOptions,
    ) -> plinth_executor::Result<BuildResult> {
        BuildkitBackend::build(self, container, options).map_err(plinth_executor::Error::build)
    }
}

mod docker_build;
mod names;
#[cfg(test)]
mod tests;
