//! Fixtures: a two-platform busybox root image (real arm64 busybox) in the loopback registry,
//! a tiny HTTP server for URL inputs, and flattened file systems of built images.

use std::collections::BTreeMap;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plinth_oci::image::resolve_manifest;
use plinth_oci::{Descriptor, ImageConfig, Platform, Store};
use plinth_test::{External, LocalRegistry, require_external};

/// Docker (mandatory in CI), root (for the embedded engine and chown) and binfmt for arm64.
pub fn require_all() -> bool {
    require_external(External::Docker)
        && require_external(External::Root)
        && require_external(External::BinfmtArm64)
        && require_external(External::Tool("skopeo"))
}

pub use plinth_test::error_chain;

pub fn ok<T, E: std::error::Error>(result: Result<T, E>) -> T {
    result.unwrap_or_else(|e| panic!("{}", error_chain(&e)))
}

pub use plinth_test::arm64_busybox;

/// A backend building on the local daemon into a store at `dir`.
pub fn local_backend(dir: &Path) -> plinth_buildkit::BuildkitBackend {
    ok(plinth_buildkit::BuildkitBackend::new(
        plinth_buildkit::BuildkitConfig::new(Store::open(dir).unwrap()),
    ))
}

fn busybox_rootfs(dir: &Path, busybox: &Path) {
    plinth_test::busybox_rootfs(dir).unwrap();
    std::fs::copy(busybox, dir.join("bin/busybox")).unwrap();
    for applet in ["readlink", "seq", "chown", "tr"] {
        symlink("busybox", dir.join("bin").join(applet)).unwrap();
    }
    std::os::unix::fs::chown(dir.join("home/airbyte"), Some(1000), Some(1000)).unwrap();
}

/// The busybox root (amd64 and arm64, each with its own busybox) pushed once per test binary
/// to the shared loopback registry; returns its address.
pub fn busybox_root() -> String {
    static ROOT: OnceLock<String> = OnceLock::new();
    ROOT.get_or_init(|| push_busybox_root("buildkit/busybox:1", true))
        .clone()
}

/// The busybox root pushed to the shared loopback registry as `name`, its configs with a
/// history entry or none; returns its address.
pub fn push_busybox_root(name: &str, with_history: bool) -> String {
    {
        let registry = LocalRegistry::shared();
        let dir = tempfile::Builder::new()
            .prefix("pbk-root-")
            .tempdir()
            .unwrap();
        let mut rootfs = Vec::new();
        for (platform, busybox) in [
            (Platform::linux_amd64(), PathBuf::from("/bin/busybox")),
            (Platform::linux_arm64(), arm64_busybox()),
        ] {
            let dir = dir.path().join(&platform.architecture);
            busybox_rootfs(&dir, &busybox);
            rootfs.push((platform, dir));
        }
        let layout = dir.path().join("layout");
        if with_history {
            plinth_test::images::rootfs_layout(&rootfs, &layout).unwrap();
        } else {
            plinth_test::images::rootfs_layout_without_history(&rootfs, &layout).unwrap();
        }
        let address = registry.image(name);
        plinth_test::skopeo([
            "copy",
            "--all",
            "--dest-tls-verify=false",
            "--quiet",
            &format!("oci:{}:latest", layout.display()),
            &format!("docker://{address}"),
        ]);
        address
    }
}

pub use plinth_test::FileServer;

pub use plinth_test::tree::Entry as FsEntry;

/// The merged file system of one platform of `root`: path → entry, whiteouts applied.
pub fn flatten(store: &Store, root: &Descriptor, platform: &Platform) -> BTreeMap<String, FsEntry> {
    plinth_test::tree::image_tree(store, root, platform)
}

/// The config of one platform of `root`.
pub fn config_of(store: &Store, root: &Descriptor, platform: &Platform) -> ImageConfig {
    let (_, manifest) = resolve_manifest(store, root, Some(platform)).unwrap();
    ImageConfig::parse(&store.read_blob(&manifest.config.digest).unwrap()).unwrap()
}
