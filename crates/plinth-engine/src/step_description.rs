//! What an operation looks like in progress and `--explain` (`describe`) and what a
//! config-only operation does to the image config (`apply_config`). The image history's text
//! is `plinth_recipe::history`'s (see `steps/history.rs`).

use std::collections::BTreeMap;

use plinth_oci::{Digest, ImageConfig};
use plinth_recipe::state::{join_path, normalize_path};
use plinth_recipe::{DirectorySource, FileSource, Op};

/// A one-line description of an operation for progress and `--explain` (build-arg values
/// and host paths left out).
pub(crate) fn describe(op: &Op) -> String {
    let json = |v: &[String]| serde_json::to_string(v).unwrap_or_default();
    let flags = |owner: &Option<String>, mode: &Option<plinth_recipe::FileMode>| -> String {
        plinth_recipe::op::owner_mode_flags(owner.as_deref(), mode.as_ref())
            .iter()
            .map(|flag| format!("{flag} "))
            .collect()
    };
    match op {
        Op::From { source } => format!("FROM {source}"),
        Op::Exec {
            argv,
            network,
            env,
            mounts,
        } => {
            // Build args are shown by name only: their values may be tokens. Mounts are shown
            // without their sources (host paths) and never with a secret's value.
            let args: String = env.keys().map(|k| format!("{k} ")).collect();
            let args = if args.is_empty() {
                args
            } else {
                format!("(build args {}) ", args.trim_end())
            };
            let mut flags: String = mounts
                .iter()
                .map(|m| format!("--mount={} ", m.dockerfile_flag(None)))
                .collect();
            if let Some(flag) = network.dockerfile_flag() {
                flags.push_str(flag);
                flags.push(' ');
            }
            format!("RUN {flags}{args}{}", json(argv))
        }
        Op::Env { name, value } => format!("ENV {name}={value}"),
        Op::Label { name, value } => format!("LABEL {name}={value}"),
        Op::User { user } => format!("USER {user}"),
        Op::Workdir { path } => format!("WORKDIR {path}"),
        Op::Entrypoint { argv } => format!("ENTRYPOINT {}", json(argv)),
        Op::DefaultArgs { argv } => format!("CMD {}", json(argv)),
        Op::File {
            path,
            source,
            owner,
            mode,
        } => {
            let from = match source {
                FileSource::Url { url, .. } => url.clone(),
                FileSource::HostFile(p) => format!("host:{}", host_name(p)),
                FileSource::Bytes(b) => format!("bytes:{}", &Digest::of(b).hex()[..12]),
            };
            let verb = if matches!(source, FileSource::Url { .. }) {
                "ADD"
            } else {
                "COPY"
            };
            format!("{verb} {}{from} {path}", flags(owner, mode))
        }
        Op::Directory {
            path,
            source,
            owner,
            mode,
        } => match source {
            DirectorySource::Container { path: from, .. } => {
                format!("COPY {}--from=helper {from} {path}", flags(owner, mode))
            }
            DirectorySource::Host(dir) | DirectorySource::HostIgnoring { path: dir, .. } => {
                format!("COPY {}host:{} {path}", flags(owner, mode), host_name(dir))
            }
            DirectorySource::HostArchive(archive) => {
                format!(
                    "ADD {}host:{} {path}",
                    flags(owner, mode),
                    host_name(archive)
                )
            }
        },
        Op::MountedCache { path, volume, .. } => format!("MOUNT cache {volume} at {path}"),
        Op::UnmountCache { path } => format!("UNMOUNT cache at {path}"),
        Op::Config { setting } => setting.dockerfile_line(),
        Op::History { created_by, .. } => created_by.clone(),
    }
}

/// A host input as the history names it: its file name only. The directory the build ran in
/// is no part of the image (two checkouts of one recipe give one digest), and a home
/// directory's path is nobody's business.
fn host_name(path: &std::path::Path) -> String {
    path.file_name()
        .map_or_else(|| ".".to_owned(), |n| n.to_string_lossy().into_owned())
}

/// Gives a root without `PATH` in its env the default one, as BuildKit does for every stage
/// (`FROM scratch` included), so both engines write the same config.
pub(crate) fn set_default_path(config: &mut ImageConfig) {
    if !config.env().iter().any(|(name, _)| name == "PATH") {
        config.set_env("PATH", plinth_recipe::reader::DEFAULT_PATH);
    }
}

/// Applies a config operation to the image config.
pub(crate) fn apply_config(config: &mut ImageConfig, op: &Op) {
    match op {
        Op::Env { name, value } => config.set_env(name, value),
        Op::Label { name, value } => {
            config
                .runtime_mut()
                .labels
                .get_or_insert_with(BTreeMap::new)
                .insert(name.clone(), value.clone());
        }
        Op::User { user } => config.runtime_mut().user = Some(user.clone()),
        Op::Workdir { path } => {
            let runtime = config.runtime_mut();
            let current = runtime
                .working_dir
                .clone()
                .filter(|w| !w.is_empty())
                .unwrap_or_else(|| "/".to_owned());
            runtime.working_dir = Some(join_path(&normalize_path(&current), path));
        }
        // An empty list (`ENTRYPOINT []`, `CMD []`) is no value at all, as BuildKit writes it.
        Op::Entrypoint { argv } => {
            let runtime = config.runtime_mut();
            runtime.entrypoint = (!argv.is_empty()).then(|| argv.clone());
            runtime.cmd = None;
        }
        Op::DefaultArgs { argv } => {
            let runtime = config.runtime_mut();
            runtime.cmd = (!argv.is_empty()).then(|| argv.clone());
            // BuildKit marks every image whose Dockerfile sets CMD (a Windows-only field it
            // keeps for docker's image format), and the mark stays with later images.
            runtime
                .extra
                .insert("ArgsEscaped".to_owned(), serde_json::Value::Bool(true));
        }
        Op::Config { setting } => setting.apply_to(config),
        Op::From { .. }
        | Op::Exec { .. }
        | Op::File { .. }
        | Op::Directory { .. }
        | Op::MountedCache { .. }
        | Op::UnmountCache { .. }
        | Op::History { .. } => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_inputs_are_described_without_the_directory_the_build_ran_in() {
        let file = |dir: &str| Op::File {
            path: "/srv/app.conf".to_owned(),
            source: FileSource::HostFile(std::path::PathBuf::from(dir).join("app.conf")),
            owner: None,
            mode: Some(0o644.into()),
        };
        assert_eq!(
            describe(&file("/home/someone/checkout")),
            "COPY --chmod=644 host:app.conf /srv/app.conf"
        );
        assert_eq!(
            describe(&file("/home/someone/checkout")),
            describe(&file("/tmp/other"))
        );
        let dir = Op::Directory {
            path: "/srv/site".to_owned(),
            source: DirectorySource::Host("/home/someone/checkout/site".into()),
            owner: Some("1000".to_owned()),
            mode: None,
        };
        assert_eq!(describe(&dir), "COPY --chown=1000 host:site /srv/site");
    }

    #[test]
    fn network_owner_and_mode_flags_read_as_in_a_dockerfile() {
        let exec = |network| Op::Exec {
            argv: vec!["true".to_owned()],
            network,
            env: BTreeMap::from([("TOKEN".to_owned(), "hunter2".to_owned())]),
            mounts: Vec::new(),
        };
        assert_eq!(
            describe(&exec(plinth_recipe::Network::Disabled)),
            r#"RUN --network=none (build args TOKEN) ["true"]"#
        );
        assert_eq!(
            describe(&exec(plinth_recipe::Network::Host)),
            r#"RUN --network=host (build args TOKEN) ["true"]"#
        );
        assert_eq!(
            describe(&exec(plinth_recipe::Network::Enabled)),
            r#"RUN (build args TOKEN) ["true"]"#
        );
        let bytes = Op::File {
            path: "/etc/motd".to_owned(),
            source: FileSource::Bytes(b"hi".to_vec()),
            owner: Some("app:app".to_owned()),
            mode: Some(0o4755.into()),
        };
        assert_eq!(
            describe(&bytes),
            format!(
                "COPY --chown=app:app --chmod=4755 bytes:{} /etc/motd",
                &Digest::of(b"hi").hex()[..12]
            )
        );
    }
}
