//! arm64 on amd64 through qemu-user-static and binfmt_misc, and both platforms at once.

use std::path::Path;

use plinth_engine::BuildOptions;
use plinth_oci::{ManifestDocument, Platform};
use plinth_recipe::Container;

use crate::common::{TestEngine, arm64_busybox, busybox_rootfs, ok, require_root, write_layout};

#[test]
fn arm64_and_amd64_build_concurrently_into_one_index() {
    if !require_root() || plinth_sandbox::binfmt::host_arch() != "amd64" {
        return;
    }
    let fixture = tempfile::tempdir().unwrap();
    let (amd, arm) = (fixture.path().join("amd64"), fixture.path().join("arm64"));
    busybox_rootfs(&amd, Path::new("/bin/busybox"));
    busybox_rootfs(&arm, &arm64_busybox());
    let layout = fixture.path().join("layout");
    write_layout(
        &[
            (Platform::linux_amd64(), amd),
            (Platform::linux_arm64(), arm),
        ],
        &layout,
    );

    let t = TestEngine::new(Some(0));
    let recipe = Container::from_address(&format!("oci:{}:latest", layout.display()))
        .unwrap()
        .with_exec(["sh", "-c", "uname -m > /arch"]);
    let platforms = [Platform::linux_amd64(), Platform::linux_arm64()];
    let result = ok(t
        .engine
        .build(&recipe, &BuildOptions::new(platforms.clone())));
    let index = result.index.clone().expect("two platforms make an index");
    let ManifestDocument::Index(doc) = t.store.read_document(&index).unwrap() else {
        panic!("not an index")
    };
    assert_eq!(doc.platforms().len(), 2);
    for (platform, machine) in [(&platforms[0], "x86_64\n"), (&platforms[1], "aarch64\n")] {
        let root = t.unpack(&result, platform, &platform.architecture);
        assert_eq!(std::fs::read_to_string(root.join("arch")).unwrap(), machine);
        assert_eq!(
            result.platform(platform).unwrap().config.architecture,
            platform.architecture
        );
    }
}
