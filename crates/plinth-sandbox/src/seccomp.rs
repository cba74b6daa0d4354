//! The system call filter of every run: what docker's default seccomp profile refuses to a
//! container that has docker's default capabilities, refused here too.
//!
//! Docker's profile (moby `profiles/seccomp/default.json`) is an allow list; the calls it leaves
//! out for a container without `CAP_SYS_ADMIN`, `CAP_SYS_MODULE`, `CAP_SYS_TIME`, … are exactly
//! the ones that reach the host kernel's shared state: namespaces and mounts, the kernel keyring,
//! BPF and perf, modules, clocks, swap, reboot, `open_by_handle_at`, NUMA policy, `kcmp` and
//! friends. This filter is the complement, a deny list of those calls: whatever docker allows
//! stays allowed, so the two differ only for calls neither profile names (docker refuses every
//! call it does not know, this filter lets new harmless ones through).
//!
//! The filter is built once in the parent (seccompiler allocates) and installed by the child
//! with a raw `seccomp(2)` after `pivot_root`, while it still has `CAP_SYS_ADMIN`, so it needs no
//! `no_new_privs` (setuid binaries such as `su` keep working, as in docker). It checks the
//! architecture first: only native system calls are allowed, which also covers arm64 steps,
//! because qemu-user is a native binary that makes the native calls for the guest. 32-bit
//! (`int 0x80`) calls kill the process and x32 calls are refused with `ENOSYS`: a deny list
//! written in one numbering must not be bypassed through another.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use seccompiler::{
    BackendError, BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition,
    SeccompFilter, SeccompRule, TargetArch, sock_filter,
};

use crate::error::{Error, Result};

/// The installed programs: the deny list (`EPERM`), then `clone3` (`ENOSYS`, so that libc falls
/// back to `clone`, whose flags the first program can read, as docker does).
#[derive(Debug)]
pub(crate) struct Filters {
    pub(crate) programs: [BpfProgram; 2],
}

/// Refused outright with `EPERM`, on every architecture.
const DENIED: &[libc::c_long] = &[
    // Namespaces and mounts (CAP_SYS_ADMIN in docker's profile).
    libc::SYS_unshare,
    libc::SYS_setns,
    libc::SYS_mount,
    libc::SYS_umount2,
    libc::SYS_pivot_root,
    libc::SYS_open_tree,
    libc::SYS_move_mount,
    libc::SYS_fsopen,
    libc::SYS_fsconfig,
    libc::SYS_fsmount,
    libc::SYS_fspick,
    libc::SYS_mount_setattr,
    libc::SYS_sethostname,
    libc::SYS_setdomainname,
    libc::SYS_quotactl,
    libc::SYS_quotactl_fd,
    libc::SYS_fanotify_init,
    libc::SYS_lookup_dcookie,
    libc::SYS_syslog,
    // The kernel keyring is not namespaced.
    libc::SYS_keyctl,
    libc::SYS_add_key,
    libc::SYS_request_key,
    // BPF and perf (CAP_BPF, CAP_PERFMON).
    libc::SYS_bpf,
    libc::SYS_perf_event_open,
    // Other processes' memory and files (CAP_SYS_PTRACE).
    libc::SYS_kcmp,
    libc::SYS_pidfd_getfd,
    libc::SYS_process_madvise,
    // Host administration.
    libc::SYS_reboot,
    libc::SYS_kexec_load,
    libc::SYS_kexec_file_load,
    libc::SYS_init_module,
    libc::SYS_finit_module,
    libc::SYS_delete_module,
    libc::SYS_swapon,
    libc::SYS_swapoff,
    libc::SYS_acct,
    libc::SYS_settimeofday,
    libc::SYS_clock_settime,
    libc::SYS_vhangup,
    libc::SYS_open_by_handle_at,
    libc::SYS_userfaultfd,
    // NUMA policy (CAP_SYS_NICE).
    libc::SYS_get_mempolicy,
    libc::SYS_set_mempolicy,
    libc::SYS_mbind,
    libc::SYS_move_pages,
    libc::SYS_migrate_pages,
    libc::SYS_nfsservctl,
];

/// x86-only calls docker's profile leaves out.
#[cfg(target_arch = "x86_64")]
const DENIED_ARCH: &[libc::c_long] = &[
    libc::SYS_iopl,
    libc::SYS_ioperm,
    libc::SYS_uselib,
    libc::SYS_ustat,
    libc::SYS_sysfs,
    libc::SYS__sysctl,
];
#[cfg(not(target_arch = "x86_64"))]
const DENIED_ARCH: &[libc::c_long] = &[];

/// `clone` flags that make a namespace (docker's mask 0x7E020000).
const NAMESPACE_FLAGS: &[libc::c_int] = &[
    libc::CLONE_NEWNS,
    libc::CLONE_NEWCGROUP,
    libc::CLONE_NEWUTS,
    libc::CLONE_NEWIPC,
    libc::CLONE_NEWUSER,
    libc::CLONE_NEWPID,
    libc::CLONE_NEWNET,
];

/// `personality(2)` values docker allows: `PER_LINUX`, `UNAME26`, `PER_LINUX32`,
/// `PER_LINUX32 | UNAME26` and the query `0xffffffff`.
const PERSONALITIES: &[u64] = &[0, 0x8, 0x20000, 0x20008, 0xffff_ffff];

/// `AF_VSOCK`, which docker's profile refuses to `socket(2)`.
const AF_VSOCK: u64 = 40;

/// Offset of `nr` in `struct seccomp_data`.
const DATA_NR_OFFSET: u32 = 0;
/// `__X32_SYSCALL_BIT`.
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// The filters, built on first use.
pub(crate) fn filters() -> Result<&'static Filters> {
    static FILTERS: OnceLock<std::result::Result<Filters, String>> = OnceLock::new();
    FILTERS
        .get_or_init(|| build().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| Error::InvalidSpec(format!("failed to build the seccomp filter: {e}")))
}

/// A condition on the low 32 bits of argument `arg` (every argument filtered here is an `int`
/// or a flag word whose upper half is unused).
fn cond(
    arg: u8,
    op: SeccompCmpOp,
    value: u64,
) -> std::result::Result<SeccompCondition, BackendError> {
    SeccompCondition::new(arg, SeccompCmpArgLen::Dword, op, value)
}

fn rule(conditions: Vec<SeccompCondition>) -> std::result::Result<SeccompRule, BackendError> {
    SeccompRule::new(conditions)
}

fn build() -> std::result::Result<Filters, BackendError> {
    let arch = TargetArch::try_from(std::env::consts::ARCH)?;
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for nr in DENIED.iter().chain(DENIED_ARCH) {
        rules.insert(*nr, Vec::new());
    }
    let clone_rules = NAMESPACE_FLAGS
        .iter()
        .map(|flag| {
            let flag = *flag as u64;
            rule(vec![cond(0, SeccompCmpOp::MaskedEq(flag), flag)?])
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    rules.insert(libc::SYS_clone, clone_rules);
    let odd_personality = PERSONALITIES
        .iter()
        .map(|p| cond(0, SeccompCmpOp::Ne, *p))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    rules.insert(libc::SYS_personality, vec![rule(odd_personality)?]);
    rules.insert(
        libc::SYS_socket,
        vec![rule(vec![cond(0, SeccompCmpOp::Eq, AF_VSOCK)?])?],
    );
    let deny = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        arch,
    )?;
    let clone3 = SeccompFilter::new(
        BTreeMap::from([(libc::SYS_clone3, Vec::new())]),
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS as u32),
        arch,
    )?;
    Ok(Filters {
        programs: [refuse_x32(deny.try_into()?), refuse_x32(clone3.try_into()?)],
    })
}

/// Insert, right after seccompiler's architecture check (three instructions), a test that
/// refuses x32 system call numbers: they carry the x86-64 audit architecture, so the check lets
/// them through, and a deny list keyed by x86-64 numbers would not see them.
fn refuse_x32(mut program: BpfProgram) -> BpfProgram {
    // BPF_LD | BPF_W | BPF_ABS, BPF_JMP | BPF_JGE | BPF_K and BPF_RET | BPF_K from
    // <linux/bpf_common.h> (BPF_LD, BPF_W and BPF_K are 0).
    const BPF_LD_W_ABS: u16 = 0x20;
    const BPF_JMP_JGE_K: u16 = 0x05 | 0x30;
    const BPF_RET_K: u16 = 0x06;
    let guard = [
        sock_filter {
            code: BPF_LD_W_ABS,
            jt: 0,
            jf: 0,
            k: DATA_NR_OFFSET,
        },
        sock_filter {
            code: BPF_JMP_JGE_K,
            jt: 0,
            jf: 1,
            k: X32_SYSCALL_BIT,
        },
        sock_filter {
            code: BPF_RET_K,
            jt: 0,
            jf: 0,
            k: libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32,
        },
    ];
    let at = 3.min(program.len());
    program.splice(at..at, guard);
    program
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_build_and_start_with_the_arch_check_then_the_x32_guard() {
        let filters = filters().unwrap();
        for program in &filters.programs {
            assert_eq!(program[0].k, 4, "load the arch");
            assert_eq!(program[2].k, libc::SECCOMP_RET_KILL_PROCESS);
            assert_eq!(program[4].k, X32_SYSCALL_BIT);
            assert!(program.len() < 4096, "BPF_MAXINSNS");
        }
    }
}
