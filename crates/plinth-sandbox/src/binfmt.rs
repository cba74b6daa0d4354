//! Running foreign-architecture images through qemu-user and binfmt_misc.
//!
//! A sandboxed rootfs does not contain the host's qemu, so the handler must be registered with
//! the `F` (fix binary) flag: the kernel then opens the interpreter at registration time and
//! uses that open file inside any mount namespace or chroot.

use std::path::Path;

use crate::error::{Error, Result};

/// Where binfmt_misc lives.
const BINFMT_DIR: &str = "/proc/sys/fs/binfmt_misc";

/// How to register a handler for an architecture, as Debian's qemu-user-static does.
struct Handler {
    /// OCI architecture name.
    oci_arch: &'static str,
    /// qemu's name, used for the entry (`qemu-<name>`) and the binary (`qemu-<name>-static`).
    qemu: &'static str,
    magic: &'static str,
    mask: &'static str,
}

const HANDLERS: &[Handler] = &[
    Handler {
        oci_arch: "arm64",
        qemu: "aarch64",
        magic: r"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00",
        mask: r"\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff",
    },
    Handler {
        oci_arch: "amd64",
        qemu: "x86_64",
        magic: r"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x3e\x00",
        mask: r"\xff\xff\xff\xff\xff\xfe\xfe\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff",
    },
    Handler {
        oci_arch: "arm",
        qemu: "arm",
        magic: r"\x7fELF\x01\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x28\x00",
        mask: r"\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff",
    },
];

/// The OCI architecture of this machine.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

fn handler(arch: &str) -> Result<&'static Handler> {
    HANDLERS.iter().find(|h| h.oci_arch == arch).ok_or_else(|| {
        Error::Binfmt(format!(
            "running `{arch}` images on `{}` is not supported (supported: {})",
            host_arch(),
            HANDLERS
                .iter()
                .map(|h| h.oci_arch)
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })
}

/// A binfmt_misc entry as the kernel prints it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) enabled: bool,
    pub(crate) interpreter: String,
    pub(crate) flags: String,
}

pub(crate) fn parse_entry(text: &str) -> Entry {
    let mut entry = Entry {
        enabled: false,
        interpreter: String::new(),
        flags: String::new(),
    };
    for line in text.lines() {
        match line.split_once(' ') {
            Some(("interpreter", v)) => entry.interpreter = v.trim().to_owned(),
            Some(("flags:", v)) => entry.flags = v.trim().to_owned(),
            _ if line.trim() == "enabled" => entry.enabled = true,
            _ => {}
        }
    }
    entry
}

fn how_to_enable(qemu: &str) -> String {
    format!(
        "install and register it with `apt-get install qemu-user-static binfmt-support` and \
         `update-binfmts --enable qemu-{qemu}` (the handler needs the F flag, which Debian's \
         qemu-user-static sets), or call plinth_sandbox::binfmt::ensure as root"
    )
}

/// Mount binfmt_misc when it is not mounted and we are root.
fn mount_binfmt_misc() {
    if Path::new(BINFMT_DIR).join("status").exists() || !nix::unistd::geteuid().is_root() {
        return;
    }
    if let Err(e) = nix::mount::mount(
        Some("binfmt_misc"),
        BINFMT_DIR,
        Some("binfmt_misc"),
        nix::mount::MsFlags::empty(),
        None::<&str>,
    ) {
        tracing::debug!(error = %e, "mounting binfmt_misc failed");
    }
}

/// Check that binaries for `arch` (an OCI architecture such as `arm64`) can run in a sandbox on
/// this machine: native, or through a binfmt_misc handler registered with the `F` flag.
pub fn check(arch: &str) -> Result<()> {
    if arch == host_arch() {
        return Ok(());
    }
    let handler = handler(arch)?;
    mount_binfmt_misc();
    if !Path::new(BINFMT_DIR).join("status").exists() {
        return Err(Error::Binfmt(format!(
            "binfmt_misc is not mounted at {BINFMT_DIR}, so `{arch}` binaries cannot run; mount it with \
             `mount -t binfmt_misc binfmt_misc {BINFMT_DIR}` and {}",
            how_to_enable(handler.qemu)
        )));
    }
    if std::fs::read_to_string(Path::new(BINFMT_DIR).join("status"))
        .is_ok_and(|s| s.trim() == "disabled")
    {
        return Err(Error::Binfmt(format!(
            "binfmt_misc is disabled on this machine; enable it with `echo 1 > {BINFMT_DIR}/status`"
        )));
    }
    let path = Path::new(BINFMT_DIR).join(format!("qemu-{}", handler.qemu));
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Err(Error::Binfmt(format!(
            "no binfmt_misc handler for `{arch}` is registered ({} is missing); {}",
            path.display(),
            how_to_enable(handler.qemu)
        )));
    };
    let entry = parse_entry(&text);
    if !entry.enabled {
        return Err(Error::Binfmt(format!(
            "the binfmt_misc handler qemu-{} is disabled; enable it with `update-binfmts --enable qemu-{}`",
            handler.qemu, handler.qemu
        )));
    }
    if !entry.flags.contains('F') {
        return Err(Error::Binfmt(format!(
            "the binfmt_misc handler qemu-{} (interpreter `{}`) lacks the F flag, so the interpreter \
             cannot be found inside a sandbox's rootfs; re-register it with the F flag: \
             `update-binfmts --disable qemu-{q}` then {}",
            handler.qemu,
            entry.interpreter,
            how_to_enable(handler.qemu),
            q = handler.qemu
        )));
    }
    Ok(())
}

/// Like [`check`], but when no handler for `arch` is registered and `qemu-<arch>-static` is
/// installed in `/usr/bin`, register it with the `F` flag first (root only).
pub fn ensure(arch: &str) -> Result<()> {
    if arch == host_arch() {
        return Ok(());
    }
    let handler = handler(arch)?;
    mount_binfmt_misc();
    let entry = Path::new(BINFMT_DIR).join(format!("qemu-{}", handler.qemu));
    let interpreter = format!("/usr/bin/qemu-{}-static", handler.qemu);
    if !entry.exists() && Path::new(&interpreter).exists() && nix::unistd::geteuid().is_root() {
        let registration = format!(
            ":qemu-{}:M::{}:{}:{interpreter}:F",
            handler.qemu, handler.magic, handler.mask
        );
        let register = Path::new(BINFMT_DIR).join("register");
        std::fs::write(&register, registration.as_bytes()).map_err(|e| {
            Error::Binfmt(format!(
                "failed to register `{interpreter}` in {}: {e}; {}",
                register.display(),
                how_to_enable(handler.qemu)
            ))
        })?;
        tracing::info!(%interpreter, "registered binfmt_misc handler with the F flag");
    }
    check(arch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kernel_entries() {
        let e = parse_entry(
            "enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: PF\noffset 0\nmagic 7f45\nmask ffff\n",
        );
        assert_eq!(
            e,
            Entry {
                enabled: true,
                interpreter: "/usr/libexec/qemu-binfmt/aarch64-binfmt-P".into(),
                flags: "PF".into()
            }
        );
        assert!(!parse_entry("disabled\ninterpreter /x\nflags: \n").enabled);
    }

    #[test]
    fn native_arch_needs_nothing_and_unknown_arch_is_explained() {
        check(host_arch()).unwrap();
        let err = check("mips64le").unwrap_err().to_string();
        assert!(err.contains("not supported"), "{err}");
    }

    #[test]
    fn hint_names_the_packages_and_the_flag() {
        let hint = how_to_enable("aarch64");
        assert!(hint.contains("apt-get install qemu-user-static binfmt-support"));
        assert!(hint.contains("update-binfmts --enable qemu-aarch64"));
        assert!(hint.contains("F flag"));
    }
}
