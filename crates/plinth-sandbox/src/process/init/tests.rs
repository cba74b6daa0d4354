use std::path::Path;

use super::*;
use crate::process::plan::{PlanInput, build_plan};
use crate::spec::{MountSpec, NetworkMode, OverlayRootfs, Rootfs, RunSpec};
use crate::syscall::recording::Recording;
use crate::user::ResolvedUser;

fn steps(spec: &RunSpec) -> Vec<Step> {
    build_plan(&PlanInput {
        spec,
        root_mount: Path::new("/run/root"),
        scaffold: Some(Path::new("/run/scaffold")),
        resolv_conf: Path::new("/run/resolv.conf"),
        hosts: Path::new("/run/hosts"),
        user: &ResolvedUser {
            uid: 1000,
            gid: 1000,
            groups: vec![1000],
            home: "/home/a".into(),
        },
        stdio: [3, 4, 5],
        go: 6,
        cgroup_tasks: None,
        netns: Some(7),
        seccomp: &[],
        last_cap: 40,
    })
    .unwrap()
}

fn spec() -> RunSpec {
    RunSpec::new(
        Rootfs::Overlay(OverlayRootfs::new(["/l"], "/u", "/w")),
        ["sh", "-c", "true"],
    )
    .with_env("PATH", "/usr/bin:/bin")
    .with_network(NetworkMode::None)
}

fn index_of(calls: &[String], prefix: &str) -> usize {
    calls
        .iter()
        .position(|c| c.starts_with(prefix))
        .unwrap_or_else(|| panic!("no call `{prefix}` in {calls:#?}"))
}

#[test]
fn mounts_go_through_fds_resolved_in_the_root() {
    let sys = Recording::default();
    let steps = steps(&spec());
    let failure = execute(&sys, &steps);
    let calls = sys.calls();
    // The recording execve fails with ENOENT for every candidate: the failure is the exec step.
    assert_eq!(
        failure,
        Failure {
            step: steps.len() - 1,
            errno: Errno::ENOENT
        }
    );
    assert_eq!(calls[0], "prepare_process 3 4 5");
    assert!(
        calls[1].starts_with("mount - / - MS_REC | MS_PRIVATE"),
        "{}",
        calls[1]
    );
    let root = index_of(&calls, "open_dir /run/root");
    let proc = index_of(&calls, "open_in_root 10 proc =");
    assert!(root < proc);
    // Every mount inside the root targets /proc/self/fd/N of an fd opened in the root.
    let proc_mount = &calls[proc + 1];
    assert!(
        proc_mount.starts_with("mount proc /proc/self/fd/11 proc"),
        "{proc_mount}"
    );
    assert_eq!(calls[proc + 2], "close 11");
    let self_bind = index_of(&calls, "open_in_root 10 proc/sys =");
    let fd = calls[self_bind].rsplit(' ').next().unwrap();
    assert!(calls[self_bind + 1].starts_with(&format!(
        "mount /proc/self/fd/{fd} /proc/self/fd/{fd} - MS_BIND | MS_REC"
    )));
}

#[test]
fn pivot_detaches_the_old_root_and_ids_follow_caps() {
    let sys = Recording::default();
    execute(&sys, &steps(&spec()));
    let calls = sys.calls();
    let lo = index_of(&calls, "loopback_up");
    let pivot = index_of(&calls, "pivot_root . .");
    assert!(lo < pivot);
    assert!(calls[pivot - 1].starts_with("fchdir"));
    assert!(calls[pivot + 1].starts_with("fchdir"));
    assert_eq!(calls[pivot + 2], "umount_detach .");
    let caps = index_of(&calls, "drop_capabilities");
    let groups = index_of(&calls, "setgroups [1000]");
    let gid = index_of(&calls, "setresgid 1000");
    let uid = index_of(&calls, "setresuid 1000");
    let chdir = index_of(&calls, "chdir /");
    let umask = index_of(&calls, "umask 22");
    assert!(pivot < caps && caps < groups && groups < gid && gid < uid && uid < umask);
    assert!(pivot < chdir);
    assert_eq!(
        &calls[calls.len() - 2..],
        ["execve /usr/bin/sh", "execve /bin/sh"]
    );
}

#[test]
fn missing_mount_points_are_created_and_optional_masks_skipped() {
    let sys = Recording {
        missing: vec!["etc/resolv.conf", "proc/acpi"],
        ..Default::default()
    };
    let spec = spec().with_mount(MountSpec::bind("/host/src", "/src"));
    execute(&sys, &steps(&spec));
    let calls = sys.calls();
    let created = index_of(&calls, "create_in_root 10 etc resolv.conf File");
    assert!(calls[created - 1].contains("etc/resolv.conf = ENOENT"));
    let acpi = index_of(&calls, "open_in_root 10 proc/acpi = ENOENT");
    assert!(
        calls[acpi + 1].starts_with("open_in_root"),
        "skipped without mounting: {}",
        calls[acpi + 1]
    );
    index_of(&calls, "mount /host/src /proc/self/fd/");
}

#[test]
fn a_failing_step_stops_the_walk() {
    struct FailPivot(Recording);
    impl crate::syscall::Syscalls for FailPivot {
        fn prepare_process(&self, a: i32, b: i32, c: i32) -> SysResult {
            self.0.prepare_process(a, b, c)
        }
        fn mount(
            &self,
            s: Option<&std::ffi::CStr>,
            t: &std::ffi::CStr,
            f: Option<&std::ffi::CStr>,
            fl: MsFlags,
            d: Option<&std::ffi::CStr>,
        ) -> SysResult {
            self.0.mount(s, t, f, fl, d)
        }
        fn umount_detach(&self, t: &std::ffi::CStr) -> SysResult {
            self.0.umount_detach(t)
        }
        fn open_dir(&self, p: &std::ffi::CStr) -> SysResult<i32> {
            self.0.open_dir(p)
        }
        fn open_in_root(&self, r: i32, p: &std::ffi::CStr) -> SysResult<i32> {
            self.0.open_in_root(r, p)
        }
        fn create_in_root(
            &self,
            r: i32,
            p: &std::ffi::CStr,
            n: &std::ffi::CStr,
            k: crate::scaffold::MountPointKind,
        ) -> SysResult {
            self.0.create_in_root(r, p, n, k)
        }
        fn mknod_char(&self, d: i32, n: &std::ffi::CStr, a: u32, b: u32) -> SysResult {
            self.0.mknod_char(d, n, a, b)
        }
        fn symlink_in(&self, d: i32, t: &std::ffi::CStr, n: &std::ffi::CStr) -> SysResult {
            self.0.symlink_in(d, t, n)
        }
        fn mkdir_in(&self, d: i32, n: &std::ffi::CStr, m: u32) -> SysResult {
            self.0.mkdir_in(d, n, m)
        }
        fn close(&self, fd: i32) {
            self.0.close(fd)
        }
        fn fchdir(&self, fd: i32) -> SysResult {
            self.0.fchdir(fd)
        }
        fn chdir(&self, p: &std::ffi::CStr) -> SysResult {
            self.0.chdir(p)
        }
        fn pivot_root_dot(&self) -> SysResult {
            Err(Errno::EINVAL)
        }
        fn sethostname(&self, n: &std::ffi::CStr) -> SysResult {
            self.0.sethostname(n)
        }
        fn loopback_up(&self) -> SysResult {
            self.0.loopback_up()
        }
        fn join_netns(&self, fd: i32) -> SysResult {
            self.0.join_netns(fd)
        }
        fn wait_for_parent(&self, fd: i32) -> SysResult {
            self.0.wait_for_parent(fd)
        }
        fn join_cgroup(&self, fd: i32) -> SysResult {
            self.0.join_cgroup(fd)
        }
        fn unshare_cgroup(&self) -> SysResult {
            self.0.unshare_cgroup()
        }
        fn install_seccomp(&self, p: &[seccompiler::sock_filter]) -> SysResult {
            self.0.install_seccomp(p)
        }
        fn drop_capabilities(&self, k: u64, l: u32) -> SysResult {
            self.0.drop_capabilities(k, l)
        }
        fn setgroups(&self, g: &[u32]) -> SysResult {
            self.0.setgroups(g)
        }
        fn setresgid(&self, g: u32) -> SysResult {
            self.0.setresgid(g)
        }
        fn setresuid(&self, u: u32) -> SysResult {
            self.0.setresuid(u)
        }
        fn umask(&self, m: u32) {
            self.0.umask(m)
        }
        fn execve(
            &self,
            p: &std::ffi::CStr,
            a: *const *const std::ffi::c_char,
            e: *const *const std::ffi::c_char,
        ) -> Errno {
            self.0.execve(p, a, e)
        }
    }
    let sys = FailPivot(Recording::default());
    let steps = steps(&spec());
    let failure = execute(&sys, &steps);
    assert_eq!(failure.errno, Errno::EINVAL);
    assert!(matches!(steps[failure.step].action, Action::PivotRoot(_)));
    let calls = sys.0.calls();
    assert!(
        !calls
            .iter()
            .any(|c| c.starts_with("setresuid") || c.starts_with("execve"))
    );
    // Both directory fds are closed even though pivot_root failed.
    assert_eq!(
        calls.iter().filter(|c| c.starts_with("close")).count(),
        calls
            .iter()
            .filter(|c| c.starts_with("open"))
            .filter(|c| !c.ends_with("ENOENT"))
            .count()
    );
}
