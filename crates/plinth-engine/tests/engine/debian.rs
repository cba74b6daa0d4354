//! One real Debian build: a minbase bookworm root from mmdebstrap (made once a day and kept under
//! the target directory), `apt-get install socat`, and socat runs.

use std::path::{Path, PathBuf};
use std::process::Command;

use plinth_engine::{BuildOptions, DiscardOutput, RunOptions};
use plinth_oci::Platform;
use plinth_recipe::Container;
use plinth_test::{External, require_external};

use crate::common::{TestEngine, ok, require_root, write_layout};

/// `oci:DIR:latest` of a Debian bookworm minbase root, built once per day.
fn debian_layout() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../../target"));
    let day = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 86_400;
    let base = target.join("plinth-test-data");
    let layout = base.join(format!("debian-bookworm-{day}"));
    if layout.join("index.json").exists() {
        return layout;
    }
    std::fs::create_dir_all(&base).unwrap();
    let work = tempfile::tempdir_in(&base).unwrap();
    let rootfs = work.path().join("rootfs");
    let status = Command::new("mmdebstrap")
        .args(["--variant=minbase", "--quiet", "bookworm"])
        .arg(&rootfs)
        .status()
        .unwrap();
    assert!(status.success(), "mmdebstrap failed");
    let tmp_layout = work.path().join("layout");
    write_layout(&[(Platform::linux_amd64(), rootfs)], &tmp_layout);
    match std::fs::rename(&tmp_layout, &layout) {
        Ok(()) => {}
        Err(_) if layout.join("index.json").exists() => {}
        Err(e) => panic!("cannot keep the Debian layout: {e}"),
    }
    layout
}

#[test]
fn debian_apt_get_install_works() {
    if !require_root() {
        return;
    }
    require_external!(External::Tool("mmdebstrap"));
    let layout = debian_layout();
    let t = TestEngine::new(None);
    let recipe = Container::from_address(&format!("oci:{}:latest", layout.display()))
        .unwrap()
        .with_exec(["sh", "-c", "apt-get update -qq && apt-get install -y -qq --no-install-recommends socat && rm -rf /var/lib/apt/lists/*"])
        .with_exec(["socat", "-V"]);
    let amd64 = Platform::linux_amd64();
    let result = ok(t.engine.build(&recipe, &BuildOptions::new([amd64.clone()])));
    let out = ok(t.engine.run(
        &result.root,
        &amd64,
        &["socat".to_owned(), "-V".to_owned()],
        &RunOptions {
            capture: true,
            ..RunOptions::default()
        },
        &mut DiscardOutput,
    ));
    assert!(out.success(), "{}", out.stderr_text());
    assert!(
        out.stdout_text().contains("socat version"),
        "{}",
        out.stdout_text()
    );
}
