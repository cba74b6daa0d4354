//! Which engine builds: `--engine embedded|buildkit` and the BuildKit options, shared by
//! `build`, `generate-release` and `publish`.

use std::sync::Arc;

use clap::{Args, ValueEnum};
use plinth_buildkit::{BuildkitBackend, BuildkitConfig, DockerHostAssignment};
use plinth_engine::Engine;
use plinth_executor::{Executor, UrlMirror};
use plinth_oci::Store;

/// The engine options of the commands that build.
#[derive(Clone, Debug, Default, Args)]
pub struct EngineArgs {
    /// Which engine builds: the embedded, daemonless one, or BuildKit (through a Docker Engine).
    /// With BuildKit, root images and URL inputs are fetched by plinth as with the embedded
    /// engine (`--registry-mirror` and `--url-mirror` apply; roots from Debian's archive are
    /// bootstrapped here) and roots are handed to the builder with `docker load`; sanity
    /// checks, pushes and digests work the same with both.
    #[arg(long, value_enum, default_value_t)]
    pub engine: EngineKind,
    /// BuildKit: build PLATFORM on this builder (`local`, `ssh://host`, `tcp://host:port`,
    /// `unix:///path` or a docker context name); repeatable.
    #[arg(long = "builder", value_name = "PLATFORM=BUILDER")]
    pub builders: Vec<DockerHostAssignment>,
    /// BuildKit: import the build cache from this registry reference.
    #[arg(long, value_name = "REF")]
    pub cache_from: Option<String>,
    /// BuildKit: export the build cache to this registry reference.
    #[arg(long, value_name = "REF")]
    pub cache_to: Option<String>,
    /// `plinth build --pull`: BuildKit is given `--pull` too (set by the command, not a flag here).
    #[arg(skip)]
    pub always_pull: bool,
}

/// The build engines.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum EngineKind {
    /// The embedded engine: namespaces, overlayfs and a step cache; no daemon.
    #[default]
    Embedded,
    /// BuildKit, driven through the docker CLI (`DOCKER_BUILDKIT=1 docker build` or buildx).
    Buildkit,
}

impl EngineArgs {
    /// What builds: BuildKit writing into `engine`'s store and reading URL inputs through
    /// `url_mirrors` (the `--url-mirror`s `engine` was given), or `engine` itself.
    pub fn executor(
        &self,
        engine: &Engine,
        url_mirrors: Vec<UrlMirror>,
    ) -> anyhow::Result<Arc<dyn Executor>> {
        let roots: Arc<dyn plinth_executor::RootManifests> = Arc::new(engine.clone());
        Ok(
            match self.buildkit(engine.store().clone(), url_mirrors, Some(roots))? {
                // The engine resolves roots (it already read their configs for the Dockerfile)
                // and the builder is handed them: nothing is pulled twice, and Debian roots
                // build too.
                Some(backend) => Arc::new(backend.with_roots(Arc::new(engine.clone()))),
                None => Arc::new(engine.clone()),
            },
        )
    }

    /// The BuildKit backend over `store` with `--builder`, `--cache-from`, `--cache-to` and the
    /// global `--url-mirror`s (`url_mirrors`), or `None` for the embedded engine (which refuses
    /// the BuildKit-only options rather than ignoring them).
    fn buildkit(
        &self,
        store: Store,
        url_mirrors: Vec<UrlMirror>,
        roots: Option<Arc<dyn plinth_executor::RootManifests>>,
    ) -> anyhow::Result<Option<BuildkitBackend>> {
        if self.engine == EngineKind::Embedded {
            let given: Vec<&str> = [
                (!self.builders.is_empty()).then_some("--builder"),
                self.cache_from.is_some().then_some("--cache-from"),
                self.cache_to.is_some().then_some("--cache-to"),
            ]
            .into_iter()
            .flatten()
            .collect();
            if !given.is_empty() {
                return Err(crate::exit_status::usage_error(format!(
                    "{} only apply to BuildKit builds; add `--engine buildkit` or drop them",
                    given.join(", ")
                )));
            }
            return Ok(None);
        }
        let mut config = BuildkitConfig::new(store)
            .with_url_mirrors(url_mirrors)
            .with_always_pull(self.always_pull)
            .with_source_date_epoch(Some(crate::settings::build_epoch()?));
        if let Some(roots) = roots {
            config = config.with_root_manifests(roots);
        }
        for assignment in &self.builders {
            config = config.with_builder(assignment.clone());
        }
        if let Some(r) = &self.cache_from {
            config = config.with_cache_from(r.clone());
        }
        if let Some(r) = &self.cache_to {
            config = config.with_cache_to(r.clone());
        }
        Ok(Some(BuildkitBackend::new(config)?))
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cmd {
        #[command(flatten)]
        engine: EngineArgs,
    }

    #[test]
    fn embedded_is_the_default_and_refuses_buildkit_options() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let cmd = Cmd::try_parse_from(["x"]).unwrap();
        assert_eq!(cmd.engine.engine, EngineKind::Embedded);
        assert!(
            cmd.engine
                .buildkit(store.clone(), Vec::new(), None)
                .unwrap()
                .is_none()
        );
        let cmd = Cmd::try_parse_from([
            "x",
            "--builder",
            "linux/arm64=ssh://arm",
            "--cache-to",
            "r/c",
        ])
        .unwrap();
        let err = cmd.engine.buildkit(store, Vec::new(), None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--builder, --cache-to only apply to BuildKit builds; add `--engine buildkit` or drop them"
        );
        let cmd = Cmd::try_parse_from([
            "x",
            "--engine",
            "buildkit",
            "--builder",
            "linux/arm64=ssh://arm",
        ])
        .unwrap();
        assert_eq!(cmd.engine.engine, EngineKind::Buildkit);
        assert_eq!(cmd.engine.builders.len(), 1);
    }

    #[test]
    fn buildkit_reads_urls_through_the_url_mirrors() {
        // Detecting the docker client needs one.
        if !plinth_test::require_external(plinth_test::External::Docker) {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mirrors: Vec<UrlMirror> = vec!["https://dl.example/=/srv/mirror".parse().unwrap()];
        let cmd = Cmd::try_parse_from(["x", "--engine", "buildkit"]).unwrap();
        let backend = cmd
            .engine
            .buildkit(store, mirrors.clone(), None)
            .unwrap()
            .expect("a BuildKit backend");
        assert_eq!(backend.url_fetcher().mirrors(), mirrors.as_slice());
    }
}
