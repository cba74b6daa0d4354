//! arm64 binaries on an amd64 host through qemu-user-static and binfmt_misc (F flag).

use plinth_sandbox::{OverlayRootfs, Rootfs, RunSpec, Sandbox, binfmt};
use plinth_test::arm64_busybox;

use crate::common::{busybox_rootfs, require_root};

#[test]
fn arm64_busybox_runs_under_qemu() {
    if !require_root() || plinth_sandbox::binfmt::host_arch() != "amd64" {
        return;
    }
    binfmt::ensure("arm64").unwrap_or_else(|e| panic!("{e}"));
    let t = tempfile::tempdir().unwrap();
    busybox_rootfs(&t.path().join("lower"), &arm64_busybox());
    for d in ["upper", "work"] {
        std::fs::create_dir(t.path().join(d)).unwrap();
    }
    let rootfs = Rootfs::Overlay(OverlayRootfs::new(
        [t.path().join("lower")],
        t.path().join("upper"),
        t.path().join("work"),
    ));
    let sandbox = Sandbox::new(t.path().join("state")).unwrap();
    let mut out = Vec::new();
    let outcome = sandbox
        .run(
            &RunSpec::new(rootfs, ["sh", "-c", "uname -m; id -u"])
                .with_user("airbyte".parse().unwrap()),
            &mut |_: plinth_sandbox::OutputStream, c: &[u8]| out.extend_from_slice(c),
        )
        .unwrap();
    assert!(
        outcome.status.success(),
        "{:?}",
        String::from_utf8_lossy(&outcome.stderr_tail)
    );
    assert_eq!(String::from_utf8_lossy(&out), "aarch64\n1000\n");
}
