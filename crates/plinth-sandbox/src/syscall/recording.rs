//! A [`Syscalls`] that records calls instead of making them, for unit tests of the setup order.

use std::cell::{Cell, RefCell};
use std::ffi::{CStr, c_char};
use std::os::fd::RawFd;

use nix::errno::Errno;
use nix::mount::MsFlags;

use super::{SysResult, Syscalls};
use crate::scaffold::MountPointKind;

/// Records each call as a line; `open_in_root` fails with ENOENT for paths in `missing`.
#[derive(Default)]
pub(crate) struct Recording {
    pub(crate) calls: RefCell<Vec<String>>,
    pub(crate) missing: Vec<&'static str>,
    pub(crate) next_fd: Cell<RawFd>,
    pub(crate) created: RefCell<Vec<String>>,
}

impl Recording {
    fn log(&self, s: String) {
        self.calls.borrow_mut().push(s);
    }

    fn fd(&self) -> RawFd {
        let fd = self.next_fd.get().max(10);
        self.next_fd.set(fd + 1);
        fd
    }

    pub(crate) fn calls(&self) -> Vec<String> {
        self.calls.borrow().clone()
    }
}

fn s(c: &CStr) -> String {
    c.to_string_lossy().into_owned()
}

fn opt(c: Option<&CStr>) -> String {
    c.map_or_else(|| "-".to_owned(), s)
}

impl Syscalls for Recording {
    fn prepare_process(&self, stdin: RawFd, stdout: RawFd, stderr: RawFd) -> SysResult {
        self.log(format!("prepare_process {stdin} {stdout} {stderr}"));
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
        let flags = format!("{flags:?}");
        let flags = flags.trim_start_matches("MsFlags(").trim_end_matches(')');
        self.log(format!(
            "mount {} {} {} {flags} {}",
            opt(source),
            s(target),
            opt(fstype),
            opt(data)
        ));
        Ok(())
    }
    fn umount_detach(&self, target: &CStr) -> SysResult {
        self.log(format!("umount_detach {}", s(target)));
        Ok(())
    }
    fn open_dir(&self, path: &CStr) -> SysResult<RawFd> {
        let fd = self.fd();
        self.log(format!("open_dir {} = {fd}", s(path)));
        Ok(fd)
    }
    fn open_in_root(&self, root: RawFd, rel: &CStr) -> SysResult<RawFd> {
        let rel_s = s(rel);
        if self.missing.contains(&rel_s.as_str()) && !self.created.borrow().contains(&rel_s) {
            self.log(format!("open_in_root {root} {} = ENOENT", s(rel)));
            return Err(Errno::ENOENT);
        }
        let fd = self.fd();
        self.log(format!("open_in_root {root} {} = {fd}", s(rel)));
        Ok(fd)
    }
    fn create_in_root(
        &self,
        root: RawFd,
        parent: &CStr,
        name: &CStr,
        kind: MountPointKind,
    ) -> SysResult {
        self.log(format!(
            "create_in_root {root} {} {} {kind:?}",
            s(parent),
            s(name)
        ));
        self.created
            .borrow_mut()
            .push(format!("{}/{}", s(parent), s(name)));
        Ok(())
    }
    fn mknod_char(&self, dir: RawFd, name: &CStr, major: u32, minor: u32) -> SysResult {
        self.log(format!("mknod {dir} {} {major}:{minor}", s(name)));
        Ok(())
    }
    fn symlink_in(&self, dir: RawFd, target: &CStr, name: &CStr) -> SysResult {
        self.log(format!("symlink {dir} {} -> {}", s(name), s(target)));
        Ok(())
    }
    fn mkdir_in(&self, dir: RawFd, name: &CStr, mode: u32) -> SysResult {
        self.log(format!("mkdir {dir} {} {mode:o}", s(name)));
        Ok(())
    }
    fn close(&self, fd: RawFd) {
        self.log(format!("close {fd}"));
    }
    fn fchdir(&self, fd: RawFd) -> SysResult {
        self.log(format!("fchdir {fd}"));
        Ok(())
    }
    fn chdir(&self, path: &CStr) -> SysResult {
        self.log(format!("chdir {}", s(path)));
        Ok(())
    }
    fn pivot_root_dot(&self) -> SysResult {
        self.log("pivot_root . .".into());
        Ok(())
    }
    fn sethostname(&self, name: &CStr) -> SysResult {
        self.log(format!("sethostname {}", s(name)));
        Ok(())
    }
    fn loopback_up(&self) -> SysResult {
        self.log("loopback_up".into());
        Ok(())
    }
    fn join_netns(&self, fd: RawFd) -> SysResult {
        self.log(format!("join_netns {fd}"));
        Ok(())
    }
    fn wait_for_parent(&self, fd: RawFd) -> SysResult {
        self.log(format!("wait_for_parent {fd}"));
        Ok(())
    }
    fn join_cgroup(&self, fd: RawFd) -> SysResult {
        self.log(format!("join_cgroup {fd}"));
        Ok(())
    }
    fn unshare_cgroup(&self) -> SysResult {
        self.log("unshare_cgroup".into());
        Ok(())
    }
    fn install_seccomp(&self, program: &[seccompiler::sock_filter]) -> SysResult {
        self.log(format!("install_seccomp {}", program.len()));
        Ok(())
    }
    fn drop_capabilities(&self, keep: u64, last_cap: u32) -> SysResult {
        self.log(format!("drop_capabilities keep={keep:#x} last={last_cap}"));
        Ok(())
    }
    fn setgroups(&self, groups: &[u32]) -> SysResult {
        self.log(format!("setgroups {groups:?}"));
        Ok(())
    }
    fn setresgid(&self, gid: u32) -> SysResult {
        self.log(format!("setresgid {gid}"));
        Ok(())
    }
    fn setresuid(&self, uid: u32) -> SysResult {
        self.log(format!("setresuid {uid}"));
        Ok(())
    }
    fn umask(&self, mode: u32) {
        self.log(format!("umask {mode:o}"));
    }
    fn execve(
        &self,
        path: &CStr,
        _argv: *const *const c_char,
        _envp: *const *const c_char,
    ) -> Errno {
        self.log(format!("execve {}", s(path)));
        Errno::ENOENT
    }
}
