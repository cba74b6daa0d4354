//! One real Debian build: on the run's shared bookworm minbase root (bootstrapped once through
//! the engine's guarded mmdebstrap, seeded into this test's store), `apt-get install socat`,
//! and socat runs.

use plinth_engine::{BuildOptions, DiscardOutput, RunOptions};
use plinth_oci::Platform;
use plinth_recipe::{Container, DebianRoot};
use plinth_test::{External, require_external};

use crate::common::{TestEngine, ok, require_root};

#[test]
fn debian_apt_get_install_works() {
    if !require_root() {
        return;
    }
    require_external!(External::Tool("mmdebstrap"));
    let root = DebianRoot::new("bookworm").unwrap();
    let t = TestEngine::with_debian_root(&root, None);
    let recipe = Container::from_debian(root)
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
