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
use plinth_test::copy_tree;
use plinth_test::{LocalRegistry, TestContext};
use serde_json::Value;

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

/// Which example catalog a test releases from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flavour {
    /// `examples/my-family`: the family in code, served by the `my-family` binary.
    Code,
    /// `examples/file-family`: the family as files, served by `plinth` in the catalog folder.
    Files,
}

/// One test's catalog: a context, a namespace of its own and the root image to use.
pub struct Catalog {
    pub ctx: TestContext,
    pub registry: &'static LocalRegistry,
    pub namespace: String,
    pub root: String,
    flavour: Flavour,
}

impl Catalog {
    /// The code family (`examples/my-family`), its catalog directory still empty.
    pub fn new(namespace: &str) -> Self {
        let ctx = TestContext::new().with_bin(my_family_bin());
        Self::with_context(ctx, namespace, Flavour::Code)
    }

    /// The file family: the example catalog `examples/file-family` copied into the test's work
    /// directory.
    pub fn files(namespace: &str) -> Self {
        let this = Self::with_context(TestContext::new(), namespace, Flavour::Files);
        let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/file-family");
        copy_tree(&example, &this.catalog_dir());
        this
    }

    fn with_context(ctx: TestContext, namespace: &str, flavour: Flavour) -> Self {
        let registry = LocalRegistry::shared();
        Self {
            ctx: ctx.with_registry_filter(registry),
            registry,
            namespace: format!("{namespace}-{}", std::process::id()),
            root: push_root(registry, Root::Good),
            flavour,
        }
    }

    /// The family's repository.
    pub fn repository(&self) -> &'static str {
        match self.flavour {
            Flavour::Code => REPOSITORY,
            Flavour::Files => FILE_REPOSITORY,
        }
    }

    pub fn catalog_dir(&self) -> PathBuf {
        self.ctx.work_dir().join("catalog")
    }

    /// The file family's folder in the catalog.
    pub fn family_dir(&self) -> PathBuf {
        assert_eq!(
            self.flavour,
            Flavour::Files,
            "only the file family has a folder"
        );
        self.catalog_dir().join("families/base")
    }

    /// The family's file name stem below `generated/`.
    fn file_stem(&self) -> &'static str {
        match self.flavour {
            Flavour::Code => "example_busybox_base",
            Flavour::Files => "team_base",
        }
    }

    pub fn changelog_path(&self) -> PathBuf {
        self.catalog_dir()
            .join(format!("generated/changelogs/{}.json", self.file_stem()))
    }

    /// The family's changelog as JSON.
    pub fn changelog(&self) -> Value {
        read_json(&self.changelog_path())
    }

    pub fn release_record_path(&self) -> PathBuf {
        self.catalog_dir()
            .join(format!("generated/inputs/{}.json", self.file_stem()))
    }

    /// The family's release record (`generated/inputs/…`) as JSON.
    pub fn release_record(&self) -> Value {
        read_json(&self.release_record_path())
    }

    /// Asserts that every platform of `image` was built by BuildKit, as its provenance says:
    /// both engines write BuildKit's history and, by default, its timestamps, so the image
    /// itself does not tell.
    pub fn assert_built_by_buildkit(&self, image: &str) {
        let out = self.run(&mut self.cmd(&["provenance", image]));
        assert_ok(&out);
        let statements: Value = serde_json::from_slice(&out.stdout).unwrap();
        let statements = statements.as_array().expect("statements");
        assert!(!statements.is_empty(), "no provenance for {image}");
        for statement in statements {
            assert_eq!(
                statement["predicate"]["runDetails"]["builder"]["version"]["engine"], "buildkit",
                "not built by BuildKit: {statement}"
            );
        }
    }

    /// The published repository in the loopback registry.
    pub fn published(&self) -> String {
        let name = match self.flavour {
            Flavour::Code => "busybox-base",
            Flavour::Files => "base",
        };
        format!("{}/{}/{name}", self.registry.host(), self.namespace)
    }

    /// The family's CLI with the registry, namespace and mirror flags: `my-family` with the
    /// catalog directory for the code family; `plinth` in the catalog directory for the file
    /// family, with the busybox stand-in for its Debian root (the checks pass on both; the root
    /// is cheap).
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = self.ctx.plinth();
        cmd.env("PLINTH_NO_PROMPT", "1")
            .args(["--registry", &self.registry.host()])
            .args(["--namespace", &self.namespace])
            .args(["--registry-mirror", &self.registry.host()]);
        match self.flavour {
            Flavour::Code => {
                cmd.env("MY_FAMILY_ROOT_IMAGE", &self.root)
                    .arg("--catalog-dir")
                    .arg(self.catalog_dir());
            }
            Flavour::Files => {
                cmd.current_dir(self.catalog_dir())
                    .arg("--substitute-image")
                    .arg(format!("plinth/debian:bookworm={}", self.root));
            }
        }
        cmd.args(args);
        cmd
    }

    /// `generate-release` of the family with flags: `bump`, the changelog `entry`, and
    /// `--publish` or `--no-publish`.
    pub fn release_cmd(&self, bump: &str, entry: &str, publish: bool) -> Command {
        let publish = if publish { "--publish" } else { "--no-publish" };
        self.cmd(&[
            "generate-release",
            "--family",
            self.repository(),
            "--bump",
            bump,
            "--changelog",
            entry,
            publish,
        ])
    }

    pub fn run(&self, cmd: &mut Command) -> Output {
        cmd.output()
            .unwrap_or_else(|e| panic!("failed to run {cmd:?}: {e}"))
    }

    /// `git` in the catalog directory with a committer identity; asserts success and returns
    /// stdout as it is.
    pub fn git(&self, args: &[&str]) -> String {
        let out = self.run(
            self.ctx
                .command("git")
                .arg("-C")
                .arg(self.catalog_dir())
                .args(["-c", "user.name=t", "-c", "user.email=t@example.invalid"])
                .args(args),
        );
        assert!(out.status.success(), "git {args:?}: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Makes the (empty) catalog directory a git repository; `setup` runs between `git init` and
    /// the first, empty commit.
    pub fn init_git(&self, setup: &[&[&str]]) {
        std::fs::create_dir_all(self.catalog_dir()).unwrap();
        self.git(&["init", "-q"]);
        for args in setup {
            self.git(args);
        }
        self.git(&["commit", "-q", "--allow-empty", "-m", "empty catalog"]);
    }

    /// `probe` run on a pseudo-terminal by the python `script` (see [`pty_script`]), with the
    /// probe's environment and directory, prompts allowed.
    pub fn on_terminal(&self, probe: &Command, script: &str) -> Command {
        let mut cmd = self.ctx.command("python3");
        cmd.arg("-c")
            .arg(script)
            .arg(probe.get_program())
            .args(probe.get_args());
        for (k, v) in probe.get_envs() {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        if let Some(dir) = probe.get_current_dir() {
            cmd.current_dir(dir);
        }
        cmd.env_remove("PLINTH_NO_PROMPT").env("TERM", "xterm");
        cmd
    }
}

/// The file family's repository (`examples/file-family`).
pub const FILE_REPOSITORY: &str = "team/base";

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("failed to read `{}`: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// A python program that runs its arguments on a pseudo-terminal `columns` wide and then runs
/// `dialogue`, which may call `expect(text, timeout=120)` (wait for `text` after what was
/// expected before; exit 3 on timeout or end of output), `send(bytes)` and `read(timeout)`.
/// Afterwards it reads to the end, prints everything the terminal showed and exits with the
/// command's code.
pub fn pty_script(columns: u16, dialogue: &str) -> String {
    format!(
        r#"
import fcntl, os, pty, select, struct, sys, termios, time
argv = sys.argv[1:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', 40, {columns}, 0, 0))
seen = b""
buf = b""
def read(timeout):
    global buf, seen
    r, _, _ = select.select([fd], [], [], timeout)
    if not r:
        return None
    try:
        data = os.read(fd, 4096)
    except OSError:
        data = b""
    buf += data
    seen += data
    return data
def expect(s, timeout=120):
    global buf
    end = time.time() + timeout
    while s.encode() not in buf:
        data = read(max(0, end - time.time()))
        if data is None or data == b"":
            sys.stdout.buffer.write(seen)
            sys.stderr.write("\n[driver] %s waiting for %r\n" % ("timeout" if data is None else "EOF", s))
            sys.exit(3)
    buf = buf[buf.index(s.encode()) + len(s):]
def send(b):
    os.write(fd, b)
    time.sleep(0.4)
{dialogue}
while read(600):
    pass
_, status = os.waitpid(pid, 0)
sys.stdout.buffer.write(seen)
sys.exit(os.waitstatus_to_exitcode(status))
"#
    )
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

/// Asserts the command succeeded.
pub fn assert_ok(output: &Output) {
    assert!(output.status.success(), "{}", text(output));
}

/// Asserts the command exited with `code` and said `message` on stderr.
pub fn assert_fails(output: &Output, code: i32, message: &str) {
    assert_eq!(output.status.code(), Some(code), "{}", text(output));
    assert_stderr_has(output, message);
}

/// Asserts the command said `message` on stderr.
pub fn assert_stderr_has(output: &Output, message: &str) {
    assert!(
        String::from_utf8_lossy(&output.stderr).contains(message),
        "no `{message}` on stderr:\n{}",
        text(output)
    );
}

/// What `skopeo inspect FLAG` says of `image`, as JSON (`--raw`: the manifest or index;
/// `--config`: the config behind a platform manifest `repo@digest`).
pub fn skopeo_json(image: &str, flag: &str) -> Value {
    plinth_test::skopeo_json([
        "inspect",
        "--tls-verify=false",
        flag,
        &format!("docker://{image}"),
    ])
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
    let digest = plinth_test::skopeo([
        "inspect",
        "--tls-verify=false",
        "--format",
        "{{.Digest}}",
        &format!("docker://{image}"),
    ]);
    Some(String::from_utf8_lossy(&digest).trim().to_owned())
}
