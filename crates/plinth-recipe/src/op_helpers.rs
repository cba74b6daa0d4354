//! The helper containers of an operation: the stages and images a step copies from
//! (`COPY --from`), mounts (`RUN --mount=type=bind,from=`) or seeds a cache from
//! (`RUN --mount=type=cache,from=`). Every walk over a recipe's containers (roots to load,
//! inputs to record, validation, rewriting) goes through these two functions, so a new place a
//! container can appear is added once, here.

use crate::op::{DirectorySource, Op};
use crate::run_mount::{BindSource, RunMount};
use crate::state::CacheSeed;
use crate::{CacheOptions, Container};

/// Why a step needs a helper container.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HelperRole {
    /// A directory copied from it (`COPY --from`).
    Copy,
    /// The `n`-th mount of an exec shows a path of it.
    Mount(usize),
    /// A cache mount starts as a copy of it.
    CacheSeed,
}

impl HelperRole {
    /// How a problem names the helper.
    pub fn noun(self) -> &'static str {
        match self {
            HelperRole::Copy => "helper container",
            HelperRole::Mount(_) => "mount",
            HelperRole::CacheSeed => "cache seed",
        }
    }
}

impl Op {
    /// The containers this step needs built first, in the order of its fields.
    pub fn helpers(&self) -> Vec<(HelperRole, &Container)> {
        match self {
            Op::Directory {
                source: DirectorySource::Container { container, .. },
                ..
            } => vec![(HelperRole::Copy, &**container)],
            Op::Exec { mounts, .. } => mounts
                .iter()
                .enumerate()
                .filter_map(|(n, mount)| mount.helper().map(|(c, _)| (HelperRole::Mount(n), c)))
                .collect(),
            Op::MountedCache { options, .. } => options
                .seed
                .iter()
                .map(|seed| (HelperRole::CacheSeed, &*seed.container))
                .collect(),
            Op::From { .. }
            | Op::Env { .. }
            | Op::Label { .. }
            | Op::User { .. }
            | Op::Workdir { .. }
            | Op::Entrypoint { .. }
            | Op::DefaultArgs { .. }
            | Op::File { .. }
            | Op::Directory { .. }
            | Op::UnmountCache { .. }
            | Op::Config { .. }
            | Op::History { .. } => Vec::new(),
        }
    }

    /// This step with each helper container replaced by what `map` makes of it.
    pub fn try_map_helpers<E>(
        &self,
        mut map: impl FnMut(&Container) -> Result<Container, E>,
    ) -> Result<Op, E> {
        Ok(match self {
            Op::Directory {
                path,
                source:
                    DirectorySource::Container {
                        container,
                        path: from,
                    },
                owner,
                mode,
            } => Op::Directory {
                path: path.clone(),
                source: DirectorySource::Container {
                    container: Box::new(map(container)?),
                    path: from.clone(),
                },
                owner: owner.clone(),
                mode: mode.clone(),
            },
            Op::Exec {
                argv,
                network,
                env,
                mounts,
            } => Op::Exec {
                argv: argv.clone(),
                network: *network,
                env: env.clone(),
                mounts: mounts
                    .iter()
                    .map(|mount| match mount {
                        RunMount::Bind {
                            target,
                            source: BindSource::Container { container, path },
                            rw,
                        } => Ok(RunMount::Bind {
                            target: target.clone(),
                            source: BindSource::Container {
                                container: Box::new(map(container)?),
                                path: path.clone(),
                            },
                            rw: *rw,
                        }),
                        other => Ok(other.clone()),
                    })
                    .collect::<Result<_, E>>()?,
            },
            Op::MountedCache {
                path,
                volume,
                owner,
                options:
                    options @ CacheOptions {
                        seed: Some(seed), ..
                    },
            } => Op::MountedCache {
                path: path.clone(),
                volume: volume.clone(),
                owner: owner.clone(),
                options: CacheOptions {
                    seed: Some(CacheSeed {
                        container: Box::new(map(&seed.container)?),
                        path: seed.path.clone(),
                    }),
                    ..options.clone()
                },
            },
            other => other.clone(),
        })
    }

    /// [`Op::try_map_helpers`] with a map that cannot fail.
    pub fn map_helpers(&self, mut map: impl FnMut(&Container) -> Container) -> Op {
        self.try_map_helpers(|c| Ok::<_, std::convert::Infallible>(map(c)))
            .unwrap_or_else(|never| match never {})
    }
}
