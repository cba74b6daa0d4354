//! `RUN --mount` options, as BuildKit reads them (`instructions/commands_runmount.go`,
//! `dockerfile2llb/convert_secrets.go` and `convert_ssh.go`).

use std::path::Path;

use super::Reader;
use super::context_ignore::{ContextIgnore, context_relative};
use crate::inputs::resolve_in_context;
use crate::run_mount::{
    BindSource, DEFAULT_SECRET_MODE, DEFAULT_SSH_ID, DEFAULT_SSH_MODE, RunMount, SecretMount,
    SshMount,
};
use crate::state::{CacheMount, CacheOptions, CacheSeed, CacheSharing, normalize_path};

/// One `RUN --mount`: a cache (which the recipe keeps active across execs) or a mount of this
/// exec only.
pub(super) enum MountFlag {
    Cache(CacheMount),
    Run(RunMount),
}

/// The `key=value` fields of one `--mount`, as BuildKit reads them (keys case-insensitive,
/// `ro`/`rw`/`required` also bare).
#[derive(Default)]
struct Fields {
    kind: Option<String>,
    target: Option<String>,
    source: Option<String>,
    from: Option<String>,
    id: Option<String>,
    readonly: Option<bool>,
    required: Option<bool>,
    sharing: Option<String>,
    size: Option<String>,
    mode: Option<String>,
    uid: Option<String>,
    gid: Option<String>,
    env: Option<String>,
}

fn parse_bool(key: &str, value: Option<&str>) -> Result<bool, String> {
    match value.map(str::to_ascii_lowercase).as_deref() {
        None | Some("true") | Some("1") => Ok(true),
        Some("false") | Some("0") => Ok(false),
        Some(other) => Err(format!("`{key}={other}` is not true or false")),
    }
}

impl Reader<'_> {
    fn mount_fields(&self, spec: &str) -> Result<Fields, String> {
        let mut f = Fields::default();
        for field in spec.split(',').filter(|f| !f.is_empty()) {
            let (key, value) = match field.split_once('=') {
                Some((k, v)) => (k.to_ascii_lowercase(), Some(self.expand(v)?)),
                None => (field.to_ascii_lowercase(), None),
            };
            let need = |v: Option<String>| {
                v.ok_or_else(|| format!("the mount option `{key}` needs a value (`{key}=…`)"))
            };
            match key.as_str() {
                "type" => f.kind = Some(need(value)?),
                "target" | "dst" | "destination" => f.target = Some(need(value)?),
                "source" | "src" => f.source = Some(need(value)?),
                "from" => f.from = Some(need(value)?),
                "id" => f.id = Some(need(value)?),
                "readonly" | "ro" => f.readonly = Some(parse_bool(&key, value.as_deref())?),
                "readwrite" | "rw" => f.readonly = Some(!parse_bool(&key, value.as_deref())?),
                "required" => f.required = Some(parse_bool(&key, value.as_deref())?),
                "sharing" => f.sharing = Some(need(value)?),
                "size" => f.size = Some(need(value)?),
                "mode" => f.mode = Some(need(value)?),
                "uid" => f.uid = Some(need(value)?),
                "gid" => f.gid = Some(need(value)?),
                "env" => f.env = Some(need(value)?),
                other => return Err(format!("the mount option `{other}` is not known")),
            }
        }
        Ok(f)
    }

    /// Reads one `--mount=` value; `ssh_mounts_before` is how many ssh mounts the `RUN` has
    /// before it (BuildKit numbers their default sockets).
    pub(super) fn mount_flag(
        &mut self,
        spec: &str,
        ssh_mounts_before: usize,
    ) -> Result<MountFlag, String> {
        let f = self.mount_fields(spec)?;
        let kind = f.kind.clone().unwrap_or_else(|| "bind".to_owned());
        let unsupported = |name: &str, given: bool| {
            if given {
                Err(format!(
                    "the mount option `{name}` does not apply to `type={kind}` mounts"
                ))
            } else {
                Ok(())
            }
        };
        match kind.as_str() {
            "cache" => {
                unsupported("env", f.env.is_some())?;
                unsupported("size", f.size.is_some())?;
                self.cache_mount(&f).map(MountFlag::Cache)
            }
            "bind" => {
                for (name, given) in [
                    ("id", f.id.is_some()),
                    ("sharing", f.sharing.is_some()),
                    ("size", f.size.is_some()),
                    ("mode", f.mode.is_some()),
                    ("uid", f.uid.is_some()),
                    ("gid", f.gid.is_some()),
                    ("env", f.env.is_some()),
                    ("required", f.required.is_some()),
                ] {
                    unsupported(name, given)?;
                }
                let target = self.mount_target(f.target.as_deref(), &kind)?;
                let source = self.bind_source(f.from.as_deref(), f.source.as_deref())?;
                Ok(MountFlag::Run(RunMount::Bind {
                    target,
                    source,
                    rw: f.readonly == Some(false),
                }))
            }
            "tmpfs" => {
                for (name, given) in [
                    ("source", f.source.is_some()),
                    ("from", f.from.is_some()),
                    ("id", f.id.is_some()),
                    ("env", f.env.is_some()),
                    ("required", f.required.is_some()),
                ] {
                    unsupported(name, given)?;
                }
                let target = self.mount_target(f.target.as_deref(), &kind)?;
                let size = f.size.as_deref().map(parse_size).transpose()?;
                Ok(MountFlag::Run(RunMount::Tmpfs { target, size }))
            }
            "secret" => {
                unsupported("from", f.from.is_some())?;
                unsupported("sharing", f.sharing.is_some())?;
                self.secret_mount(f).map(MountFlag::Run)
            }
            "ssh" => {
                for (name, given) in [
                    ("source", f.source.is_some()),
                    ("from", f.from.is_some()),
                    ("sharing", f.sharing.is_some()),
                    ("size", f.size.is_some()),
                    ("env", f.env.is_some()),
                ] {
                    unsupported(name, given)?;
                }
                self.ssh_mount(f, ssh_mounts_before).map(MountFlag::Run)
            }
            other => Err(format!(
                "`RUN --mount=type={other}` is not a mount type: use bind, cache, tmpfs, secret or ssh"
            )),
        }
    }

    /// An absolute mount point; a relative one is under the stage's workdir, as in BuildKit.
    fn mount_target(&mut self, target: Option<&str>, kind: &str) -> Result<String, String> {
        let target = target
            .filter(|t| !t.is_empty())
            .ok_or_else(|| format!("a `type={kind}` mount needs `target=`"))?;
        if target.starts_with('/') {
            return Ok(normalize_path(target));
        }
        match self.stage().container.final_state().workdir() {
            Some(dir) if dir.starts_with('/') => Ok(crate::state::join_path(dir, target)),
            _ => Err(format!(
                "the mount target `{target}` is relative to the base image's workdir, which the reader does not know: \
                 write it as an absolute path"
            )),
        }
    }

    fn bind_source(
        &mut self,
        from: Option<&str>,
        source: Option<&str>,
    ) -> Result<BindSource, String> {
        let source = source.unwrap_or("");
        if let Some(from) = from {
            let container = self.helper(from)?;
            return Ok(BindSource::Container {
                container: Box::new(container),
                path: normalize_path(&format!("/{source}")),
            });
        }
        let relative = Path::new(source.trim_start_matches('/'));
        let host = resolve_in_context(&self.options.context_dir, relative).map_err(|e| {
            format!(
                "the bind mount source `{source}` is not in the build context `{}`: {e}",
                self.options.context_dir.display()
            )
        })?;
        if std::fs::symlink_metadata(&host).is_err() {
            return Err(format!(
                "the bind mount source `{source}` is not in the build context `{}`",
                self.options.context_dir.display()
            ));
        }
        if let Some(ignore) = ContextIgnore::load(self.options)? {
            let context = &self.options.context_dir;
            let within = context_relative(context, &host);
            if !ignore.visible(context, &within) {
                return Err(format!(
                    "the bind mount source `{source}` is excluded by {} (`{within}`), so BuildKit never receives it: \
                     remove the pattern that matches it, or add `!{within}` after it",
                    ignore.file
                ));
            }
            if host.is_dir() {
                return Ok(BindSource::HostIgnoring {
                    path: host,
                    within,
                    ignore: ignore.patterns,
                });
            }
        }
        Ok(BindSource::Host(host))
    }

    fn secret_mount(&mut self, f: Fields) -> Result<RunMount, String> {
        // `source` is another name for the id; without either, the target's file name is.
        let id = match (f.source.or(f.id), &f.target) {
            (Some(id), _) if !id.is_empty() => id,
            (_, Some(target)) => target.rsplit('/').next().unwrap_or_default().to_owned(),
            _ => return Err("a secret mount needs `id=` (or `target=`)".into()),
        };
        let target = match &f.target {
            Some(t) => Some(self.mount_target(Some(t), "secret")?),
            None => None,
        };
        let number = |name: &str, value: Option<String>, radix: u32| -> Result<u32, String> {
            match value {
                None => Ok(if name == "mode" {
                    DEFAULT_SECRET_MODE
                } else {
                    0
                }),
                Some(v) => u32::from_str_radix(&v, radix)
                    .map_err(|_| format!("the secret mount option `{name}={v}` is not a number")),
            }
        };
        let mode = number("mode", f.mode, 8)?;
        if mode > 0o7777 {
            return Err(format!(
                "the secret mode `{mode:o}` is not a file mode like 0400"
            ));
        }
        Ok(RunMount::Secret(SecretMount {
            target,
            env: f.env,
            required: f.required.unwrap_or(false),
            mode,
            uid: number("uid", f.uid, 10)?,
            gid: number("gid", f.gid, 10)?,
            ..SecretMount::new(id)
        }))
    }
}

impl Reader<'_> {
    /// `type=ssh`: the agent `id` (`default`), its socket at `target` (BuildKit's
    /// `/run/buildkit/ssh_agent.<n>`), `required`, and the socket's `mode` (0600), `uid`, `gid`.
    fn ssh_mount(&mut self, f: Fields, n: usize) -> Result<RunMount, String> {
        let mut mount = SshMount::new(
            f.id.filter(|id| !id.is_empty())
                .unwrap_or_else(|| DEFAULT_SSH_ID.to_owned()),
            n,
        );
        if let Some(target) = f.target.as_deref().filter(|t| !t.is_empty()) {
            mount.target = self.mount_target(Some(target), "ssh")?;
        }
        let number = |name: &str, value: Option<String>, radix: u32, default: u32| match value {
            None => Ok(default),
            Some(v) => u32::from_str_radix(&v, radix)
                .map_err(|_| format!("the ssh mount option `{name}={v}` is not a number")),
        };
        mount.mode = number("mode", f.mode, 8, DEFAULT_SSH_MODE)?;
        if mount.mode > 0o7777 {
            return Err(format!(
                "the ssh socket mode `{:o}` is not a file mode like 0600",
                mount.mode
            ));
        }
        mount.uid = number("uid", f.uid, 10, 0)?;
        mount.gid = number("gid", f.gid, 10, 0)?;
        mount.required = f.required.unwrap_or(false);
        Ok(RunMount::Ssh(mount))
    }
}

/// A size as BuildKit's `units.RAMInBytes` reads it: bytes, or a number with `k`, `m`, `g`,
/// `t` (binary multiples, optional `b`/`ib`).
fn parse_size(text: &str) -> Result<u64, String> {
    let lower = text.trim().to_ascii_lowercase();
    let digits_end = lower
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(lower.len());
    let (number, unit) = lower.split_at(digits_end);
    let unit = unit.trim().trim_end_matches("ib").trim_end_matches('b');
    let shift = match unit {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        _ => return Err(format!("`size={text}` is not a size like 64m or 1g")),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`size={text}` is not a size like 64m or 1g"))?;
    Ok((value * (1u64 << shift) as f64) as u64)
}

impl Reader<'_> {
    /// A `type=cache` mount. Its id defaults to the cleaned target as written (BuildKit's
    /// `path.Clean(target)`), and `from=`/`source=` seed it from a stage or an image.
    fn cache_mount(&mut self, f: &Fields) -> Result<CacheMount, String> {
        let number = |name: &str, value: &Option<String>| -> Result<Option<u32>, String> {
            value
                .as_deref()
                .map(|v| {
                    v.parse::<u32>()
                        .map_err(|_| format!("`{name}={v}` is not a number"))
                })
                .transpose()
        };
        let (uid, gid) = (number("uid", &f.uid)?, number("gid", &f.gid)?);
        if f.required.is_some() {
            return Err(
                "the mount option `required` does not apply to `type=cache` mounts".to_owned(),
            );
        }
        let sharing = match f.sharing.as_deref() {
            None | Some("shared") => CacheSharing::Shared,
            Some("locked") => CacheSharing::Locked,
            Some("private") => CacheSharing::Private,
            Some(other) => {
                return Err(format!(
                    "`sharing={other}` is not a cache sharing mode: use shared, private or locked"
                ));
            }
        };
        let mode = f
            .mode
            .as_deref()
            .map(|m| {
                u32::from_str_radix(m, 8)
                    .ok()
                    .filter(|m| *m <= 0o7777)
                    .ok_or_else(|| format!("`mode={m}` is not an octal mode like 0755"))
            })
            .transpose()?;
        let seed = self.cache_seed(f)?;
        let options = CacheOptions {
            mode,
            sharing,
            readonly: f.readonly == Some(true),
            seed,
        };
        let path = self.mount_target(f.target.as_deref(), "cache")?;
        let owner = match (uid, gid) {
            (None, None) => None,
            (u, g) => Some(format!("{}:{}", u.unwrap_or(0), g.unwrap_or(0))),
        };
        let volume = match f.id.as_deref().filter(|i| !i.is_empty()) {
            Some(id) => id.to_owned(),
            None => clean_path(f.target.as_deref().unwrap_or_default()),
        };
        Ok(CacheMount {
            volume,
            path,
            owner,
            options,
        })
    }

    /// The seed of a cache mount: `source=` is a path in `from=`; without `from` a cache starts
    /// empty, so BuildKit fails to mount any `source` but the root.
    fn cache_seed(&mut self, f: &Fields) -> Result<Option<CacheSeed>, String> {
        let source = normalize_path(&format!("/{}", f.source.as_deref().unwrap_or_default()));
        match f.from.as_deref() {
            Some(from) => Ok(Some(CacheSeed {
                container: Box::new(self.helper(from)?),
                path: source,
            })),
            None if source == "/" => Ok(None),
            None => Err(format!(
                "the cache mount's `source={}` is a path in its `from=`, and without `from` the cache starts empty: \
                 name the stage or image it comes from (`from=NAME`), or drop `source`",
                f.source.as_deref().unwrap_or_default()
            )),
        }
    }
}

/// Go's `path.Clean`: `.` and `..` folded, slashes collapsed, no trailing slash, `.` for
/// nothing; a relative path stays relative.
fn clean_path(path: &str) -> String {
    if path.starts_with('/') {
        return normalize_path(path);
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            _ => parts.push(part),
        }
    }
    if parts.is_empty() {
        ".".to_owned()
    } else {
        parts.join("/")
    }
}

#[cfg(test)]
mod tests {
    use super::{clean_path, parse_size};

    #[test]
    fn cache_ids_default_to_the_target_cleaned_as_go_cleans_it() {
        for (target, id) in [
            ("/root/.cache/", "/root/.cache"),
            ("/a//b/./c/..", "/a/b"),
            ("cache/", "cache"),
            ("./x/../y", "y"),
            ("../up", "../up"),
            ("./", "."),
        ] {
            assert_eq!(clean_path(target), id, "{target}");
        }
    }

    #[test]
    fn sizes_read_as_buildkit_reads_them() {
        assert_eq!(parse_size("1024"), Ok(1024));
        assert_eq!(parse_size("64m"), Ok(64 << 20));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("2kb"), Ok(2048));
        assert!(parse_size("lots").unwrap_err().contains("64m"));
    }
}
