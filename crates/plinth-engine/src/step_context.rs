//! [`StepContext`]: what one step runs with, shared by the step kinds (`exec`, `files`).

use plinth_executor::BuildReporter;
use plinth_oci::Platform;

use crate::engine::Inner;

/// What one step runs with.
pub(crate) struct StepContext<'a> {
    pub(crate) engine: &'a Inner,
    /// The platform built for (progress and errors are reported under it).
    pub(crate) platform: &'a Platform,
    pub(crate) index: usize,
    pub(crate) description: &'a str,
    pub(crate) reporter: &'a dyn BuildReporter,
}
