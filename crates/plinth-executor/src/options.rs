//! [`BuildOptions`]: what an [`Executor`](crate::Executor) builds and how.

use std::collections::BTreeMap;
use std::sync::Arc;

use plinth_oci::Platform;

use crate::report::{BuildReporter, NoReporter};
use crate::secrets::BuildSecrets;
use crate::ssh::BuildSsh;

/// What to build and how.
#[derive(Clone)]
pub struct BuildOptions {
    /// The platforms to build (default: the host's). They build concurrently.
    pub platforms: Vec<Platform>,
    /// Run every step even when the cache has it.
    pub no_cache: bool,
    /// A stable name for the recipe (`python:3.0.0`, a Dockerfile path): the last build under the
    /// same name is what `explain` texts compare against. Default: derived from the first `from`.
    pub recipe_id: Option<String>,
    /// A store ref name to point at the result (for `plinth run`, export and push).
    pub tag: Option<String>,
    /// Labels set in the result's config (`plinth build --label`), as BuildKit's `--label`
    /// sets them: in the final image only, with no history entry and no effect on step keys.
    pub labels: BTreeMap<String, String>,
    /// Progress events.
    pub reporter: Arc<dyn BuildReporter>,
    /// Secrets `RUN --mount=type=secret` steps may use (never in a layer, key or log).
    pub secrets: BuildSecrets,
    /// SSH agents `RUN --mount=type=ssh` steps may use (only a socket reaches the step).
    pub ssh: BuildSsh,
    /// Whether steps may ask for the host's network (`RUN --network=host`; BuildKit's
    /// `network.host` entitlement, docker's `--allow network.host`).
    pub allow_host_network: bool,
}

impl std::fmt::Debug for BuildOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuildOptions")
            .field("platforms", &self.platforms)
            .field("no_cache", &self.no_cache)
            .field("recipe_id", &self.recipe_id)
            .field("tag", &self.tag)
            .field("secrets", &self.secrets.ids().collect::<Vec<_>>())
            .field("ssh", &self.ssh.ids().collect::<Vec<_>>())
            .field("allow_host_network", &self.allow_host_network)
            .field("labels", &self.labels)
            .finish_non_exhaustive()
    }
}

impl Default for BuildOptions {
    fn default() -> Self {
        Self {
            platforms: vec![Platform::host()],
            no_cache: false,
            recipe_id: None,
            tag: None,
            labels: BTreeMap::new(),
            reporter: Arc::new(NoReporter),
            secrets: BuildSecrets::new(),
            ssh: BuildSsh::new(),
            allow_host_network: false,
        }
    }
}

impl BuildOptions {
    /// Builds for `platforms`, with the cache, without a reporter.
    pub fn new(platforms: impl IntoIterator<Item = Platform>) -> Self {
        Self {
            platforms: platforms.into_iter().collect(),
            ..Self::default()
        }
    }

    /// Sets [`BuildOptions::no_cache`].
    pub fn with_no_cache(mut self, no_cache: bool) -> Self {
        self.no_cache = no_cache;
        self
    }

    /// Sets [`BuildOptions::recipe_id`].
    pub fn with_recipe_id(mut self, id: impl Into<String>) -> Self {
        self.recipe_id = Some(id.into());
        self
    }

    /// Sets [`BuildOptions::tag`].
    pub fn with_tag(mut self, tag: impl Into<String>) -> Self {
        self.tag = Some(tag.into());
        self
    }

    /// Sets [`BuildOptions::secrets`].
    pub fn with_secrets(mut self, secrets: BuildSecrets) -> Self {
        self.secrets = secrets;
        self
    }

    /// Sets [`BuildOptions::ssh`].
    pub fn with_ssh(mut self, ssh: BuildSsh) -> Self {
        self.ssh = ssh;
        self
    }

    /// Sets [`BuildOptions::allow_host_network`].
    pub fn with_host_network_allowed(mut self, allowed: bool) -> Self {
        self.allow_host_network = allowed;
        self
    }

    /// Adds a label to [`BuildOptions::labels`].
    pub fn with_label(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(name.into(), value.into());
        self
    }

    /// Sets [`BuildOptions::reporter`].
    pub fn with_reporter(mut self, reporter: Arc<dyn BuildReporter>) -> Self {
        self.reporter = reporter;
        self
    }
}
