//! Debian roots for CLI tests, bootstrapped once a day by the `plinth` binary itself (so under
//! the engine's mount-namespace guard, never leaving a mount on the host) and seeded into each
//! test's store.

use std::path::Path;

use crate::context::{PLINTH_HOME_ENV, TestContext};
use crate::error::{Result, io_error};
use crate::shared_data::{
    debian_root_fixture_name, fixture_failed, keep_only_blobs_and_refs, seed_store, shared_fixture,
};

impl TestContext {
    /// Gives this context's store the Debian root `address` (e.g.
    /// `plinth/debian:bookworm-minbase`) for linux/amd64, made once a day for every test
    /// process, so a build naming it checks the archive state and uses the root as it is.
    ///
    /// When Debian's archive was republished since the root was made, the build makes it again
    /// (the root's cache key is the archive state): still correct, only slower.
    pub fn seed_debian_root(&self, address: &str) {
        self.try_seed_debian_root(address)
            .unwrap_or_else(|e| panic!("{}", crate::error_chain(&e)));
    }

    /// [`seed_debian_root`](Self::seed_debian_root), returning what went wrong.
    pub fn try_seed_debian_root(&self, address: &str) -> Result<()> {
        let fixture = shared_fixture(&debian_root_fixture_name(address), |dir| {
            make_debian_root_store(self, address, dir)
        })?;
        seed_store(&fixture.join("store"), &self.plinth_home())
    }
}

/// `dir/store`: a store in which `plinth build` made `address` for linux/amd64, with nothing
/// but its blobs and refs (the sandbox's scratch and unpacked snapshots are removed).
fn make_debian_root_store(ctx: &TestContext, address: &str, dir: &Path) -> Result<()> {
    let dockerfile = dir.join("Dockerfile");
    std::fs::write(&dockerfile, format!("FROM {address}\n"))
        .map_err(io_error("write", &dockerfile))?;
    let store = dir.join("store");
    let out = ctx
        .command(ctx.bin())
        .env(PLINTH_HOME_ENV, &store)
        .args(["build", "--platform", "linux/amd64", "-f"])
        .arg(&dockerfile)
        .output()
        .map_err(io_error("run", ctx.bin()))?;
    if !out.status.success() {
        return Err(fixture_failed(
            &format!("making the Debian root `{address}`"),
            &out,
        ));
    }
    keep_only_blobs_and_refs(&store)
}
