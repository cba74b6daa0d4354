//! A step can never touch the host outside its rootfs and declared mounts.

use plinth_engine::BuildOptions;
use plinth_oci::Platform;
use plinth_recipe::Container;

use crate::common::{TestEngine, busybox_layout, ok, require_root};

#[test]
fn escape_attempts_fail_and_the_host_is_untouched() {
    if !require_root() {
        return;
    }
    let t = TestEngine::new(None);
    let host_dir = tempfile::tempdir().unwrap();
    let marker = host_dir.path().join("marker");
    std::fs::write(&marker, "host\n").unwrap();
    let tmp_name = format!("plinth-escape-{}", std::process::id());
    let host_tmp = std::path::Path::new("/tmp").join(&tmp_name);
    let script = format!(
        "echo pwned > /proc/1/root{marker} 2>/dev/null; \
         echo pwned > /proc/self/root{marker} 2>/dev/null; \
         ln -s {marker} /link; echo pwned > /link 2>/dev/null; \
         ln -s /tmp/{tmp_name} /tmplink; echo inside > /tmplink; \
         if busybox mount -t tmpfs none /mnt 2>/dev/null; then echo MOUNTED > /mounted; fi; \
         if busybox mount -o remount,rw /sys 2>/dev/null; then echo REMOUNTED > /remounted; fi; \
         true",
        marker = marker.display()
    );
    let recipe = Container::from_address(&busybox_layout())
        .unwrap()
        .with_exec(["sh", "-c", "mkdir -p /mnt"])
        .with_exec(["sh", "-c", script.as_str()]);
    let result = ok(t
        .engine
        .build(&recipe, &BuildOptions::new([Platform::linux_amd64()])));
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), "host\n");
    assert!(!host_tmp.exists(), "a symlink wrote to the host's /tmp");
    let root = t.unpack(&result, &Platform::linux_amd64(), "out");
    assert!(
        !root.join("mounted").exists(),
        "the step could mount a file system"
    );
    assert!(
        !root.join("remounted").exists(),
        "the step could remount /sys"
    );
    // What the step wrote stayed inside its own rootfs.
    assert_eq!(
        std::fs::read_to_string(root.join(format!("tmp/{tmp_name}"))).unwrap(),
        "inside\n"
    );
}
