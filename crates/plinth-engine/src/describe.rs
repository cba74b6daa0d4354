//! The one-line description of an operation: progress lines, errors and history `created_by`.

use plinth_oci::Digest;
use plinth_recipe::{DirectorySource, FileSource, Op};

/// A one-line description of an operation; also its history `created_by`.
pub(crate) fn describe(op: &Op) -> String {
    let json = |v: &[String]| serde_json::to_string(v).unwrap_or_default();
    let flags = |owner: &Option<String>, mode: &Option<u32>| {
        let mut s = String::new();
        if let Some(o) = owner {
            s.push_str(&format!("--chown={o} "));
        }
        if let Some(m) = mode {
            s.push_str(&format!("--chmod={m:o} "));
        }
        s
    };
    match op {
        Op::From { source } => format!("FROM {source}"),
        Op::Exec { argv, network } => match network {
            plinth_recipe::Network::Enabled => format!("RUN {}", json(argv)),
            plinth_recipe::Network::Disabled => format!("RUN --network=none {}", json(argv)),
        },
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
                FileSource::HostFile(p) => format!("host:{}", p.display()),
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
            DirectorySource::Host(dir) => {
                format!("COPY {}host:{} {path}", flags(owner, mode), dir.display())
            }
        },
        Op::MountedCache { path, volume, .. } => format!("MOUNT cache {volume} at {path}"),
        Op::UnmountCache { path } => format!("UNMOUNT cache at {path}"),
    }
}
