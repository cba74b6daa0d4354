//! The normal form of a container: what its buildable Dockerfile reads back as.

use crate::Container;
use crate::op::Op;
use crate::state::CacheMount;

impl Container {
    /// The same recipe in normal form, which builds the same image:
    ///
    /// - operations before the last `from` are dropped (a `from` discards them);
    /// - cache mount and unmount operations move to just before the first exec they affect and
    ///   disappear when no exec follows (they only matter to execs); mount points are normalised;
    /// - a `default_args []` right after an entrypoint is dropped when an earlier `default_args`
    ///   is there (the entrypoint already cleared CMD, and the earlier one marked the config's
    ///   `ArgsEscaped`, as BuildKit marks it for any CMD).
    ///
    /// `parse_dockerfile(buildable_dockerfile(c))` equals `c.normalized()` for recipes whose
    /// sources are registry images, URLs or helper containers and whose cache owners are written
    /// as `uid:gid` (context files come back as host paths, names as ids).
    pub fn normalized(&self) -> Container {
        let start = self
            .ops()
            .iter()
            .rposition(|op| matches!(op, Op::From { .. }))
            .unwrap_or(0);
        let mut out: Vec<Op> = Vec::with_capacity(self.ops().len());
        let mut emitted: Vec<CacheMount> = Vec::new();
        for step in self.steps().skip(start) {
            match step.op {
                Op::MountedCache { .. } | Op::UnmountCache { .. } => {}
                Op::Exec { .. } => {
                    let wanted = step.state.caches();
                    for cache in &emitted {
                        if !wanted.iter().any(|w| w.path == cache.path) {
                            out.push(Op::UnmountCache {
                                path: cache.path.clone(),
                            });
                        }
                    }
                    for cache in wanted {
                        if !emitted.contains(cache) {
                            out.push(Op::MountedCache {
                                path: cache.path.clone(),
                                volume: cache.volume.clone(),
                                owner: cache.owner.clone(),
                                options: cache.options.clone(),
                            });
                        }
                    }
                    emitted = wanted.to_vec();
                    out.push(step.op.clone());
                }
                Op::DefaultArgs { argv }
                    if argv.is_empty()
                        && matches!(out.last(), Some(Op::Entrypoint { .. }))
                        && out.iter().any(|op| matches!(op, Op::DefaultArgs { .. })) => {}
                op => out.push(op.clone()),
            }
        }
        self.with_ops(out)
    }
}
