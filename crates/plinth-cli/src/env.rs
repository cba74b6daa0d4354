//! Every environment variable the CLI reads, in one place.

/// Overrides the local store directory (default: the user's cache dir + `plinth`).
pub const PLINTH_HOME: &str = "PLINTH_HOME";
/// Set to any value to never draw progress bars (tests, CI logs).
pub const PLINTH_NO_PROGRESS: &str = "PLINTH_NO_PROGRESS";
/// Docker Hub user name, as the original tool read it.
pub const DOCKER_HUB_USERNAME: &str = "DOCKER_HUB_USERNAME";
/// Docker Hub password or access token, as the original tool read it.
pub const DOCKER_HUB_PASSWORD: &str = "DOCKER_HUB_PASSWORD";
/// Clamps layer mtimes, as reproducible-builds.org defines it.
pub const SOURCE_DATE_EPOCH: &str = "SOURCE_DATE_EPOCH";
/// A CA bundle build steps and runs trust (`--step-ca-bundle`), for TLS-intercepting proxies.
pub const PLINTH_STEP_CA_BUNDLE: &str = "PLINTH_STEP_CA_BUNDLE";
/// Standard log filter override.
pub const RUST_LOG: &str = "RUST_LOG";
