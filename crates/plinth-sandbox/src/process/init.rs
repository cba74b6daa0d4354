//! The child's setup stage: walk the [`plan`](super::plan) with a [`Syscalls`] implementation
//! and end in `execve`.
//!
//! This code runs in the cloned child of a possibly multi-threaded process: it must not
//! allocate, lock or log. It only reads the plan built by the parent and makes system calls.

use nix::errno::Errno;
use nix::mount::MsFlags;

use super::plan::{Action, RootMount, Step};
use crate::syscall::{FdPath, SysResult, Syscalls};

/// Which step failed, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Failure {
    pub(crate) step: usize,
    pub(crate) errno: Errno,
}

/// Device nodes made in the fresh `/dev` (name, major, minor).
const DEV_NODES: [(&std::ffi::CStr, u32, u32); 6] = [
    (c"null", 1, 3),
    (c"zero", 1, 5),
    (c"full", 1, 7),
    (c"random", 1, 8),
    (c"urandom", 1, 9),
    (c"tty", 5, 0),
];

const DEV_SYMLINKS: [(&std::ffi::CStr, &std::ffi::CStr); 5] = [
    (c"fd", c"/proc/self/fd"),
    (c"stdin", c"/proc/self/fd/0"),
    (c"stdout", c"/proc/self/fd/1"),
    (c"stderr", c"/proc/self/fd/2"),
    (c"ptmx", c"pts/ptmx"),
];

/// Run every step; returns only if one fails (a successful `execve` does not return).
pub(crate) fn execute<S: Syscalls>(sys: &S, steps: &[Step]) -> Failure {
    let mut root: Option<i32> = None;
    for (index, step) in steps.iter().enumerate() {
        let fail = |errno| Failure { step: index, errno };
        let result = match &step.action {
            Action::PrepareProcess {
                stdin,
                stdout,
                stderr,
            } => sys.prepare_process(*stdin, *stdout, *stderr),
            Action::MakeMountsPrivate => sys.mount(
                None,
                c"/",
                None,
                MsFlags::MS_REC | MsFlags::MS_PRIVATE,
                None,
            ),
            Action::HostChdir(dir) => sys.chdir(dir),
            Action::MountRoot {
                source,
                fstype,
                flags,
                data,
                target,
            } => sys.mount(
                Some(source),
                target,
                fstype.as_deref(),
                *flags,
                data.as_deref(),
            ),
            Action::OpenRoot(path) => sys.open_dir(path).map(|fd| root = Some(fd)),
            Action::Mount(m) => match root {
                Some(root) => mount_in_root(sys, root, m),
                None => Err(Errno::EBADF),
            },
            Action::PopulateDev => match root {
                Some(root) => populate_dev(sys, root),
                None => Err(Errno::EBADF),
            },
            Action::SetHostname(name) => sys.sethostname(name),
            Action::LoopbackUp => sys.loopback_up(),
            Action::JoinNetwork(fd) => sys.join_netns(*fd),
            Action::AwaitParent(fd) => sys.wait_for_parent(*fd),
            Action::JoinCgroup(fd) => sys.join_cgroup(*fd),
            Action::UnshareCgroupNamespace => sys.unshare_cgroup(),
            Action::InstallSeccomp(programs) => programs
                .iter()
                .try_for_each(|program| sys.install_seccomp(program)),
            Action::PivotRoot(path) => {
                if let Some(fd) = root.take() {
                    sys.close(fd);
                }
                pivot_root(sys, path)
            }
            Action::DropCapabilities { keep, last_cap } => sys.drop_capabilities(*keep, *last_cap),
            Action::SetIds { uid, gid, groups } => sys
                .setgroups(groups)
                .and_then(|()| sys.setresgid(*gid))
                .and_then(|()| sys.setresuid(*uid)),
            Action::Chdir(dir) => sys.chdir(dir),
            Action::Exec(exec) => {
                sys.umask(0o022);
                // execvp's rules: remember EACCES, keep looking after ENOENT-like errors, stop
                // at anything else.
                let mut error = Errno::ENOENT;
                for candidate in &exec.candidates {
                    match sys.execve(candidate, exec.argv_ptrs.as_ptr(), exec.envp_ptrs.as_ptr()) {
                        Errno::ENOENT | Errno::ENOTDIR | Errno::ENAMETOOLONG | Errno::ELOOP => {}
                        Errno::EACCES => error = Errno::EACCES,
                        other => return fail(other),
                    }
                }
                Err(error)
            }
        };
        if let Err(errno) = result {
            return fail(errno);
        }
    }
    Failure {
        step: steps.len(),
        errno: Errno::UnknownErrno,
    }
}

fn mount_in_root<S: Syscalls>(sys: &S, root: i32, m: &RootMount) -> SysResult {
    let fd = match sys.open_in_root(root, &m.target) {
        Ok(fd) => fd,
        Err(Errno::ENOENT) if m.optional => return Ok(()),
        Err(Errno::ENOENT) if m.create.is_some() => {
            if let Some(kind) = m.create {
                sys.create_in_root(root, &m.parent, &m.name, kind)?;
            }
            sys.open_in_root(root, &m.target)?
        }
        Err(e) => return Err(e),
    };
    let target = FdPath::new(fd);
    let source = if m.self_bind {
        Some(target.as_cstr())
    } else {
        m.source.as_deref()
    };
    let result = sys.mount(
        source,
        target.as_cstr(),
        m.fstype.as_deref(),
        m.flags,
        m.data.as_deref(),
    );
    sys.close(fd);
    result
}

fn populate_dev<S: Syscalls>(sys: &S, root: i32) -> SysResult {
    let dev = sys.open_in_root(root, c"dev")?;
    let result = (|| {
        for (name, major, minor) in DEV_NODES {
            sys.mknod_char(dev, name, major, minor)?;
        }
        for (name, target) in DEV_SYMLINKS {
            sys.symlink_in(dev, target, name)?;
        }
        sys.mkdir_in(dev, c"pts", 0o755)?;
        sys.mkdir_in(dev, c"shm", 0o1777)
    })();
    sys.close(dev);
    result
}

/// `pivot_root(".", ".")` then detach the old root, which ends up stacked on the new one
/// (the trick runc and LXC use: no `put_old` directory has to exist in the rootfs).
fn pivot_root<S: Syscalls>(sys: &S, path: &std::ffi::CStr) -> SysResult {
    let old_root = sys.open_dir(c"/")?;
    let new_root = match sys.open_dir(path) {
        Ok(fd) => fd,
        Err(e) => {
            sys.close(old_root);
            return Err(e);
        }
    };
    let result = (|| {
        sys.fchdir(new_root)?;
        sys.pivot_root_dot()?;
        sys.fchdir(old_root)?;
        sys.umount_detach(c".")?;
        sys.fchdir(new_root)?;
        sys.chdir(c"/")
    })();
    sys.close(old_root);
    sys.close(new_root);
    result
}

#[cfg(test)]
mod tests;
