//! [`Engine::build`]: platforms in parallel, then the index and the result refs; the engine as
//! an [`Executor`].

use plinth_executor::{BuildOptions, BuildResult, Executor, PlatformBuild};
use plinth_oci::{ImageIndex, Store};
use plinth_recipe::{Container, Op};

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::platform::check_platform;

/// The default recipe id: the first `from` address, or `scratch`.
fn default_recipe_id(container: &Container) -> String {
    container
        .ops()
        .iter()
        .find_map(|op| match op {
            Op::From { source } => Some(format!("from/{}", source.address())),
            _ => None,
        })
        .unwrap_or_else(|| "scratch".to_owned())
}

impl Engine {
    /// Builds `container` for every platform of `options` (concurrently), writes the images to
    /// the store and points the refs `builds/<recipe id>/image` and [`BuildOptions::tag`] at
    /// the result. Needs root for exec steps.
    pub fn build(&self, container: &Container, options: &BuildOptions) -> Result<BuildResult> {
        container.validate().map_err(Error::Recipe)?;
        if options.platforms.is_empty() {
            return Err(Error::Image("no platform to build for".into()));
        }
        for platform in &options.platforms {
            check_platform(platform)?;
        }
        let inner = &*self.inner;
        // Keep gc away from blobs written before the refs that keep them are set.
        let _lock = inner.store.lock_shared()?;
        options
            .reporter
            .on_build_start(&options.platforms, container.step_count());
        let recipe_id = options
            .recipe_id
            .clone()
            .unwrap_or_else(|| default_recipe_id(container));
        if options.no_cache {
            crate::exec::start_network_ahead_of(inner, container);
        }
        let results: Vec<Result<PlatformBuild>> = std::thread::scope(|s| {
            let handles: Vec<_> = options
                .platforms
                .iter()
                .map(|platform| {
                    let recipe_id = &recipe_id;
                    s.spawn(move || {
                        let span = tracing::info_span!("build", %platform);
                        let _g = span.enter();
                        let settings = crate::steps::BuildSettings {
                            no_cache: options.no_cache,
                            reporter: options.reporter.as_ref(),
                            secrets: &options.secrets,
                            ssh: &options.ssh,
                            allow_host_network: options.allow_host_network
                                || inner.network == plinth_sandbox::NetworkMode::Host,
                            labels: &options.labels,
                        };
                        let build = || {
                            crate::steps::build_platform(
                                inner, container, platform, settings, recipe_id,
                            )
                        };
                        match build() {
                            // The rotten blob is gone from the store by now; a second go
                            // resolves the root again, which fetches it from the image's
                            // source (registry, layout or archive), and steps already done
                            // are cache hits.
                            Err(Error::CorruptLayer { layer, source }) => {
                                tracing::warn!(%layer, "a stored layer was corrupt ({source}) and has been removed; fetching it again from its source");
                                build()
                            }
                            other => other,
                        }
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(Error::Image("a platform build thread panicked".into()))
                    })
                })
                .collect()
        });
        let platforms = results.into_iter().collect::<Result<Vec<_>>>()?;
        let (root, index) = if platforms.len() > 1 {
            let index = ImageIndex::new(
                inner.media_types.index(),
                platforms.iter().map(|p| p.manifest.clone()).collect(),
            );
            let descriptor = inner.store.write_index(&index)?;
            (descriptor.clone(), Some(descriptor))
        } else {
            (platforms[0].manifest.clone(), None)
        };
        crate::cache::set_ref_if_changed(
            &inner.store,
            &format!("builds/{recipe_id}/image"),
            &root,
        )?;
        if let Some(tag) = &options.tag {
            crate::cache::set_ref_if_changed(&inner.store, tag, &root)?;
        }
        Ok(BuildResult {
            root,
            index,
            platforms,
        })
    }
}

impl Executor for Engine {
    fn name(&self) -> &'static str {
        "embedded"
    }

    fn store(&self) -> &Store {
        Engine::store(self)
    }

    fn build(
        &self,
        container: &Container,
        options: &BuildOptions,
    ) -> plinth_executor::Result<BuildResult> {
        Engine::build(self, container, options).map_err(plinth_executor::Error::build)
    }
}
