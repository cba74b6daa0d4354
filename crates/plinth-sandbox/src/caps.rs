//! The capabilities a sandboxed root process keeps.
//!
//! Docker's default set minus `CAP_MKNOD`: without a device cgroup to stop a process from
//! opening the host's disks through a device node it made itself, creating device nodes must be
//! impossible. Everything that would let a step reach the host kernel or other processes
//! (`CAP_SYS_ADMIN` for mount, `CAP_SYS_MODULE`, `CAP_SYS_PTRACE`, `CAP_DAC_READ_SEARCH` for
//! `open_by_handle_at`, `CAP_NET_ADMIN` on the host network, …) is dropped from every set,
//! including the bounding set, so not even a setuid binary can get it back.

/// `CAP_CHOWN`.
pub const CAP_CHOWN: u32 = 0;
/// `CAP_DAC_OVERRIDE`.
pub const CAP_DAC_OVERRIDE: u32 = 1;
/// `CAP_FOWNER`.
pub const CAP_FOWNER: u32 = 3;
/// `CAP_FSETID`.
pub const CAP_FSETID: u32 = 4;
/// `CAP_KILL`.
pub const CAP_KILL: u32 = 5;
/// `CAP_SETGID`.
pub const CAP_SETGID: u32 = 6;
/// `CAP_SETUID`.
pub const CAP_SETUID: u32 = 7;
/// `CAP_SETPCAP`.
pub const CAP_SETPCAP: u32 = 8;
/// `CAP_NET_BIND_SERVICE`.
pub const CAP_NET_BIND_SERVICE: u32 = 10;
/// `CAP_NET_RAW`.
pub const CAP_NET_RAW: u32 = 13;
/// `CAP_SYS_CHROOT`.
pub const CAP_SYS_CHROOT: u32 = 18;
/// `CAP_AUDIT_WRITE`.
pub const CAP_AUDIT_WRITE: u32 = 29;
/// `CAP_SETFCAP`.
pub const CAP_SETFCAP: u32 = 31;

/// The capabilities kept, as a bit mask.
pub const DEFAULT_KEEP: u64 = mask(&[
    CAP_CHOWN,
    CAP_DAC_OVERRIDE,
    CAP_FOWNER,
    CAP_FSETID,
    CAP_KILL,
    CAP_SETGID,
    CAP_SETUID,
    CAP_SETPCAP,
    CAP_NET_BIND_SERVICE,
    CAP_NET_RAW,
    CAP_SYS_CHROOT,
    CAP_AUDIT_WRITE,
    CAP_SETFCAP,
]);

const fn mask(caps: &[u32]) -> u64 {
    let mut m = 0u64;
    let mut i = 0;
    while i < caps.len() {
        m |= 1 << caps[i];
        i += 1;
    }
    m
}

/// The highest capability number the running kernel knows (`/proc/sys/kernel/cap_last_cap`).
pub(crate) fn last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dangerous_capabilities_are_not_kept() {
        for dropped in [2u32, 12, 16, 17, 19, 21, 22, 25, 27] {
            assert_eq!(
                DEFAULT_KEEP & (1 << dropped),
                0,
                "capability {dropped} must be dropped"
            );
        }
        assert_ne!(DEFAULT_KEEP & (1 << CAP_SETUID), 0);
    }
}
