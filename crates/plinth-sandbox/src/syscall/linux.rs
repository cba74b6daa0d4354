//! The real system calls. Most go through `nix`; the few it lacks (or where its wrapper would
//! allocate, like `execve`) use `libc` directly, each with a `SAFETY:` note.

use std::ffi::{CStr, c_char, c_int};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag};
use nix::mount::{MntFlags, MsFlags};
use nix::sys::stat::{Mode, SFlag};

use super::{SysResult, Syscalls};
use crate::scaffold::MountPointKind;

/// The real thing.
pub(crate) struct Linux;

/// `SIOCGIFFLAGS` / `SIOCSIFFLAGS` from `<linux/sockios.h>`.
const SIOCGIFFLAGS: libc::c_ulong = 0x8913;
const SIOCSIFFLAGS: libc::c_ulong = 0x8914;
/// `CLOSE_RANGE_CLOEXEC` from `<linux/close_range.h>`.
const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
/// `_LINUX_CAPABILITY_VERSION_3`.
const CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// `struct ifreq` reduced to the name and the flags member of its union (40 bytes, as in C).
#[repr(C)]
struct IfreqFlags {
    name: [u8; 16],
    flags: libc::c_short,
    _pad: [u8; 22],
}

/// `struct __user_cap_header_struct`.
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: c_int,
}

/// `struct __user_cap_data_struct`.
#[repr(C)]
#[derive(Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// `struct sock_fprog`.
#[repr(C)]
struct SockFprog {
    len: u16,
    filter: *const seccompiler::sock_filter,
}

/// Borrow a raw fd owned by the child's setup code.
fn borrow(fd: RawFd) -> BorrowedFd<'static> {
    // SAFETY: the setup code only passes fds it opened and has not closed yet; the borrow is used
    // for the duration of one system call.
    unsafe { BorrowedFd::borrow_raw(fd) }
}

fn open_how_in_root(flags: OFlag) -> OpenHow {
    OpenHow::new()
        .flags(flags | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS)
}

impl Syscalls for Linux {
    fn prepare_process(&self, stdin: RawFd, stdout: RawFd, stderr: RawFd) -> SysResult {
        // SAFETY: close_range only changes fd flags; an old kernel without it returns ENOSYS,
        // which is acceptable because every fd this library opens is O_CLOEXEC already.
        let _ = unsafe {
            libc::syscall(
                libc::SYS_close_range,
                3 as libc::c_uint,
                libc::c_uint::MAX,
                CLOSE_RANGE_CLOEXEC,
            )
        };
        for (from, to) in [(stdin, 0), (stdout, 1), (stderr, 2)] {
            // SAFETY: dup2 on fds owned by this process; the result is checked.
            Errno::result(unsafe { libc::dup2(from, to) })?;
        }
        nix::sys::signal::sigprocmask(
            nix::sys::signal::SigmaskHow::SIG_SETMASK,
            Some(&nix::sys::signal::SigSet::empty()),
            None,
        )?;
        for signal in nix::sys::signal::Signal::iterator() {
            if matches!(
                signal,
                nix::sys::signal::Signal::SIGKILL | nix::sys::signal::Signal::SIGSTOP
            ) {
                continue;
            }
            // SAFETY: installing SIG_DFL runs no handler code; sigaction is async-signal-safe.
            let _ =
                unsafe { nix::sys::signal::signal(signal, nix::sys::signal::SigHandler::SigDfl) };
        }
        nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)?;
        nix::unistd::setsid()?;
        nix::sys::stat::umask(Mode::empty());
        Ok(())
    }

    fn mount(
        &self,
        source: Option<&CStr>,
        target: &CStr,
        fstype: Option<&CStr>,
        flags: MsFlags,
        data: Option<&CStr>,
    ) -> SysResult {
        nix::mount::mount(source, target, fstype, flags, data)
    }

    fn umount_detach(&self, target: &CStr) -> SysResult {
        nix::mount::umount2(target, MntFlags::MNT_DETACH)
    }

    fn open_dir(&self, path: &CStr) -> SysResult<RawFd> {
        nix::fcntl::open(
            path,
            OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map(IntoRawFd::into_raw_fd)
    }

    fn open_in_root(&self, root: RawFd, rel: &CStr) -> SysResult<RawFd> {
        nix::fcntl::openat2(borrow(root), rel, open_how_in_root(OFlag::O_PATH))
            .map(IntoRawFd::into_raw_fd)
    }

    fn create_in_root(
        &self,
        root: RawFd,
        parent: &CStr,
        name: &CStr,
        kind: MountPointKind,
    ) -> SysResult {
        let dir = nix::fcntl::openat2(
            borrow(root),
            parent,
            open_how_in_root(OFlag::O_PATH | OFlag::O_DIRECTORY),
        )?;
        match kind {
            MountPointKind::Dir => {
                nix::sys::stat::mkdirat(&dir, name, Mode::from_bits_truncate(0o755))
            }
            MountPointKind::File => nix::fcntl::openat(
                &dir,
                name,
                OFlag::O_CREAT
                    | OFlag::O_EXCL
                    | OFlag::O_WRONLY
                    | OFlag::O_NOFOLLOW
                    | OFlag::O_CLOEXEC,
                Mode::from_bits_truncate(0o644),
            )
            .map(drop),
        }
    }

    fn mknod_char(&self, dir: RawFd, name: &CStr, major: u32, minor: u32) -> SysResult {
        nix::sys::stat::mknodat(
            borrow(dir),
            name,
            SFlag::S_IFCHR,
            Mode::from_bits_truncate(0o666),
            libc::makedev(major, minor),
        )
    }

    fn symlink_in(&self, dir: RawFd, target: &CStr, name: &CStr) -> SysResult {
        nix::unistd::symlinkat(target, borrow(dir), name)
    }

    fn mkdir_in(&self, dir: RawFd, name: &CStr, mode: u32) -> SysResult {
        nix::sys::stat::mkdirat(borrow(dir), name, Mode::from_bits_truncate(mode))
    }

    fn close(&self, fd: RawFd) {
        // SAFETY: the setup code owns `fd` and never uses it after this call.
        drop(unsafe { OwnedFd::from_raw_fd(fd) });
    }

    fn fchdir(&self, fd: RawFd) -> SysResult {
        nix::unistd::fchdir(borrow(fd))
    }

    fn chdir(&self, path: &CStr) -> SysResult {
        nix::unistd::chdir(path)
    }

    fn pivot_root_dot(&self) -> SysResult {
        nix::unistd::pivot_root(c".", c".")
    }

    fn sethostname(&self, name: &CStr) -> SysResult {
        nix::unistd::sethostname(std::ffi::OsStr::from_bytes(name.to_bytes()))
    }

    fn loopback_up(&self) -> SysResult {
        let socket = nix::sys::socket::socket(
            nix::sys::socket::AddressFamily::Inet,
            nix::sys::socket::SockType::Datagram,
            nix::sys::socket::SockFlag::SOCK_CLOEXEC,
            None,
        )?;
        let mut req = IfreqFlags {
            name: [0; 16],
            flags: 0,
            _pad: [0; 22],
        };
        req.name[..2].copy_from_slice(b"lo");
        // SAFETY: SIOCGIFFLAGS reads the interface name and writes the flags of a struct ifreq;
        // `req` has the layout and size of one and outlives the call.
        Errno::result(unsafe { libc::ioctl(socket.as_raw_fd(), SIOCGIFFLAGS as _, &mut req) })?;
        req.flags |= libc::IFF_UP as libc::c_short;
        // SAFETY: as above; SIOCSIFFLAGS only reads `req`.
        Errno::result(unsafe { libc::ioctl(socket.as_raw_fd(), SIOCSIFFLAGS as _, &req) })?;
        Ok(())
    }

    fn join_netns(&self, fd: RawFd) -> SysResult {
        nix::sched::setns(borrow(fd), nix::sched::CloneFlags::CLONE_NEWNET)
    }

    fn wait_for_parent(&self, fd: RawFd) -> SysResult {
        let mut byte = [0u8; 1];
        loop {
            match nix::unistd::read(borrow(fd), &mut byte) {
                Ok(1) => return Ok(()),
                Ok(_) => return Err(Errno::ECANCELED),
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e),
            }
        }
    }

    fn join_cgroup(&self, fd: RawFd) -> SysResult {
        // "0" is the writer itself. The kernel moves just this thread, which is the whole
        // process here (the child of `clone` has one thread), without the global lock that
        // moving another process takes (see `cgroup.rs`).
        match nix::unistd::write(borrow(fd), b"0")? {
            1 => Ok(()),
            _ => Err(Errno::EIO),
        }
    }

    fn unshare_cgroup(&self) -> SysResult {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWCGROUP)
    }

    fn install_seccomp(&self, program: &[seccompiler::sock_filter]) -> SysResult {
        let len = u16::try_from(program.len()).map_err(|_| Errno::E2BIG)?;
        let prog = SockFprog {
            len,
            filter: program.as_ptr(),
        };
        // SAFETY: `prog` describes `program`, which outlives the call; the kernel copies the
        // instructions. Without SECCOMP_FILTER_FLAG_* flags and with CAP_SYS_ADMIN still held,
        // no_new_privs is not needed.
        Errno::result(unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                0 as libc::c_uint,
                &prog as *const SockFprog,
            )
        })
        .map(drop)
    }

    fn drop_capabilities(&self, keep: u64, last_cap: u32) -> SysResult {
        for cap in 0..=last_cap.min(63) {
            if keep & (1 << cap) == 0 {
                // SAFETY: PR_CAPBSET_DROP takes a capability number and no pointers.
                Errno::result(unsafe {
                    libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0)
                })?;
            }
        }
        // SAFETY: PR_CAP_AMBIENT_CLEAR_ALL takes no pointers; EINVAL on kernels without ambient
        // capabilities is ignored because they have no ambient set to clear.
        let _ = unsafe {
            libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_CLEAR_ALL,
                0,
                0,
                0,
            )
        };
        let mut header = CapHeader {
            version: CAPABILITY_VERSION_3,
            pid: 0,
        };
        let mut data = [CapData {
            effective: 0,
            permitted: 0,
            inheritable: 0,
        }; 2];
        // SAFETY: capget with a version 3 header writes exactly two CapData entries.
        Errno::result(unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) })?;
        for (i, d) in data.iter_mut().enumerate() {
            let mask = (keep >> (32 * i)) as u32;
            d.permitted &= mask;
            d.effective &= mask;
            d.inheritable = 0;
        }
        // SAFETY: capset with a version 3 header reads exactly two CapData entries.
        Errno::result(unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) })?;
        Ok(())
    }

    // The id changes below are raw system calls on purpose. glibc's setgroups/setresgid/
    // setresuid apply POSIX per-process semantics by signalling every thread it knows of and
    // waiting for them; in a cloned child those threads don't exist, and it can wait forever.
    // The child is single-threaded, so the per-thread system call is exactly what is needed.
    fn setgroups(&self, groups: &[u32]) -> SysResult {
        // SAFETY: raw setgroups(2) reads `groups.len()` gid_t (u32 on Linux) from `groups`.
        Errno::result(unsafe { libc::syscall(libc::SYS_setgroups, groups.len(), groups.as_ptr()) })
            .map(drop)
    }

    fn setresgid(&self, gid: u32) -> SysResult {
        // SAFETY: raw setresgid(2) takes three integers.
        Errno::result(unsafe { libc::syscall(libc::SYS_setresgid, gid, gid, gid) }).map(drop)
    }

    fn setresuid(&self, uid: u32) -> SysResult {
        // SAFETY: raw setresuid(2) takes three integers.
        Errno::result(unsafe { libc::syscall(libc::SYS_setresuid, uid, uid, uid) }).map(drop)
    }

    fn umask(&self, mode: u32) {
        nix::sys::stat::umask(Mode::from_bits_truncate(mode));
    }

    fn execve(&self, path: &CStr, argv: *const *const c_char, envp: *const *const c_char) -> Errno {
        // SAFETY: `argv` and `envp` point to null-terminated arrays of pointers to C strings that
        // the plan owns and keeps alive; execve only returns on failure.
        unsafe { libc::execve(path.as_ptr(), argv, envp) };
        Errno::last()
    }
}

/// Whether `dir` carries the overlayfs opaque marker (`trusted.overlay.opaque = y`), which hides
/// the same directory in all lower layers. Host side; may allocate.
pub(crate) fn is_opaque_dir(dir: &Path) -> bool {
    let Ok(path) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    let mut value = [0u8; 4];
    // SAFETY: `path` and the attribute name are NUL-terminated; `value` is writable for its length.
    let n = unsafe {
        libc::lgetxattr(
            path.as_ptr(),
            c"trusted.overlay.opaque".as_ptr(),
            value.as_mut_ptr().cast(),
            value.len(),
        )
    };
    n == 1 && value[0] == b'y'
}

/// `pidfd_open(pid, 0)`: an fd that polls readable once `pid` has exited.
pub(crate) fn pidfd_open(pid: nix::unistd::Pid) -> SysResult<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = Errno::result(unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) })?;
    // SAFETY: on success the kernel returned a fresh fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}
