//! The system calls the sandbox's child process makes, behind a narrow trait.
//!
//! The child runs between `clone` and `execve` in a copy of a possibly multi-threaded process,
//! so it may only make async-signal-safe calls: no allocation, no locks, no logging. Every
//! implementation of [`Syscalls`] must keep to that. [`linux::Linux`] makes the real calls;
//! in unit tests `recording::Recording` logs them so the ordering and flag logic of the
//! [`init`](crate::process::init) stage can be checked without root.

use std::ffi::{CStr, c_char};
use std::os::fd::RawFd;

use nix::errno::Errno;
use nix::mount::MsFlags;

use crate::scaffold::MountPointKind;

pub(crate) mod linux;
#[cfg(test)]
pub(crate) mod recording;

/// Result of a system call in the child.
pub(crate) type SysResult<T = ()> = Result<T, Errno>;

/// The system calls of the child's setup stage. Implementations must be async-signal-safe.
pub(crate) trait Syscalls {
    /// Mark every fd ≥ 3 close-on-exec, point 0/1/2 at the given fds, reset the signal mask and
    /// dispositions, die with the parent, start a new session and set umask 0.
    fn prepare_process(&self, stdin: RawFd, stdout: RawFd, stderr: RawFd) -> SysResult;
    /// `mount(2)`.
    fn mount(
        &self,
        source: Option<&CStr>,
        target: &CStr,
        fstype: Option<&CStr>,
        flags: MsFlags,
        data: Option<&CStr>,
    ) -> SysResult;
    /// `umount2(target, MNT_DETACH)`.
    fn umount_detach(&self, target: &CStr) -> SysResult;
    /// Open a host directory (`O_DIRECTORY | O_CLOEXEC`).
    fn open_dir(&self, path: &CStr) -> SysResult<RawFd>;
    /// `openat2(root, rel, O_PATH | O_CLOEXEC, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`:
    /// symlinks and `..` are resolved as if `root` were `/`, so they can't leave it.
    fn open_in_root(&self, root: RawFd, rel: &CStr) -> SysResult<RawFd>;
    /// Create the mount point `name` of `kind` in the directory `parent` (resolved in `root`).
    fn create_in_root(
        &self,
        root: RawFd,
        parent: &CStr,
        name: &CStr,
        kind: MountPointKind,
    ) -> SysResult;
    /// `mknodat(dir, name, S_IFCHR | 0666, makedev(major, minor))`.
    fn mknod_char(&self, dir: RawFd, name: &CStr, major: u32, minor: u32) -> SysResult;
    /// `symlinkat(target, dir, name)`.
    fn symlink_in(&self, dir: RawFd, target: &CStr, name: &CStr) -> SysResult;
    /// `mkdirat(dir, name, mode)`.
    fn mkdir_in(&self, dir: RawFd, name: &CStr, mode: u32) -> SysResult;
    /// `close(2)`, errors ignored.
    fn close(&self, fd: RawFd);
    /// `fchdir(2)`.
    fn fchdir(&self, fd: RawFd) -> SysResult;
    /// `chdir(2)`.
    fn chdir(&self, path: &CStr) -> SysResult;
    /// `pivot_root(".", ".")`.
    fn pivot_root_dot(&self) -> SysResult;
    /// `sethostname(2)`.
    fn sethostname(&self, name: &CStr) -> SysResult;
    /// Bring the loopback interface of the current network namespace up.
    fn loopback_up(&self) -> SysResult;
    /// `setns(fd, CLONE_NEWNET)`: join the sandbox's shared network namespace.
    fn join_netns(&self, fd: RawFd) -> SysResult;
    /// Block until the parent writes one byte to `fd` (it has attached the cgroup and the
    /// network); `ECANCELED` if the pipe closes instead.
    fn wait_for_parent(&self, fd: RawFd) -> SysResult;
    /// `write(fd, "0")`: move the calling process into the cgroup whose v1 `tasks` file `fd`
    /// is open for writing.
    fn join_cgroup(&self, fd: RawFd) -> SysResult;
    /// `unshare(CLONE_NEWCGROUP)`: a cgroup namespace rooted at the run's own cgroup.
    fn unshare_cgroup(&self) -> SysResult;
    /// `seccomp(SECCOMP_SET_MODE_FILTER, 0, program)`, without `no_new_privs`.
    fn install_seccomp(&self, program: &[seccompiler::sock_filter]) -> SysResult;
    /// Drop every capability not in `keep` from the bounding, ambient, inheritable, permitted and
    /// effective sets.
    fn drop_capabilities(&self, keep: u64, last_cap: u32) -> SysResult;
    /// `setgroups(2)`.
    fn setgroups(&self, groups: &[u32]) -> SysResult;
    /// `setresgid(gid, gid, gid)`.
    fn setresgid(&self, gid: u32) -> SysResult;
    /// `setresuid(uid, uid, uid)`.
    fn setresuid(&self, uid: u32) -> SysResult;
    /// `umask(2)`.
    fn umask(&self, mode: u32);
    /// `execve(2)`; returns only on failure. `argv` and `envp` are null-terminated.
    fn execve(&self, path: &CStr, argv: *const *const c_char, envp: *const *const c_char) -> Errno;
}

/// `/proc/self/fd/<fd>` as a C string on the stack, to mount onto an fd opened with
/// [`Syscalls::open_in_root`] without allocating.
pub(crate) struct FdPath {
    buf: [u8; 32],
}

impl FdPath {
    const PREFIX: &'static [u8] = b"/proc/self/fd/";

    pub(crate) fn new(fd: RawFd) -> Self {
        let mut buf = [0u8; 32];
        buf[..Self::PREFIX.len()].copy_from_slice(Self::PREFIX);
        let mut digits = [0u8; 12];
        let mut n = fd.unsigned_abs();
        let mut len = 0;
        loop {
            digits[len] = b'0' + (n % 10) as u8;
            len += 1;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        for i in 0..len {
            buf[Self::PREFIX.len() + i] = digits[len - 1 - i];
        }
        FdPath { buf }
    }

    pub(crate) fn as_cstr(&self) -> &CStr {
        // The buffer always holds a NUL after the digits: 14 + at most 10 digits < 32.
        CStr::from_bytes_until_nul(&self.buf).unwrap_or(c"/proc/self/fd/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fd_path_formats_without_allocating() {
        assert_eq!(FdPath::new(0).as_cstr(), c"/proc/self/fd/0");
        assert_eq!(FdPath::new(7).as_cstr(), c"/proc/self/fd/7");
        assert_eq!(
            FdPath::new(1234567890).as_cstr(),
            c"/proc/self/fd/1234567890"
        );
    }
}
