//! Two releases of one family started at once: one runs, the other fails clearly (or, if it
//! starts after the first finished, is refused because the latest version is unpublished); the
//! changelog is never corrupted.

use crate::fixture::{Catalog, text};

#[test]
fn two_releases_of_one_family_at_once() {
    if !crate::require_root() {
        return;
    }
    let c = Catalog::new("concurrent");
    let children: Vec<_> = (0..2)
        .map(|_| {
            c.release_cmd("major", "Raced", false)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outputs: Vec<_> = children
        .into_iter()
        .map(|ch| ch.wait_with_output().unwrap())
        .collect();
    let ok = outputs.iter().filter(|o| o.status.success()).count();
    assert_eq!(
        ok,
        1,
        "exactly one release succeeds:\n{}\n{}",
        text(&outputs[0]),
        text(&outputs[1])
    );
    let loser = outputs.iter().find(|o| !o.status.success()).unwrap();
    let stderr = String::from_utf8_lossy(&loser.stderr);
    assert!(
        stderr.contains("another release of example/busybox-base is in progress")
            || stderr.contains(
                "The latest version of example/busybox-base (1.0.0) has not been published yet."
            ),
        "{}",
        text(loser)
    );
    let changelog = c.changelog();
    assert_eq!(changelog.as_array().unwrap().len(), 1);
    assert_eq!(changelog[0]["version"], "1.0.0");
}
