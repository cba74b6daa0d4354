//! Fixtures: root images made here from busybox-static (and a Debian root shared by the run), an engine over a
//! temp store, a recording reporter, a tiny HTTP server and helpers to read built images back.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use plinth_engine::{BuildOptions, BuildReporter, BuildResult, Engine, EngineConfig, StepReport};
use plinth_oci::image::resolve_manifest;
use plinth_oci::layer::{UnpackOptions, unpack_layer};
use plinth_oci::{Descriptor, ImageConfig, Platform, Store};
use plinth_recipe::{Container, DebianRoot};
use plinth_test::{External, require_external, shared_data};

/// Root is needed for every build; returns false when skipping is allowed and we are not root.
pub fn require_root() -> bool {
    plinth_test::require_external(External::Root)
}

pub use plinth_test::error_chain;

/// A temp dir holding a store, and an engine over it.
pub struct TestEngine {
    pub dir: tempfile::TempDir,
    pub store: Store,
    pub engine: Engine,
}

impl TestEngine {
    pub fn new(epoch: Option<u64>) -> Self {
        Self::with(|c| c.with_source_date_epoch(epoch))
    }

    pub fn with(configure: impl FnOnce(EngineConfig) -> EngineConfig) -> Self {
        let dir = tempfile::Builder::new().prefix("pe-").tempdir().unwrap();
        let store = Store::open(dir.path().join("s")).unwrap();
        let engine = Engine::new(configure(EngineConfig::new(store.clone()))).unwrap();
        Self { dir, store, engine }
    }

    /// An engine whose store already holds the Debian root `root` for linux/amd64, made once
    /// a day for every test process of the run (the CLI's tests share the same fixture).
    pub fn with_debian_root(root: &DebianRoot, epoch: Option<u64>) -> Self {
        let name = shared_data::debian_root_fixture_name(&root.address());
        let fixture = shared_data::shared_fixture(&name, |dir| {
            let made = TestEngine::new(epoch);
            ok(made.engine.build(
                &Container::from_debian(root.clone()),
                &BuildOptions::new([Platform::linux_amd64()]),
            ));
            shared_data::seed_store(made.store.root(), &dir.join("store"))
        })
        .unwrap_or_else(|e| panic!("{}", error_chain(&e)));
        let t = Self::new(epoch);
        shared_data::seed_store(&fixture.join("store"), t.store.root()).unwrap();
        t
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// The merged file system of a built platform image, unpacked into `<dir>/<name>`.
    pub fn unpack(&self, result: &BuildResult, platform: &Platform, name: &str) -> PathBuf {
        unpack_image(&self.store, &result.root, platform, &self.path(name))
    }
}

pub fn unpack_image(store: &Store, root: &Descriptor, platform: &Platform, out: &Path) -> PathBuf {
    let (_, manifest) = resolve_manifest(store, root, Some(platform)).unwrap();
    std::fs::create_dir_all(out).unwrap();
    for layer in &manifest.layers {
        unpack_layer(
            store.reader(&layer.digest).unwrap(),
            out,
            &UnpackOptions::new(),
        )
        .unwrap();
    }
    out.to_path_buf()
}

pub fn config_of(store: &Store, root: &Descriptor, platform: &Platform) -> ImageConfig {
    let (_, manifest) = resolve_manifest(store, root, Some(platform)).unwrap();
    ImageConfig::parse(&store.read_blob(&manifest.config.digest).unwrap()).unwrap()
}

/// Fills `dir` with a busybox rootfs made from `busybox` (static), with airbyte (1000).
pub fn busybox_rootfs(dir: &Path, busybox: &Path) {
    plinth_test::busybox_rootfs(dir).unwrap();
    std::fs::copy(busybox, dir.join("bin/busybox")).unwrap();
    for applet in ["pwd", "mount", "readlink", "chown", "seq"] {
        let _ = symlink("busybox", dir.join("bin").join(applet));
    }
    std::fs::write(dir.join("etc/motd"), "welcome\n").unwrap();
    nix_chown(&dir.join("home/airbyte"), 1000, 1000);
}

fn nix_chown(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).unwrap();
}

/// Writes single-layer images of `rootfs` dirs (one per platform) into an OCI layout at `out`,
/// tagged `latest` (an index when several platforms are given).
pub fn write_layout(rootfs: &[(Platform, PathBuf)], out: &Path) {
    plinth_test::images::rootfs_layout(rootfs, out).unwrap();
}

/// The amd64 busybox root image, made once per run and shared by every test process (a
/// per-process temp directory would outlive its process: statics are never dropped):
/// `oci:DIR:latest`.
pub fn busybox_layout() -> String {
    static LAYOUT: OnceLock<String> = OnceLock::new();
    LAYOUT
        .get_or_init(|| {
            let dir = shared_data::shared_fixture("engine-busybox-layout", |dir| {
                let rootfs = dir.join("rootfs");
                busybox_rootfs(&rootfs, Path::new("/bin/busybox"));
                write_layout(&[(Platform::linux_amd64(), rootfs)], &dir.join("layout"));
                Ok(())
            })
            .unwrap();
            format!("oci:{}:latest", dir.join("layout").display())
        })
        .clone()
}

pub use plinth_test::arm64_busybox;

/// Records every reporter event as a line.
#[derive(Default)]
pub struct Recorder {
    pub events: Mutex<Vec<String>>,
    pub done: Mutex<Vec<StepReport>>,
}

impl BuildReporter for Recorder {
    fn on_step_start(&self, platform: &Platform, index: usize, description: &str) {
        self.events
            .lock()
            .unwrap()
            .push(format!("{platform} start {index} {description}"));
    }
    fn on_step_output(&self, platform: &Platform, index: usize, line: &str) {
        self.events
            .lock()
            .unwrap()
            .push(format!("{platform} output {index} {line}"));
    }
    fn on_step_done(&self, _platform: &Platform, report: &StepReport) {
        self.done.lock().unwrap().push(report.clone());
    }
}

impl Recorder {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }
}

pub use plinth_test::FileServer;

/// Fails the test with the whole error chain.
pub fn ok<T>(result: plinth_engine::Result<T>) -> T {
    result.unwrap_or_else(|e| panic!("{}", error_chain(&e)))
}

#[allow(dead_code)]
pub fn require_docker() -> bool {
    if std::env::var("PLINTH_TEST_DOCKER").is_ok_and(|v| v == "1") {
        return require_external(External::Docker);
    }
    false
}
