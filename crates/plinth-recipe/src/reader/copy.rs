//! `COPY` and `ADD`.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use plinth_oci::Digest;

use super::context_ignore::{ContextIgnore, context_relative};
use super::{Flags, Reader, glob, json_array};
use crate::archive::{ArchiveCompression, sniff_archive};
use crate::chmod::{FileMode, SymbolicMode};
use crate::inputs::resolve_in_context;
use crate::op::{DirectorySource, FileSource, Op};
use crate::source::ImageSource;
use crate::state::normalize_path;
use crate::{Container, Error};

/// The flags of a `COPY`/`ADD`, expanded.
#[derive(Default)]
struct CopyFlags {
    from: Option<String>,
    owner: Option<String>,
    mode: Option<FileMode>,
    checksum: Option<Digest>,
    /// `ADD --unpack`: extract a local archive (the default) or copy it as a file.
    unpack: Option<bool>,
}

impl Reader<'_> {
    pub(super) fn copy_or_add(
        &mut self,
        keyword: &str,
        flags: Flags,
        rest: &str,
    ) -> Result<(), String> {
        let is_add = keyword == "ADD";
        let flags = self.copy_flags(keyword, flags)?;
        let (inline, args) = self.copy_words(keyword, rest)?;
        let Some((dest, sources)) = args.split_last() else {
            return Err(format!(
                "{keyword} needs at least one source and a destination"
            ));
        };
        // The history names the sources and destination as written, heredocs as `<<NAME`.
        let written: Vec<String> = sources
            .iter()
            .cloned()
            .chain(inline.iter().map(|(name, _)| format!("<<{name}")))
            .collect();
        let line = crate::history::copy_line(keyword, &written, dest);
        // `.` and a trailing `/.` name directories: the sources go inside, as with a trailing
        // `/` (BuildKit's `NormalizePath` keeps them; `..` is cleaned away like any path).
        let dest = if dest == "." || dest.ends_with("/.") {
            format!("{dest}/")
        } else {
            dest.clone()
        };
        let dest = &dest;
        if sources.is_empty() && inline.is_empty() {
            return Err(format!(
                "{keyword} needs at least one source and a destination"
            ));
        }
        let ignore = ContextIgnore::load(self.options)?;
        let sources = self.expand_sources(keyword, sources, dest, &flags, ignore.as_ref())?;
        if sources.len() + inline.len() > 1 && !dest.ends_with('/') {
            return Err(format!(
                "with several sources, the {keyword} destination `{dest}` must end with `/`"
            ));
        }
        let helper = match &flags.from {
            Some(name) => Some(self.helper(name)?),
            None => None,
        };
        let mut ops = Vec::new();
        for src in &sources {
            let op = match &helper {
                Some(helper) => from_helper_op(helper, src, dest, &flags),
                None if is_add && is_url(src) => add_url_op(src, dest, &flags)?,
                None => self.host_source_op(keyword, src, dest, ignore.as_ref(), &flags)?,
            };
            ops.push(op);
        }
        // BuildKit copies the heredoc files after the other sources, each made with mode 0644.
        for (name, data) in inline {
            let path = if dest.ends_with('/') {
                format!("{dest}{name}")
            } else {
                dest.clone()
            };
            ops.push(Op::File {
                path,
                source: FileSource::Bytes(data.into_bytes()),
                owner: flags.owner.clone(),
                // A heredoc file starts as 0644, which a symbolic `--chmod` changes.
                mode: Some(FileMode::Octal(
                    flags.mode.as_ref().map_or(0o644, |m| m.apply(0o644, false)),
                )),
            });
        }
        for op in ops {
            self.push(op);
        }
        self.history(line, true);
        Ok(())
    }

    fn copy_flags(&self, keyword: &str, flags: Flags) -> Result<CopyFlags, String> {
        let is_add = keyword == "ADD";
        let mut out = CopyFlags::default();
        for (name, value) in flags {
            let value = match value {
                Some(v) => self.expand(&v)?,
                // BuildKit's boolean flags stand alone for `true`.
                None if matches!(
                    name.as_str(),
                    "link" | "unpack" | "parents" | "keep-git-dir"
                ) =>
                {
                    "true".to_owned()
                }
                None => return Err(format!("the {keyword} flag `--{name}` needs a value")),
            };
            match name.as_str() {
                "from" if !is_add => out.from = Some(value),
                "chown" => out.owner = chown_owner(&value),
                "chmod" => out.mode = Some(parse_chmod(&value)?),
                "checksum" if is_add => {
                    out.checksum = Some(
                        value
                            .parse::<Digest>()
                            .map_err(|e| format!("`--checksum`: {e}"))?,
                    );
                }
                "link" => {}
                "unpack" if is_add => out.unpack = Some(parse_flag_bool(keyword, &name, &value)?),
                "parents" if !is_add => {
                    if parse_flag_bool(keyword, &name, &value)? {
                        return Err(
                            "`COPY --parents` is not supported: copy each source to the path it should keep \
                             (`COPY a/b/x.txt /dest/a/b/x.txt`), one COPY per directory"
                                .into(),
                        );
                    }
                }
                "keep-git-dir" if is_add => {
                    return Err(
                        "`ADD --keep-git-dir` applies to git repositories, which plinth does not fetch: \
                         clone the repository in a RUN step (with git in the image) instead"
                            .into(),
                    );
                }
                "exclude" => {
                    return Err(format!(
                        "`{keyword} --exclude` is not supported: list the sources to copy instead, \
                         or exclude the files from the context in .dockerignore"
                    ));
                }
                other => return Err(format!("the {keyword} flag `--{other}` is not supported")),
            }
        }
        Ok(out)
    }

    /// Heredoc sources (`<<EOF`: a file name and its contents) apart from the expanded words
    /// (paths or URLs, the destination last).
    #[allow(clippy::type_complexity, reason = "a private pair of lists")]
    fn copy_words(
        &self,
        keyword: &str,
        rest: &str,
    ) -> Result<(Vec<(String, String)>, Vec<String>), String> {
        let raw = match json_array(rest)? {
            Some(list) => list,
            None => rest.split_whitespace().map(str::to_owned).collect(),
        };
        let mut inline: Vec<(String, String)> = Vec::new();
        let mut args = Vec::with_capacity(raw.len());
        for (i, a) in raw.iter().enumerate() {
            match self.heredoc_source(a)? {
                Some(_) if i + 1 == raw.len() => {
                    return Err(format!(
                        "a heredoc cannot be the {keyword} destination: give a path after the sources"
                    ));
                }
                Some(file) => inline.push(file),
                None => args.push(self.expand(a)?),
            }
        }
        Ok((inline, args))
    }

    /// The sources with context paths cleaned and wildcards expanded against the context, in
    /// lexical order, as BuildKit expands them.
    fn expand_sources(
        &self,
        keyword: &str,
        sources: &[String],
        dest: &str,
        flags: &CopyFlags,
        ignore: Option<&ContextIgnore>,
    ) -> Result<Vec<String>, String> {
        let mut expanded: Vec<String> = Vec::with_capacity(sources.len());
        for src in sources {
            let from_context = flags.from.is_none() && !is_url(src);
            // BuildKit cleans a context source as a path under `/`: `..` stops at the
            // context root (`COPY ../x` reads the context's `x`).
            let src = if from_context {
                clean_context_path(src)
            } else {
                src.clone()
            };
            if !from_context || !glob::has_wildcard(&src) {
                expanded.push(src);
                continue;
            }
            let mut matches = glob::expand_in_context(&self.options.context_dir, &src)?;
            if let Some(ignore) = ignore {
                matches.retain(|m| ignore.visible(&self.options.context_dir, m));
            }
            if matches.is_empty() {
                return Err(format!(
                    "no file in the build context `{}` matches the {keyword} source `{src}`",
                    self.options.context_dir.display()
                ));
            }
            if matches.len() > 1 && !dest.ends_with('/') {
                return Err(format!(
                    "`{src}` matches several files, so the {keyword} destination `{dest}` must end with `/`"
                ));
            }
            expanded.extend(matches);
        }
        Ok(expanded)
    }

    /// A context file or directory; for `ADD`, a local archive to extract.
    fn host_source_op(
        &self,
        keyword: &str,
        src: &str,
        dest: &str,
        ignore: Option<&ContextIgnore>,
        flags: &CopyFlags,
    ) -> Result<Op, String> {
        if flags.checksum.is_some() {
            return Err("`ADD --checksum` applies to URLs only".into());
        }
        let op = self.context_op(
            keyword,
            src,
            dest,
            ignore,
            (flags.owner.clone(), flags.mode.clone()),
        )?;
        Ok(match op {
            Op::File {
                source: FileSource::HostFile(host),
                owner,
                ..
            } if keyword == "ADD"
                && flags.unpack != Some(false)
                && archive_kind(src, &host)?.is_some() =>
            {
                Op::Directory {
                    path: dest.to_owned(),
                    source: DirectorySource::HostArchive(host),
                    owner,
                    // Only `--chmod`: the archive's entries keep their own modes.
                    mode: flags.mode.clone(),
                }
            }
            op => op,
        })
    }

    /// The container `--from` names: an earlier stage, or an image.
    pub(super) fn helper(&self, name: &str) -> Result<Container, String> {
        if let Some(stage) = self.find_stage(name) {
            if !stage.needed {
                return Err(format!(
                    "`--from={name}` names a stage that was judged unneeded, so it was not read: \
                     name the stage by its `AS` name"
                ));
            }
            return Ok(stage.container.clone());
        }
        if self
            .plan
            .is_later_stage(name, self.froms_seen.saturating_sub(1))
        {
            return Err(format!(
                "`--from={name}` names a stage defined after this one: move that stage before it, as BuildKit requires"
            ));
        }
        if name.parse::<usize>().is_ok() {
            return Err(format!(
                "`--from={name}` names a stage that does not exist yet"
            ));
        }
        let source = ImageSource::parse(name).map_err(|e| {
            format!("`--from={name}` is neither an earlier stage nor an image: {e}")
        })?;
        Ok(Container::from_image(source))
    }

    fn context_op(
        &self,
        keyword: &str,
        src: &str,
        dest: &str,
        ignore: Option<&ContextIgnore>,
        (owner, mode): (Option<String>, Option<FileMode>),
    ) -> Result<Op, String> {
        // `src` is clean (see `clean_context_path`): no `..`, relative to the context root.
        let relative = Path::new(src);
        // Symlinks resolve inside the context, as BuildKit resolves them: one that points out
        // of the context finds nothing rather than the host's file.
        let not_found = |e: &dyn std::fmt::Display| {
            format!(
                "the {keyword} source `{src}` is not in the build context `{}`: {e}",
                self.options.context_dir.display()
            )
        };
        let host =
            resolve_in_context(&self.options.context_dir, relative).map_err(|e| match e {
                Error::NotInContext { resolved, .. } => not_found(&format!(
                    "it resolves to `{}` inside the context, which does not exist there \
                 (symlinks are followed inside the context only)",
                    resolved.display()
                )),
                other => not_found(&other),
            })?;
        let meta = std::fs::metadata(&host).map_err(|e| not_found(&e))?;
        let within = context_relative(&self.options.context_dir, &host);
        if let Some(ignore) = ignore {
            let context = &self.options.context_dir;
            for rel in [src, within.as_str()] {
                if rel != "." && !ignore.visible(context, rel) {
                    return Err(format!(
                        "the {keyword} source `{src}` is excluded by {} (`{rel}`), so BuildKit never receives it: \
                         remove the pattern that matches it, or add `!{rel}` after it",
                        ignore.file
                    ));
                }
            }
        }
        if meta.is_dir() {
            let source = match ignore {
                Some(ignore) => DirectorySource::HostIgnoring {
                    path: host,
                    within,
                    ignore: ignore.patterns.clone(),
                },
                None => DirectorySource::Host(host),
            };
            return Ok(Op::Directory {
                path: dest.to_owned(),
                source,
                owner,
                mode,
            });
        }
        let path = if dest.ends_with('/') {
            let name = relative
                .file_name()
                .and_then(|n| n.to_str())
                .ok_or_else(|| format!("`{src}` has no file name"))?;
            format!("{dest}{name}")
        } else {
            dest.to_owned()
        };
        // BuildKit keeps a context file's permission bits unless `--chmod` says otherwise;
        // the recipe holds them explicitly (a symbolic `--chmod` applied to them) so both
        // engines write the same.
        let own = meta.permissions().mode() & 0o7777;
        let mode = Some(FileMode::Octal(mode.map_or(own, |m| m.apply(own, false))));
        Ok(Op::File {
            path,
            source: FileSource::HostFile(host),
            owner,
            mode,
        })
    }
}

/// A context source as BuildKit's file operation cleans it (Go's `filepath.Join("/", src)`),
/// relative to the context root: `.` and empty elements dropped, `..` removing the element
/// before it and stopping at the root. The context itself is `.`.
pub(super) fn clean_context_path(src: &str) -> String {
    match normalize_path(src).trim_start_matches('/') {
        "" => ".".to_owned(),
        rel => rel.to_owned(),
    }
}

/// BuildKit's ADD extracts a local file that is a tar archive, plain or compressed, whatever
/// its name: tell one by its content.
fn archive_kind(src: &str, host: &Path) -> Result<Option<ArchiveCompression>, String> {
    sniff_archive(host).map_err(|e| format!("failed to read the ADD source `{src}`: {e}"))
}

/// `--chown` as BuildKit's frontend reads it (measured): an empty user or group is id 0
/// (`:grp` is `0:grp`, `user:` is `user:0`); an empty value is no chown at all.
fn chown_owner(value: &str) -> Option<String> {
    if value.is_empty() {
        return None;
    }
    let zero_if_empty = |part: &str| {
        if part.is_empty() {
            "0".to_owned()
        } else {
            part.to_owned()
        }
    };
    Some(match value.split_once(':') {
        Some((user, group)) => format!("{}:{}", zero_if_empty(user), zero_if_empty(group)),
        None => value.to_owned(),
    })
}

fn is_url(src: &str) -> bool {
    src.starts_with("https://") || src.starts_with("http://")
}

/// `COPY --from=STAGE|IMAGE SRC`: a path of the helper container's tree.
fn from_helper_op(helper: &Container, src: &str, dest: &str, flags: &CopyFlags) -> Op {
    // A wildcard stays in the path: the engine expands it against the stage's files once the
    // stage is built, BuildKit when it copies.
    let path = if src.starts_with('/') {
        src.to_owned()
    } else {
        format!("/{src}")
    };
    Op::Directory {
        path: dest.to_owned(),
        source: DirectorySource::Container {
            container: Box::new(helper.clone()),
            path,
        },
        owner: flags.owner.clone(),
        mode: flags.mode.clone(),
    }
}

/// The name BuildKit's frontend gives a download in a destination directory: the last element
/// of the URL's decoded path (Go's `path.Base`), `__unnamed__` when there is none. A
/// `Content-Disposition` header does not change it.
fn download_name(src: &str) -> String {
    let path = url::Url::parse(src)
        .map(|u| {
            percent_encoding::percent_decode_str(u.path())
                .decode_utf8_lossy()
                .into_owned()
        })
        .unwrap_or_default();
    match path.trim_end_matches('/').rsplit('/').next() {
        Some(name) if !name.is_empty() && name != "." => name.to_owned(),
        _ => "__unnamed__".to_owned(),
    }
}

/// `ADD URL`: a download, named after the URL when the destination is a directory.
fn add_url_op(src: &str, dest: &str, flags: &CopyFlags) -> Result<Op, String> {
    if src.ends_with(".git") || src.contains(".git#") {
        return Err(format!(
            "ADD of the git repository `{src}` is not supported: clone it in a RUN step (with git in the image) instead"
        ));
    }
    if flags.unpack == Some(true) {
        return Err(format!(
            "`ADD --unpack=true` of the URL `{src}` is not supported: plinth downloads a URL as a file; \
             extract it in a RUN step after the ADD"
        ));
    }
    let path = if dest.ends_with('/') {
        format!("{dest}{}", download_name(src))
    } else {
        dest.to_owned()
    };
    Ok(Op::File {
        path,
        source: FileSource::Url {
            url: src.to_owned(),
            sha256: flags.checksum.clone(),
        },
        owner: flags.owner.clone(),
        // A download starts as 0600, which a symbolic `--chmod` changes.
        mode: flags
            .mode
            .as_ref()
            .map(|m| FileMode::Octal(m.apply(0o600, false))),
    })
}

/// A boolean flag's value as BuildKit's parser reads it (any case).
fn parse_flag_bool(keyword: &str, name: &str, value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(format!(
            "`{keyword} --{name}={other}`: the value is `true` or `false`"
        )),
    }
}

/// A `--chmod` value: octal (`755`, at most `7777`) or symbolic (`u=rwX,go=rX`), as the
/// current frontend reads it.
fn parse_chmod(value: &str) -> Result<FileMode, String> {
    if let Ok(bits) = u32::from_str_radix(value, 8) {
        return if bits <= 0o7777 {
            Ok(FileMode::Octal(bits))
        } else {
            Err(format!("`--chmod={value}` is more than 7777"))
        };
    }
    SymbolicMode::parse(value).map(FileMode::Symbolic).ok_or_else(|| {
        format!("`--chmod={value}` is neither an octal mode like 755 nor a symbolic one like u=rwX,go=rX")
    })
}
