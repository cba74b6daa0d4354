//! The "Dockerfile example" view: the documentation text the original tool stored in its
//! changelog and README.
//!
//! The rule, read from the published examples: `FROM <address as written>`, `RUN ` + argv joined
//! with single spaces (no quoting), `ENV name=value` and `LABEL name=value` (unquoted), every other
//! operation omitted (helper containers too), lines joined with `\n`, no trailing newline.
//!
//! The view is lossy and not executable: a flattened `sh -c a && b` runs only `a` under a shell.
//! Use [`crate::buildable`] for a Dockerfile that builds.

use crate::Container;
use crate::op::Op;

/// Renders the example view of `container`.
pub fn render_example(container: &Container) -> String {
    let mut lines = Vec::new();
    for op in container.ops() {
        match op {
            Op::From { source } => lines.push(format!("FROM {}", source.address())),
            Op::Exec { argv, .. } => lines.push(format!("RUN {}", argv.join(" "))),
            Op::Env { name, value } => lines.push(format!("ENV {name}={value}")),
            Op::Label { name, value } => lines.push(format!("LABEL {name}={value}")),
            Op::User { .. }
            | Op::Workdir { .. }
            | Op::Entrypoint { .. }
            | Op::DefaultArgs { .. }
            | Op::File { .. }
            | Op::Directory { .. }
            | Op::MountedCache { .. }
            | Op::UnmountCache { .. }
            | Op::Config { .. }
            | Op::History { .. } => {}
        }
    }
    lines.join("\n")
}
