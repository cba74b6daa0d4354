//! The `docker build` / `docker buildx build` flags plinth does not honour: each is accepted by
//! the parser (hidden from `--help`) only so that using it stops the build with a message that
//! says why and what to do instead, never a silent difference.

use clap::{Arg, ArgAction, ArgMatches, Args, Command, FromArgMatches};

/// A docker flag plinth refuses.
struct Refused {
    long: &'static str,
    short: Option<char>,
    /// Whether docker's flag takes a value (`--add-host H:IP`) or is a switch (`--squash`).
    takes_value: bool,
    why: &'static str,
}

const LIMITS: &str = "build steps run in plinth's sandbox without resource limits or isolation \
                      options; drop the flag (limit the whole `plinth` process instead, e.g. with \
                      `systemd-run --scope -p MemoryMax=…`)";

const REFUSED: &[Refused] = &[
    Refused {
        long: "add-host",
        short: None,
        takes_value: true,
        why: "build steps use the host's resolver configuration; write the entry into /etc/hosts in the RUN step that needs it, or use `--network host`",
    },
    Refused {
        long: "annotation",
        short: None,
        takes_value: true,
        why: "plinth does not write user annotations on the image; use `--label KEY=VALUE` for metadata in the image config",
    },
    Refused {
        long: "attest",
        short: None,
        takes_value: true,
        why: "`plinth build` attaches no attestations to the image",
    },
    Refused {
        long: "provenance",
        short: None,
        takes_value: true,
        why: "`plinth build` attaches no provenance attestation to the image",
    },
    Refused {
        long: "sbom",
        short: None,
        takes_value: true,
        why: "`plinth build` attaches no SBOM attestation to the image",
    },
    Refused {
        long: "build-context",
        short: None,
        takes_value: true,
        why: "named build contexts are not supported; copy the files into the context, or name an image in `COPY --from=IMAGE`",
    },
    Refused {
        long: "call",
        short: None,
        takes_value: true,
        why: "build checks and outlines are not supported; `plinth dockerfile -f FILE` prints how plinth reads a Dockerfile",
    },
    Refused {
        long: "cgroup-parent",
        short: None,
        takes_value: true,
        why: LIMITS,
    },
    Refused {
        long: "cpu-period",
        short: None,
        takes_value: true,
        why: LIMITS,
    },
    Refused {
        long: "cpu-quota",
        short: None,
        takes_value: true,
        why: LIMITS,
    },
    Refused {
        long: "cpu-shares",
        short: Some('c'),
        takes_value: true,
        why: LIMITS,
    },
    Refused {
        long: "cpuset-cpus",
        short: None,
        takes_value: true,
        why: LIMITS,
    },
    Refused {
        long: "cpuset-mems",
        short: None,
        takes_value: true,
        why: LIMITS,
    },
    Refused {
        long: "memory",
        short: Some('m'),
        takes_value: true,
        why: LIMITS,
    },
    Refused {
        long: "memory-swap",
        short: None,
        takes_value: true,
        why: LIMITS,
    },
    Refused {
        long: "shm-size",
        short: None,
        takes_value: true,
        why: LIMITS,
    },
    Refused {
        long: "ulimit",
        short: None,
        takes_value: true,
        why: LIMITS,
    },
    Refused {
        long: "security-opt",
        short: None,
        takes_value: true,
        why: LIMITS,
    },
    Refused {
        long: "isolation",
        short: None,
        takes_value: true,
        why: "build steps are isolated by Linux namespaces only; drop the flag",
    },
    Refused {
        long: "compress",
        short: None,
        takes_value: false,
        why: "the context is read in place, never sent to a daemon, so there is nothing to compress; drop the flag",
    },
    Refused {
        long: "stream",
        short: None,
        takes_value: false,
        why: "the context is read in place, never streamed to a daemon; drop the flag",
    },
    Refused {
        long: "disable-content-trust",
        short: None,
        takes_value: false,
        why: "content trust (Notary signatures) is not supported; pin base images by digest (`FROM IMAGE@sha256:…`) instead",
    },
    Refused {
        long: "squash",
        short: None,
        takes_value: false,
        why: "plinth keeps one layer per step and cannot squash them; drop the flag",
    },
    Refused {
        long: "no-cache-filter",
        short: None,
        takes_value: true,
        why: "per-stage cache bypass is not supported; `--no-cache` runs every step",
    },
];

/// docker's `--rm` and `--force-rm` (remove intermediate containers) describe what plinth
/// always does, so they are accepted; only their `=false` forms are refused.
const ALWAYS_REMOVED: [&str; 2] = ["rm", "force-rm"];

/// The docker flags given on the command line that plinth refuses.
#[derive(Clone, Debug, Default)]
pub struct DockerOnlyFlags {
    given: Vec<String>,
}

impl DockerOnlyFlags {
    /// Fails with a usage error naming the first refused flag given, why, and what to do.
    pub fn refuse_any(&self) -> anyhow::Result<()> {
        match self.given.first() {
            None => Ok(()),
            Some(message) => Err(crate::exit_status::usage_error(message.clone())),
        }
    }
}

impl FromArgMatches for DockerOnlyFlags {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let mut given = Vec::new();
        for flag in REFUSED {
            if matches.contains_id(flag.long)
                && matches.value_source(flag.long) == Some(clap::parser::ValueSource::CommandLine)
            {
                given.push(format!(
                    "`--{}` is a docker build flag plinth does not support: {}",
                    flag.long, flag.why
                ));
            }
        }
        for name in ALWAYS_REMOVED {
            if matches.get_one::<String>(name).map(String::as_str) == Some("false") {
                given.push(format!(
                    "`--{name}=false` asks to keep intermediate containers; plinth keeps none (each step's result is a layer in the store), so drop it"
                ));
            }
        }
        Ok(Self { given })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl Args for DockerOnlyFlags {
    fn augment_args(mut cmd: Command) -> Command {
        for flag in REFUSED {
            let mut arg = Arg::new(flag.long).long(flag.long).hide(true);
            if let Some(short) = flag.short {
                arg = arg.short(short);
            }
            arg = if flag.takes_value {
                arg.action(ArgAction::Append).num_args(1)
            } else {
                // docker's switches also take `=true|false`; a separate word is never theirs.
                arg.action(ArgAction::Append)
                    .num_args(0..=1)
                    .require_equals(true)
                    .default_missing_value("true")
            };
            cmd = cmd.arg(arg);
        }
        for name in ALWAYS_REMOVED {
            cmd = cmd.arg(
                Arg::new(name)
                    .long(name)
                    .hide(true)
                    .num_args(0..=1)
                    .require_equals(true)
                    .default_missing_value("true")
                    .value_parser(["true", "false"]),
            );
        }
        cmd
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}
