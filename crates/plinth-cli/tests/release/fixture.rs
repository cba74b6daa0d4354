//! The release tests' world: the example family binary, busybox root images for amd64 and arm64
//! pushed to the loopback registry, and a per-test catalog directory and namespace.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, OnceLock};

use plinth_oci::layer::{WriteOptions, store_dir_layer};
use plinth_oci::{
    Descriptor, ImageConfig, ImageIndex, ImageManifest, MediaType, Platform, Reference, Store,
};
use plinth_registry::{Client, NoTransferReporter};
use plinth_test::{LocalRegistry, TestContext};

/// The example family's repository.
pub const REPOSITORY: &str = "example/busybox-base";

/// The example family binary (`examples/my-family`), built once per test binary.
pub fn my_family_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
        let exe = std::env::current_exe().unwrap();
        // target/<profile>/deps/<test> → target/<profile>
        let profile_dir = exe.parent().and_then(Path::parent).unwrap().to_path_buf();
        let target_dir = profile_dir.parent().unwrap().to_path_buf();
        let profile = profile_dir
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let mut cmd = Command::new(env!("CARGO"));
        cmd.args([
            "build",
            "-q",
            "-p",
            "plinth-example-family",
            "--bin",
            "my-family",
            "--target-dir",
        ])
        .arg(&target_dir)
        .current_dir(manifest);
        if profile == "release" {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("cargo runs");
        assert!(status.success(), "building the example family failed");
        profile_dir.join("my-family")
    })
    .clone()
}

pub use plinth_test::arm64_busybox;

/// A root image variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Root {
    /// busybox with the `airbyte` user: every check of the family passes.
    Good,
    /// The same with a marker file: other digests, the same checks pass.
    GoodAgain,
    /// No `airbyte` user: `user_exists:airbyte` fails.
    NoAirbyteUser,
}

/// Writes a two-platform busybox image (a real arm64 busybox for arm64) into `store`.
fn root_index(store: &Store, root: Root) -> Descriptor {
    let work = tempfile::tempdir().unwrap();
    let options = WriteOptions::new().with_source_date_epoch(Some(0));
    let mut manifests = Vec::new();
    for platform in [Platform::linux_amd64(), Platform::linux_arm64()] {
        let dir = work.path().join(&platform.architecture);
        plinth_test::busybox_rootfs(&dir).unwrap();
        if platform.architecture == "arm64" {
            let target = dir.join("bin/busybox");
            std::fs::remove_file(&target).unwrap();
            std::fs::copy(arm64_busybox(), &target).unwrap();
        }
        // Debian's busybox has no `printenv` applet (the upstream images do); the checks' env
        // var test runs `printenv`.
        let printenv = dir.join("bin/printenv");
        std::fs::remove_file(&printenv).ok();
        std::fs::write(&printenv, "#!/bin/sh\nexec env\n").unwrap();
        std::fs::set_permissions(
            &printenv,
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        match root {
            Root::Good => {}
            Root::GoodAgain => std::fs::write(dir.join("etc/marker"), "again\n").unwrap(),
            Root::NoAirbyteUser => std::fs::write(
                dir.join("etc/passwd"),
                "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
            )
            .unwrap(),
        }
        let info = store_dir_layer(store, &dir, &options).unwrap();
        let mut config = ImageConfig::for_platform(&platform);
        config.rootfs.diff_ids.push(info.diff_id);
        config.set_env("PATH", "/bin:/usr/bin");
        let config = store.write_config(MediaType::OciConfig, &config).unwrap();
        let layer = Descriptor::new(MediaType::OciLayerGzip, info.digest, info.size);
        let manifest = store
            .write_manifest(&ImageManifest::new(
                MediaType::OciManifest,
                config,
                vec![layer],
            ))
            .unwrap();
        manifests.push(manifest.with_platform(platform));
    }
    store
        .write_index(&ImageIndex::new(MediaType::OciIndex, manifests))
        .unwrap()
}

/// Pushes the root variant to `<registry>/library/busybox:<tag>` and returns the address the
/// family uses: `docker.io/library/busybox:<tag>@<digest>`, reached through `--registry-mirror`.
pub fn push_root(registry: &LocalRegistry, root: Root) -> String {
    static PUSHED: OnceLock<std::sync::Mutex<Vec<(Root, String)>>> = OnceLock::new();
    let pushed = PUSHED.get_or_init(Default::default);
    let mut pushed = pushed.lock().unwrap();
    if let Some((_, address)) = pushed.iter().find(|(r, _)| *r == root) {
        return address.clone();
    }
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("store")).unwrap();
    let index = root_index(&store, root);
    let tag = format!("{root:?}").to_lowercase();
    let target: Reference = registry
        .image(&format!("library/busybox:{tag}"))
        .parse()
        .unwrap();
    let client = Client::builder(store).build().unwrap();
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(client.push_image(&index.digest, &target, Arc::new(NoTransferReporter)))
        .unwrap();
    let address = format!("docker.io/library/busybox:{tag}@{}", index.digest);
    pushed.push((root, address.clone()));
    address
}

/// One test's catalog: a context, a namespace of its own and the root image to use.
pub struct Catalog {
    pub ctx: TestContext,
    pub registry: &'static LocalRegistry,
    pub namespace: String,
    pub root: String,
}

impl Catalog {
    pub fn new(namespace: &str) -> Self {
        let registry = LocalRegistry::shared();
        let ctx = TestContext::new()
            .with_bin(my_family_bin())
            .with_registry_filter(registry);
        let namespace = format!("{namespace}-{}", std::process::id());
        let root = push_root(registry, Root::Good);
        Self {
            ctx,
            registry,
            namespace,
            root,
        }
    }

    pub fn catalog_dir(&self) -> PathBuf {
        self.ctx.work_dir().join("catalog")
    }

    pub fn changelog(&self) -> PathBuf {
        self.catalog_dir()
            .join("generated/changelogs/example_busybox_base.json")
    }

    /// The published repository in the loopback registry.
    pub fn published(&self) -> String {
        format!("{}/{}/busybox-base", self.registry.host(), self.namespace)
    }

    /// `my-family` with the registry, namespace, mirror and catalog flags.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = self.ctx.plinth();
        cmd.env("MY_FAMILY_ROOT_IMAGE", &self.root)
            .env("PLINTH_NO_PROMPT", "1")
            .args([
                "--registry",
                &self.registry.host(),
                "--namespace",
                &self.namespace,
            ])
            .args(["--registry-mirror", &self.registry.host(), "--catalog-dir"])
            .arg(self.catalog_dir())
            .args(args);
        cmd
    }

    pub fn run(&self, cmd: &mut Command) -> Output {
        cmd.output()
            .unwrap_or_else(|e| panic!("failed to run {cmd:?}: {e}"))
    }
}

/// stdout + stderr for assertion messages.
pub fn text(output: &Output) -> String {
    format!(
        "exit: {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// What `skopeo inspect` says the tag's digest is (`None` when the tag does not exist).
pub fn skopeo_digest(image: &str) -> Option<String> {
    let out = Command::new("skopeo")
        .args(["inspect", "--tls-verify=false", "--raw"])
        .arg(format!("docker://{image}"))
        .output()
        .expect("skopeo runs");
    if !out.status.success() {
        return None;
    }
    let out = Command::new("skopeo")
        .args(["inspect", "--tls-verify=false", "--format", "{{.Digest}}"])
        .arg(format!("docker://{image}"))
        .output()
        .expect("skopeo runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}
