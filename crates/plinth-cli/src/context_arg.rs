//! The positional argument of `plinth build` (and `check`, `dockerfile`, `outdated`): a build
//! context as `docker build PATH|-` takes it, or a catalog version.
//!
//! The rule, chosen to be what a docker user guesses: `-` is stdin; with `-f` the argument is
//! always the context; otherwise an existing directory, or anything that starts like a path
//! (`.`, `/`, `~`), is a context, and everything else is a catalog reference
//! (`REPOSITORY[:VERSION]`). Remote contexts (URLs, git) are refused by name.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::exit_status::usage_error;

/// What the positional argument names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Positional {
    /// `-`: a Dockerfile (with an empty context) or a tar context on stdin.
    Stdin,
    /// A build context directory.
    Context(PathBuf),
    /// A catalog version, `REPOSITORY[:VERSION]`.
    Catalog(String),
}

/// Reads the positional argument; `with_file` is whether `-f` was given.
pub fn classify(arg: &str, with_file: bool) -> anyhow::Result<Positional> {
    if arg == "-" {
        return Ok(Positional::Stdin);
    }
    if arg.contains("://") || arg.starts_with("git@") {
        return Err(usage_error(format!(
            "`{arg}`: remote build contexts (URLs, git repositories) are not supported; \
             download or clone it and give the directory"
        )));
    }
    let path = Path::new(arg);
    let looks_like_path = arg.starts_with('.') || arg.starts_with('/') || arg.starts_with('~');
    if with_file || looks_like_path || path.is_dir() {
        if !path.is_dir() {
            return Err(usage_error(format!(
                "the build context `{arg}` is not a directory; give an existing directory \
                 (`.` for the current one)"
            )));
        }
        return Ok(Positional::Context(path.to_path_buf()));
    }
    Ok(Positional::Catalog(arg.to_owned()))
}

/// What stdin held when the context or the Dockerfile was `-`.
pub enum StdinInput {
    /// A Dockerfile's text.
    Dockerfile(String),
    /// A tar context (plain, gzip or zstd), unpacked into this temporary directory.
    Context(tempfile::TempDir),
}

/// Reads stdin: a tar archive (detected by its header, as docker does) is unpacked as the
/// context; anything else is a Dockerfile.
pub fn read_stdin(dockerfile_only: bool) -> anyhow::Result<StdinInput> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .read_to_end(&mut bytes)
        .context("failed to read stdin")?;
    if !dockerfile_only && is_archive(&bytes) {
        let dir = tempfile::Builder::new()
            .prefix("plinth-context-")
            .tempdir()
            .context("failed to create a directory for the context read from stdin")?;
        // The layer unpacker is hardened against hostile archives (escapes, links, devices).
        let options = plinth_oci::layer::UnpackOptions::new().with_preserve_ownership(false);
        plinth_oci::layer::unpack_layer(bytes.as_slice(), dir.path(), &options)
            .context("failed to unpack the build context read from stdin")?;
        return Ok(StdinInput::Context(dir));
    }
    let text = String::from_utf8(bytes).map_err(|_| {
        usage_error("the Dockerfile read from stdin is not UTF-8 text (nor a tar archive)")
    })?;
    Ok(StdinInput::Dockerfile(text))
}

/// Whether `bytes` start like a tar archive or a gzip/zstd stream (which docker also accepts
/// as a context).
fn is_archive(bytes: &[u8]) -> bool {
    let gzip = bytes.starts_with(&[0x1f, 0x8b]);
    let zstd = bytes.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]);
    let tar = bytes.len() >= 512 && &bytes[257..262] == b"ustar";
    gzip || zstd || tar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_positional_rule_is_the_one_documented() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_str().unwrap();
        assert_eq!(classify("-", false).unwrap(), Positional::Stdin);
        assert_eq!(
            classify(d, false).unwrap(),
            Positional::Context(PathBuf::from(d))
        );
        assert_eq!(
            classify(".", false).unwrap(),
            Positional::Context(PathBuf::from("."))
        );
        assert_eq!(
            classify("airbyte/python-connector-base:3.0.0", false).unwrap(),
            Positional::Catalog("airbyte/python-connector-base:3.0.0".into())
        );
        let missing = classify("./no-such-dir", false).unwrap_err().to_string();
        assert!(missing.contains("is not a directory"), "{missing}");
        // With -f the argument is always the context.
        let err = classify("no-such-dir", true).unwrap_err().to_string();
        assert!(err.contains("is not a directory"), "{err}");
        let remote = classify("https://example.com/ctx.tar", false)
            .unwrap_err()
            .to_string();
        assert!(remote.contains("remote build contexts"), "{remote}");
    }

    #[test]
    fn a_tar_on_stdin_is_a_context_and_text_is_a_dockerfile() {
        let mut tar = vec![0u8; 1024];
        tar[257..262].copy_from_slice(b"ustar");
        assert!(is_archive(&tar));
        assert!(is_archive(&[0x1f, 0x8b, 8, 0]));
        assert!(!is_archive(b"FROM busybox\nRUN true\n"));
    }
}
