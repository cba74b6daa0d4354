//! `RUN`, `CMD` and `ENTRYPOINT`: commands, their shell and the RUN flags' effects.

use super::run_flags::MountFlag;
use super::{Flags, PROXY_ARGS, Reader, json_array};
use crate::op::{Network, Op};
use crate::state::CacheMount;

impl Reader<'_> {
    pub(super) fn command(&mut self, keyword: &str, argv: Vec<String>) {
        let state = self.stage().container.final_state();
        if keyword == "ENTRYPOINT" {
            let cmd = if self.stage().cmd_set {
                state.default_args().map(<[String]>::to_vec)
            } else {
                None
            };
            self.push(Op::Entrypoint { argv });
            if let Some(cmd) = cmd.filter(|c| !c.is_empty()) {
                self.push(Op::DefaultArgs { argv: cmd });
                self.stage().reemitted_cmd = true;
            }
        } else {
            let stage = self.stage();
            if stage.reemitted_cmd {
                // The CMD kept across the ENTRYPOINT is replaced right away: drop the copy
                // (the last operation before the ENTRYPOINT's history entry).
                let ops = stage.container.ops();
                let copy = ops
                    .iter()
                    .rposition(|op| matches!(op, Op::DefaultArgs { .. }));
                stage.container = stage.container.with_ops(
                    ops.iter()
                        .enumerate()
                        .filter(|(i, _)| Some(*i) != copy)
                        .map(|(_, op)| op.clone()),
                );
                stage.reemitted_cmd = false;
            }
            // `CMD []` right after an ENTRYPOINT changes nothing when the stage set CMD before
            // (the ENTRYPOINT cleared it, and the earlier CMD marked the config's
            // `ArgsEscaped`); without an earlier CMD it is the mark, and is kept.
            let redundant = argv.is_empty()
                && self.stage().cmd_set
                && matches!(
                    self.stage()
                        .container
                        .ops()
                        .iter()
                        .rfind(|op| !matches!(op, Op::History { .. })),
                    Some(Op::Entrypoint { .. })
                );
            self.stage().cmd_set = true;
            if !redundant {
                self.push(Op::DefaultArgs { argv });
            }
        }
    }

    pub(super) fn run(&mut self, flags: Flags, rest: &str) -> std::result::Result<(), String> {
        let mut caches = Vec::new();
        let mut mounts = Vec::new();
        let mut network = Network::Enabled;
        for (name, value) in flags {
            let value = value.unwrap_or_default();
            match name.as_str() {
                "mount" => match self.mount_flag(
                    &value,
                    mounts
                        .iter()
                        .filter(|m| matches!(m, crate::RunMount::Ssh(_)))
                        .count(),
                )? {
                    MountFlag::Cache(cache) => caches.push(cache),
                    MountFlag::Run(mount) => mounts.push(mount),
                },
                "network" => match self.expand(&value)?.as_str() {
                    "none" => network = Network::Disabled,
                    "default" => network = Network::Enabled,
                    "host" => network = Network::Host,
                    other => {
                        return Err(format!(
                            "`RUN --network={other}` is not a network mode: use `default`, `none` or `host`"
                        ));
                    }
                },
                "security" => match self.expand(&value)?.as_str() {
                    // BuildKit's default: the step runs confined, as every plinth step does.
                    "sandbox" => {}
                    "insecure" => {
                        return Err("`RUN --security=insecure` asks for a privileged step (BuildKit runs one only with \
                                    `--allow security.insecure`), and plinth runs every step confined: do the privileged \
                                    part outside the build, or drop the flag"
                            .into());
                    }
                    other => {
                        return Err(format!(
                            "`RUN --security={other}` is not a security mode: use `sandbox` or `insecure`"
                        ));
                    }
                },
                other => return Err(format!("the RUN flag `--{other}` is not supported")),
            }
        }
        if rest.is_empty() {
            return Err("RUN needs a command".into());
        }
        let (argv, recorded) = match self.heredoc_run_argv(rest)? {
            Some(pair) => pair,
            None => {
                let argv = self.command_argv(rest)?;
                (argv.clone(), argv)
            }
        };
        if argv.is_empty() {
            return Err("`RUN []` has no command".into());
        }
        // Our cache mounts persist across execs; sync them to this RUN's set.
        let active = self.stage().container.final_state().caches().to_vec();
        for cache in &active {
            if !caches.iter().any(|m: &CacheMount| m.path == cache.path) {
                self.push(Op::UnmountCache {
                    path: cache.path.clone(),
                });
            }
        }
        for m in caches {
            if !active.contains(&m) {
                self.push(Op::MountedCache {
                    path: m.path,
                    volume: m.volume,
                    owner: m.owner,
                    options: m.options,
                });
            }
        }
        let mut env = self.stage().vars.build_env();
        for name in PROXY_ARGS {
            if let Some(value) = self.options.build_args.get(name) {
                env.entry(name.to_owned()).or_insert_with(|| value.clone());
            }
        }
        let stage = self.stage();
        let declared: Vec<(String, String)> = stage
            .declared_args
            .iter()
            .map(|name| (name.clone(), stage.vars.value(name).unwrap_or_default()))
            .collect();
        let line = crate::history::run_line(&declared, &recorded);
        self.push(Op::Exec {
            argv,
            network,
            env,
            mounts,
        });
        self.history(line, true);
        Ok(())
    }

    /// The argv of a RUN, CMD or ENTRYPOINT: the JSON array, or the text under the stage's
    /// shell (`SHELL`, the base image's, or `/bin/sh -c`).
    pub(super) fn command_argv(&mut self, rest: &str) -> std::result::Result<Vec<String>, String> {
        Ok(match json_array(rest)? {
            Some(argv) => argv,
            None => {
                let mut argv = self
                    .stage()
                    .shell
                    .clone()
                    .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()]);
                argv.push(rest.to_owned());
                argv
            }
        })
    }
}
