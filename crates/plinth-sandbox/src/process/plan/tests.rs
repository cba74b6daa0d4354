use std::path::{Path, PathBuf};

use super::exec::env_and_candidates;
use super::overlay::overlay_options;
use super::*;
use crate::spec::{DEFAULT_PATH, MountSpec, OverlayRootfs, Rootfs, UserSpec};

fn user() -> ResolvedUser {
    ResolvedUser {
        uid: 1000,
        gid: 1000,
        groups: vec![1000, 10],
        home: "/home/app".into(),
    }
}

fn plan_for(spec: &RunSpec) -> Vec<Step> {
    plan_joining(spec, None)
}

/// The plan when the child joins its cgroup through the v1 `tasks` file open on `cgroup_tasks`.
fn plan_joining(spec: &RunSpec, cgroup_tasks: Option<RawFd>) -> Vec<Step> {
    let scaffold = Path::new("/state/run/scaffold");
    build_plan(&PlanInput {
        spec,
        root_mount: Path::new("/state/run/root"),
        scaffold: matches!(spec.rootfs, Rootfs::Overlay(_)).then_some(scaffold),
        resolv_conf: Path::new("/state/run/resolv.conf"),
        hosts: Path::new("/state/run/hosts"),
        user: &user(),
        stdio: [3, 4, 5],
        go: 6,
        cgroup_tasks,
        netns: (spec.network() == NetworkMode::Private).then_some(7),
        seccomp: &[],
        last_cap: 40,
    })
    .unwrap()
}

fn overlay_spec() -> RunSpec {
    RunSpec::new(
        Rootfs::Overlay(OverlayRootfs::new(
            ["/l/top", "/l/bottom"],
            "/s/upper",
            "/s/work",
        )),
        ["echo", "hi"],
    )
}

fn position(steps: &[Step], pred: impl Fn(&Action) -> bool) -> usize {
    steps
        .iter()
        .position(|s| pred(&s.action))
        .expect("step present")
}

#[test]
fn overlay_puts_the_scaffold_lowest_and_disables_redirects() {
    let steps = plan_for(&overlay_spec());
    assert!(matches!(steps[2].action, Action::JoinNetwork(7)));
    let Action::MountRoot {
        data: Some(data),
        target,
        ..
    } = &steps[3].action
    else {
        panic!("the fourth step mounts the root: {:?}", steps[3])
    };
    assert_eq!(
        data.to_str().unwrap(),
        "lowerdir=/l/top:/l/bottom:/state/run/scaffold,upperdir=/s/upper,workdir=/s/work,redirect_dir=off,metacopy=off,volatile"
    );
    assert_eq!(target.to_str().unwrap(), "/state/run/root");
}

#[test]
fn order_is_private_root_mounts_pivot_caps_ids_chdir_exec() {
    let spec = overlay_spec()
        .with_network(NetworkMode::None)
        .with_mount(MountSpec::cache("/cache/pip", "/root/.cache/pip", 0, 0).with_readonly(true));
    let steps = plan_for(&spec);
    assert!(matches!(
        steps[0].action,
        Action::PrepareProcess {
            stdin: 3,
            stdout: 4,
            stderr: 5
        }
    ));
    assert!(matches!(steps[1].action, Action::MakeMountsPrivate));
    let open_root = position(&steps, |a| matches!(a, Action::OpenRoot(_)));
    let proc_mount = position(
        &steps,
        |a| matches!(a, Action::Mount(m) if m.target.to_str() == Ok("proc") && m.fstype.is_some()),
    );
    let cache = position(
        &steps,
        |a| matches!(a, Action::Mount(m) if m.target.to_str() == Ok("root/.cache/pip") && m.source.is_some()),
    );
    let cache_ro = position(
        &steps,
        |a| matches!(a, Action::Mount(m) if m.target.to_str() == Ok("root/.cache/pip") && m.flags.contains(MsFlags::MS_RDONLY)),
    );
    let lo = position(&steps, |a| matches!(a, Action::LoopbackUp));
    let pivot = position(&steps, |a| matches!(a, Action::PivotRoot(_)));
    let caps = position(&steps, |a| matches!(a, Action::DropCapabilities { .. }));
    let ids = position(&steps, |a| matches!(a, Action::SetIds { .. }));
    let chdir = position(&steps, |a| matches!(a, Action::Chdir(_)));
    let exec = position(&steps, |a| matches!(a, Action::Exec(_)));
    assert!(open_root < proc_mount && proc_mount < cache && cache < cache_ro && cache_ro < lo);
    assert!(lo < pivot && pivot < caps && caps < ids && ids < chdir && chdir < exec);
    assert_eq!(exec, steps.len() - 1);
}

#[test]
fn host_network_does_not_touch_loopback_and_drops_net_raw() {
    let keep_of = |steps: &[Step]| {
        steps
            .iter()
            .find_map(|s| match s.action {
                Action::DropCapabilities { keep, .. } => Some(keep),
                _ => None,
            })
            .unwrap()
    };
    let steps = plan_for(&overlay_spec().with_network(NetworkMode::Host));
    assert!(!steps.iter().any(|s| matches!(s.action, Action::LoopbackUp)));
    assert_eq!(keep_of(&steps) & (1 << caps::CAP_NET_RAW), 0);
    let steps = plan_for(&overlay_spec());
    assert!(steps.iter().any(|s| matches!(s.action, Action::LoopbackUp)));
    assert_ne!(keep_of(&steps) & (1 << caps::CAP_NET_RAW), 0);
}

#[test]
fn the_child_waits_for_the_parent_then_filters_before_dropping_capabilities() {
    let steps = plan_for(&overlay_spec());
    let wait = position(&steps, |a| matches!(a, Action::AwaitParent(6)));
    let cgroupns = position(&steps, |a| matches!(a, Action::UnshareCgroupNamespace));
    let pivot = position(&steps, |a| matches!(a, Action::PivotRoot(_)));
    let seccomp = position(&steps, |a| matches!(a, Action::InstallSeccomp(_)));
    let caps = position(&steps, |a| matches!(a, Action::DropCapabilities { .. }));
    assert!(wait < cgroupns && cgroupns < pivot && pivot < seccomp && seccomp < caps);
    let Action::MountRoot { flags, .. } = &steps
        .iter()
        .find(|s| matches!(s.action, Action::MountRoot { .. }))
        .unwrap()
        .action
    else {
        unreachable!()
    };
    assert!(
        flags.contains(MsFlags::MS_NODEV),
        "image layers are mounted nodev"
    );
}

#[test]
fn a_child_joining_its_cgroup_does_so_before_its_cgroup_namespace() {
    let joins = |steps: &[Step]| {
        steps
            .iter()
            .filter(|s| matches!(s.action, Action::JoinCgroup(_)))
            .count()
    };
    assert_eq!(joins(&plan_for(&overlay_spec())), 0);
    let steps = plan_joining(&overlay_spec(), Some(8));
    assert_eq!(joins(&steps), 1);
    let join = position(&steps, |a| matches!(a, Action::JoinCgroup(8)));
    let cgroupns = position(&steps, |a| matches!(a, Action::UnshareCgroupNamespace));
    let exec = position(&steps, |a| matches!(a, Action::Exec(_)));
    assert!(join < cgroupns && cgroupns < exec);
}

#[test]
fn proc_entries_reaching_the_kernel_are_read_only() {
    let steps = plan_for(&overlay_spec());
    let remount = steps.iter().find(|s| {
        matches!(&s.action, Action::Mount(m) if m.target.to_str() == Ok("proc/sys") && m.flags.contains(MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY))
    });
    assert!(remount.is_some());
    let sys = steps
        .iter()
        .find_map(|s| match &s.action {
            Action::Mount(m) if m.target.to_str() == Ok("sys") => Some(m.flags),
            _ => None,
        })
        .unwrap();
    assert!(sys.contains(MsFlags::MS_RDONLY));
}

#[test]
fn exec_looks_argv0_up_in_path_and_sets_home() {
    let spec = overlay_spec()
        .with_env("PATH", "/opt/bin:/bin")
        .with_user(UserSpec::root());
    let steps = plan_for(&spec);
    let Action::Exec(exec) = &steps.last().unwrap().action else {
        panic!()
    };
    let candidates: Vec<_> = exec
        .candidates
        .iter()
        .map(|c| c.to_str().unwrap())
        .collect();
    assert_eq!(candidates, ["/opt/bin/echo", "/bin/echo"]);
    assert_eq!(exec.argv_ptrs.len(), 3);
    assert!(exec.argv_ptrs[2].is_null());
    let (env, _) = env_and_candidates(&spec, &user());
    assert!(env.contains(&("HOME".into(), "/home/app".into())));
    let (env, candidates) = env_and_candidates(&overlay_spec().with_env("HOME", "/x"), &user());
    assert!(env.contains(&("PATH".into(), DEFAULT_PATH.into())));
    assert!(env.contains(&("HOME".into(), "/x".into())));
    assert_eq!(candidates[0], "/usr/local/sbin/echo");
    let (_, candidates) = env_and_candidates(
        &RunSpec::new(Rootfs::Directory("/r".into()), ["./run.sh"]),
        &user(),
    );
    assert_eq!(candidates, ["./run.sh"]);
}

#[test]
fn long_overlay_options_switch_to_relative_paths() {
    let lowers: Vec<PathBuf> = (0..200)
        .map(|i| PathBuf::from(format!("/var/lib/plinth/layers/sha256-{i:064}")))
        .collect();
    let lower_refs: Vec<&Path> = lowers.iter().map(PathBuf::as_path).collect();
    let err = overlay_options(
        &lower_refs,
        Path::new("/var/lib/plinth/steps/u"),
        Path::new("/var/lib/plinth/steps/w"),
    );
    assert!(err.is_err(), "200 long layers cannot fit even relative");
    let (base, data) = overlay_options(
        &lower_refs[..45],
        Path::new("/var/lib/plinth/steps/u"),
        Path::new("/var/lib/plinth/steps/w"),
    )
    .unwrap();
    assert_eq!(base.as_deref(), Some(Path::new("/var/lib/plinth")));
    assert!(data.starts_with("lowerdir=layers/sha256-"));
    assert!(data.contains(",upperdir=steps/u,workdir=steps/w,"));
}

#[test]
fn overlay_paths_with_separators_are_refused() {
    let spec = RunSpec::new(
        Rootfs::Overlay(OverlayRootfs::new(["/l/a:b"], "/u", "/w")),
        ["true"],
    );
    let err = build_plan(&PlanInput {
        spec: &spec,
        root_mount: Path::new("/r"),
        scaffold: None,
        resolv_conf: Path::new("/x"),
        hosts: Path::new("/y"),
        user: &user(),
        stdio: [0, 1, 2],
        go: 6,
        cgroup_tasks: None,
        netns: Some(7),
        seccomp: &[],
        last_cap: 40,
    })
    .unwrap_err();
    assert!(err.to_string().contains("overlayfs options"), "{err}");
}
