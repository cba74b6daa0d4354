//! `skopeo`, the independent reader tests check plinth's layouts and pushes with.

use std::ffi::OsStr;
use std::process::Command;

/// Runs `skopeo ARGS…` and returns its stdout, panicking with the command line and skopeo's
/// stderr when it fails.
pub fn skopeo<I, S>(args: I) -> Vec<u8>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = Command::new("skopeo");
    cmd.args(args);
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?} (is skopeo installed?): {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// [`skopeo`]'s stdout parsed as JSON (`inspect`, `inspect --raw`, `inspect --config`).
pub fn skopeo_json<I, S>(args: I) -> serde_json::Value
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let stdout = skopeo(args);
    serde_json::from_slice(&stdout).unwrap_or_else(|e| {
        panic!(
            "skopeo printed no JSON ({e}): {}",
            String::from_utf8_lossy(&stdout)
        )
    })
}
