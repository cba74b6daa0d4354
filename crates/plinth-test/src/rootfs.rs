//! A minimal root file system made from Debian's static busybox.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result, io_error};

/// Where the `busybox-static` package installs its binary.
pub const BUSYBOX_PATH: &str = "/bin/busybox";

/// The applets linked in `/bin` of [`busybox_rootfs`].
pub const BUSYBOX_APPLETS: &[&str] = &[
    "sh", "true", "false", "echo", "cat", "ls", "uname", "id", "env", "date", "test", "touch",
    "mkdir", "rm", "printenv", "whoami", "sleep", "grep", "wc", "stat", "chmod", "ln", "cp", "mv",
    "head", "sed",
];

/// `/etc/passwd` of [`busybox_rootfs`]: root, airbyte (uid 1000) and nobody.
pub const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
airbyte:x:1000:1000:airbyte:/home/airbyte:/bin/sh\n\
nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";

/// `/etc/group` of [`busybox_rootfs`].
pub const GROUP: &str = "root:x:0:\nairbyte:x:1000:\nnogroup:x:65534:\n";

/// Fills `dir` with a tiny root file system: `/bin/busybox` (static), symlinks for
/// [`BUSYBOX_APPLETS`], `/usr/bin/env`, `/etc/passwd` and `/etc/group` ([`PASSWD`], [`GROUP`]),
/// and the empty directories a sandbox mounts over (`/proc`, `/dev`, `/sys`, `/tmp`, ...).
///
/// The result is deterministic apart from mtimes and owners, so tests can build images from it.
/// Fails when `/bin/busybox` is missing or dynamically linked (install `busybox-static`).
pub fn busybox_rootfs(dir: &Path) -> Result<()> {
    let busybox = Path::new(BUSYBOX_PATH);
    check_static_elf(busybox)?;
    for sub in [
        "bin",
        "etc",
        "usr/bin",
        "proc",
        "dev",
        "sys",
        "tmp",
        "root",
        "home/airbyte",
        "var/tmp",
    ] {
        let path = dir.join(sub);
        std::fs::create_dir_all(&path).map_err(io_error("create directory", &path))?;
    }
    set_mode(&dir.join("tmp"), 0o1777)?;
    set_mode(&dir.join("var/tmp"), 0o1777)?;
    set_mode(&dir.join("root"), 0o700)?;

    let target = dir.join("bin/busybox");
    let tmp = dir.join("bin/.busybox.tmp");
    std::fs::copy(busybox, &tmp).map_err(io_error("copy busybox to", &tmp))?;
    set_mode(&tmp, 0o755)?;
    std::fs::rename(&tmp, &target).map_err(io_error("rename", &tmp))?;

    for applet in BUSYBOX_APPLETS {
        symlink("busybox", &dir.join("bin").join(applet))?;
    }
    symlink("../../bin/busybox", &dir.join("usr/bin/env"))?;
    write(&dir.join("etc/passwd"), PASSWD, 0o644)?;
    write(&dir.join("etc/group"), GROUP, 0o644)?;
    Ok(())
}

/// Creates a fresh temp directory holding [`busybox_rootfs`].
pub fn busybox_rootfs_tempdir() -> Result<tempfile::TempDir> {
    let dir = tempfile::Builder::new()
        .prefix("plinth-rootfs-")
        .tempdir()
        .map_err(io_error("create temp directory", std::env::temp_dir()))?;
    busybox_rootfs(dir.path())?;
    Ok(dir)
}

fn symlink(target: &str, link: &PathBuf) -> Result<()> {
    match std::fs::symlink_metadata(link) {
        Ok(_) => std::fs::remove_file(link).map_err(io_error("remove", link))?,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => return Err(io_error("inspect", link)(err)),
    }
    std::os::unix::fs::symlink(target, link).map_err(io_error("create symlink", link))
}

fn write(path: &Path, contents: &str, mode: u32) -> Result<()> {
    std::fs::write(path, contents).map_err(io_error("write", path))?;
    set_mode(path, mode)
}

fn set_mode(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(io_error("chmod", path))
}

/// Fails unless `path` is an ELF executable without a program interpreter (statically linked):
/// a dynamic busybox would fail inside the rootfs with a confusing "not found".
fn check_static_elf(path: &Path) -> Result<()> {
    let bytes = std::fs::read(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => Error::Environment(format!(
            "`{}` does not exist; install it with `apt-get install -y busybox-static`",
            path.display()
        )),
        _ => io_error("read", path)(source),
    })?;
    match elf_has_interpreter(&bytes) {
        Some(false) => Ok(()),
        Some(true) => Err(Error::Environment(format!(
            "`{}` is dynamically linked; install the static one with `apt-get install -y busybox-static`",
            path.display()
        ))),
        None => Err(Error::Environment(format!(
            "`{}` is not a 64-bit little-endian ELF file",
            path.display()
        ))),
    }
}

/// Whether a 64-bit little-endian ELF image has a `PT_INTERP` program header; `None` if it is
/// not such an ELF image.
fn elf_has_interpreter(bytes: &[u8]) -> Option<bool> {
    const PT_INTERP: u32 = 3;
    if bytes.get(..4)? != b"\x7fELF" || *bytes.get(4)? != 2 || *bytes.get(5)? != 1 {
        return None;
    }
    let u16_at = |at: usize| Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?));
    let u32_at = |at: usize| Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?));
    let u64_at = |at: usize| Some(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?));
    let phoff = usize::try_from(u64_at(0x20)?).ok()?;
    let phentsize = usize::from(u16_at(0x36)?);
    let phnum = usize::from(u16_at(0x38)?);
    for index in 0..phnum {
        if u32_at(phoff + index * phentsize)? == PT_INTERP {
            return Some(true);
        }
    }
    Some(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rootfs_has_busybox_applets_and_users() {
        let dir = busybox_rootfs_tempdir().unwrap();
        let root = dir.path();
        assert!(root.join("bin/busybox").is_file());
        for applet in ["sh", "whoami", "printenv", "uname"] {
            assert_eq!(
                std::fs::read_link(root.join("bin").join(applet)).unwrap(),
                Path::new("busybox")
            );
        }
        let passwd = std::fs::read_to_string(root.join("etc/passwd")).unwrap();
        assert!(passwd.contains("airbyte:x:1000:1000:"));
        // Running it again over the same directory works (symlinks are replaced).
        busybox_rootfs(root).unwrap();
        let out = std::process::Command::new(root.join("bin/sh"))
            .arg("-c")
            .arg("echo ok")
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "ok\n");
    }

    #[test]
    fn dynamic_binaries_are_detected() {
        // `sh` on the build machine is dynamically linked; busybox-static is not.
        let sh = std::fs::read(
            crate::external::find_in_path("sh")
                .unwrap()
                .canonicalize()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(elf_has_interpreter(&sh), Some(true));
        assert_eq!(
            elf_has_interpreter(&std::fs::read(BUSYBOX_PATH).unwrap()),
            Some(false)
        );
        assert_eq!(elf_has_interpreter(b"#!/bin/sh\n"), None);
    }
}
