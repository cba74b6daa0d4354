//! Helper containers: the stages a build copies from (`COPY --from`), mounts
//! (`RUN --mount=from=`) or seeds a cache from (`RUN --mount=type=cache,from=`). They do not
//! depend on each other, so they are built concurrently before the steps run, as BuildKit
//! solves independent stages in parallel; each is built once.

use std::collections::BTreeMap;

use plinth_executor::{NoReporter, PlatformBuild};
use plinth_recipe::{Container, HelperRole};

use super::{BuildSettings, PlatformBuilder, build_platform};
use crate::error::{Error, Result};

/// The helper containers of `container`'s steps, by the name [`PlatformBuilder::build_helper`]
/// gives them.
fn helpers_of(container: &Container) -> Vec<(String, &Container)> {
    let mut out = Vec::new();
    for (index, op) in container.ops().iter().enumerate() {
        for (role, helper) in op.helpers() {
            out.push((helper_name(index, role), helper));
        }
    }
    out
}

/// The name a helper of step `index` is built under in this build.
pub(super) fn helper_name(index: usize, role: HelperRole) -> String {
    match role {
        HelperRole::Copy => format!("helper-{index}"),
        HelperRole::Mount(n) => format!("mount-{index}-{n}"),
        HelperRole::CacheSeed => format!("cache-{index}"),
    }
}

impl PlatformBuilder<'_> {
    /// Builds every helper of `container` at once when there are several.
    pub(super) fn prebuild_helpers(&mut self, container: &Container) -> Result<()> {
        // The same stage used twice is built once.
        let mut helpers: Vec<(Vec<String>, &Container)> = Vec::new();
        for (name, helper) in helpers_of(container) {
            match helpers.iter_mut().find(|(_, c)| *c == helper) {
                Some((names, _)) => names.push(name),
                None => helpers.push((vec![name], helper)),
            }
        }
        if helpers.len() < 2 {
            return Ok(());
        }
        let (engine, platform, recipe_id) = (self.engine, self.target, self.recipe_id);
        let settings = BuildSettings {
            reporter: &NoReporter,
            labels: &super::NO_LABELS,
            ..self.settings
        };
        let built: Vec<(Vec<String>, Result<PlatformBuild>)> = std::thread::scope(|scope| {
            let handles: Vec<_> = helpers
                .iter()
                .map(|(names, helper)| {
                    let id = format!("{recipe_id}/{}", names[0]);
                    let handle = scope
                        .spawn(move || build_platform(engine, helper, platform, settings, &id));
                    (names.clone(), handle)
                })
                .collect();
            handles
                .into_iter()
                .map(|(names, handle)| {
                    let result = handle.join().unwrap_or_else(|_| {
                        Err(Error::Image("a helper build thread panicked".into()))
                    });
                    (names, result)
                })
                .collect()
        });
        let mut ready = BTreeMap::new();
        for (names, result) in built {
            let build = result?;
            for name in names {
                ready.insert(name, build.clone());
            }
        }
        self.helpers = ready;
        Ok(())
    }

    /// Builds a helper container (a stage of `COPY --from` or `RUN --mount=from=`) for the
    /// build's platform (its steps on its own platform when it has one), quietly, unless it was
    /// built ahead.
    pub(super) fn build_helper(
        &mut self,
        container: &Container,
        name: &str,
    ) -> Result<PlatformBuild> {
        let helper = match self.helpers.remove(name) {
            Some(built) => built,
            None => {
                let settings = BuildSettings {
                    reporter: &NoReporter,
                    labels: &super::NO_LABELS,
                    ..self.settings
                };
                build_platform(
                    self.engine,
                    container,
                    self.target,
                    settings,
                    &format!("{}/{name}", self.recipe_id),
                )?
            }
        };
        // What the helper downloaded went into this image too.
        self.url_inputs.extend(helper.url_inputs.clone());
        self.inputs.extend(helper.inputs.iter().cloned());
        Ok(helper)
    }
}
