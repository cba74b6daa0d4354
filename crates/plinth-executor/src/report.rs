//! Build progress ([`BuildReporter`]) and per-step reports ([`StepReport`]). Libraries report,
//! the CLI draws.

use std::time::Duration;

use plinth_oci::{Descriptor, Digest, Platform};
use serde::{Deserialize, Serialize};

/// Whether a step came from the cache or ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheStatus {
    /// Reused from the cache (or nothing to build): nothing ran.
    Hit,
    /// Built: a command ran, a file was written, an image was pulled.
    Miss,
}

/// What happened to one step of one platform.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepReport {
    /// 0-based index of the operation in the recipe.
    pub index: usize,
    /// A one-line description (`RUN ["apt-get","update"]`, `ENV A=b`, `FROM busybox`).
    pub description: String,
    /// Hit or miss.
    pub status: CacheStatus,
    /// Wall time of the step.
    #[serde(with = "duration_ms")]
    pub duration: Duration,
    /// The step's cache key.
    pub key: Digest,
    /// Why the step hit or missed (always filled; `--explain` prints it).
    pub explanation: String,
    /// The layer the step added, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<Descriptor>,
}

/// Receives build progress from an executor. Every method has an empty default; implementations are called from
/// the platform build threads, possibly at once, and must not block for long.
pub trait BuildReporter: Send + Sync {
    /// A build of `platforms` starts; each platform runs `steps` steps (one per operation of
    /// the recipe). Called once per [`Executor::build`](crate::Executor::build), before any step.
    fn on_build_start(&self, platforms: &[Platform], steps: usize) {
        let _ = (platforms, steps);
    }

    /// A step starts.
    fn on_step_start(&self, platform: &Platform, index: usize, description: &str) {
        let _ = (platform, index, description);
    }

    /// One line of a running step's output (stdout and stderr, without the newline).
    fn on_step_output(&self, platform: &Platform, index: usize, line: &str) {
        let _ = (platform, index, line);
    }

    /// A step is done (its report says hit or miss, the duration and why).
    fn on_step_done(&self, platform: &Platform, report: &StepReport) {
        let _ = (platform, report);
    }
}

/// A reporter that ignores everything.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoReporter;

impl BuildReporter for NoReporter {}

mod duration_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}
