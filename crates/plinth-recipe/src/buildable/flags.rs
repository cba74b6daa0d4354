//! The flags of buildable lines: `RUN --mount=…` values, `--chown`/`--chmod`, cache mounts with
//! numeric owner ids, and the `COPY`/`ADD` line itself.

use super::ContextSource;
use super::writer::Writer;
use crate::chmod::FileMode;
use crate::declared_ids::DeclaredIds;
use crate::error::Result;
use crate::run_mount::{BindSource, RunMount};
use crate::state::{CacheMount, CacheSharing};
use crate::words::{is_plain, word};

impl Writer<'_> {
    /// A `RUN --mount` value; a bind mount's source becomes a context entry or a stage.
    pub(super) fn run_mount_flag(&mut self, mount: &RunMount) -> Result<String> {
        let source = match mount {
            RunMount::Bind {
                source: BindSource::Host(path),
                ..
            } => {
                if path.is_dir() {
                    Some((
                        self.add_entry("dir", ContextSource::HostDir(path.clone())),
                        None,
                    ))
                } else {
                    Some((self.add_named_file(path, "file"), None))
                }
            }
            RunMount::Bind {
                source:
                    BindSource::HostIgnoring {
                        path,
                        within,
                        ignore,
                    },
                ..
            } => Some((
                self.add_entry(
                    "dir",
                    ContextSource::HostDirIgnoring {
                        path: path.clone(),
                        within: within.clone(),
                        ignore: ignore.clone(),
                    },
                ),
                None,
            )),
            RunMount::Bind {
                source: BindSource::Container { container, path },
                ..
            } => Some((path.clone(), Some(self.stage_name(container)?))),
            RunMount::Tmpfs { .. } | RunMount::Secret(_) | RunMount::Ssh(_) => None,
        };
        Ok(mount.dockerfile_flag(
            source
                .as_ref()
                .map(|(path, from)| (path.as_str(), from.as_deref())),
        ))
    }

    pub(super) fn owner_mode_flags(
        &mut self,
        owner: Option<&str>,
        mode: Option<&FileMode>,
        flags: &mut Vec<String>,
    ) {
        flags.extend(crate::op::owner_mode_flags(owner, mode));
        // `--chmod` needs the external frontend.
        self.needs_syntax |= mode.is_some();
    }

    /// A cache mount's `--mount=type=cache,…`; `seed_stage` names the stage its seed was
    /// written as.
    pub(super) fn mount_flag(
        &self,
        cache: &CacheMount,
        seed_stage: Option<&str>,
        declared: &DeclaredIds,
    ) -> std::result::Result<String, String> {
        for (what, value) in [("mount point", &cache.path), ("volume name", &cache.volume)] {
            if !is_plain(value) || value.contains(',') {
                return Err(format!(
                    "the cache {what} `{}` cannot be written in `RUN --mount`: use letters, digits and `/._-:+@=~%^` only",
                    value.escape_debug()
                ));
            }
        }
        let mut flag = format!(
            "--mount=type=cache,target={},id={}",
            cache.path, cache.volume
        );
        if let Some(owner) = &cache.owner {
            let (uid, gid) = self.owner_ids(owner, declared)?;
            flag.push_str(&format!(",uid={uid},gid={gid}"));
        }
        let options = &cache.options;
        if let Some(mode) = options.mode {
            flag.push_str(&format!(",mode={mode:04o}"));
        }
        match options.sharing {
            CacheSharing::Shared => {}
            CacheSharing::Locked => flag.push_str(",sharing=locked"),
            CacheSharing::Private => flag.push_str(",sharing=private"),
        }
        if options.readonly {
            flag.push_str(",readonly");
        }
        if let (Some(seed), Some(stage)) = (&options.seed, seed_stage) {
            if !is_plain(&seed.path) || seed.path.contains(',') {
                return Err(format!(
                    "the cache seed path `{}` cannot be written in `RUN --mount`: use letters, digits and `/._-:+@=~%^` only",
                    seed.path.escape_debug()
                ));
            }
            flag.push_str(&format!(",from={stage},source={}", seed.path));
        }
        Ok(flag)
    }

    /// Ids given in the options win; then those the recipe declares (`adduser --uid …`).
    fn owner_ids(
        &self,
        owner: &str,
        declared: &DeclaredIds,
    ) -> std::result::Result<(u32, u32), String> {
        let (user, group) = owner
            .split_once(':')
            .map_or((owner, None), |(u, g)| (u, Some(g)));
        let known = |name: &str| {
            self.options
                .owner_ids
                .get(name)
                .copied()
                .or_else(|| declared.user(name))
        };
        let uid = user
            .parse::<u32>()
            .ok()
            .or_else(|| known(owner).or_else(|| known(user)).map(|ids| ids.0));
        let gid = match group {
            None => uid.and_then(|u| {
                if user.parse::<u32>().is_ok() {
                    Some(u)
                } else {
                    known(owner).or_else(|| known(user)).map(|ids| ids.1)
                }
            }),
            Some(g) => g
                .parse::<u32>()
                .ok()
                .or_else(|| known(owner).map(|ids| ids.1))
                .or_else(|| known(g).map(|ids| ids.1))
                .or_else(|| declared.group(g)),
        };
        match (uid, gid) {
            (Some(u), Some(g)) => Ok((u, g)),
            _ => Err(format!(
                "the cache mount owner `{owner}` is a name, but `RUN --mount` needs numeric ids, and the recipe \
                 does not create `{user}` with explicit ids: create it with them (`adduser --uid UID --group {user}`), \
                 write the owner as `uid:gid`, or give the view the ids of `{user}`"
            )),
        }
    }
}

pub(super) fn json(argv: &[String]) -> String {
    // Serialising a list of strings cannot fail.
    serde_json::to_string(argv).expect("a list of strings always encodes as JSON")
}

/// `COPY`/`ADD` with bare words when possible, else the JSON form (each element still goes
/// through the word lexer, so it is quoted for it first).
pub(super) fn copy_line(
    keyword: &str,
    flags: &[String],
    args: &[&str],
) -> std::result::Result<String, String> {
    let mut words = Vec::with_capacity(args.len());
    for a in args {
        words.push(
            word(a).ok_or_else(|| format!("the path `{}` holds a line break", a.escape_debug()))?,
        );
    }
    let mut line = keyword.to_owned();
    for f in flags {
        line.push(' ');
        line.push_str(f);
    }
    line.push(' ');
    if words.iter().any(|w| w.contains(char::is_whitespace)) {
        line.push_str(&json(&words));
    } else {
        line.push_str(&words.join(" "));
    }
    Ok(line)
}
