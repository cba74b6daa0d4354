//! `plinth verify --rebuild`: a file family version is published, then rebuilt from its
//! recorded recipe in an empty store and compared with the registry: every digest matches
//! (found through the provenance of a plain reference); without the stand-in root the build
//! used (recorded in its provenance) the rebuild is refused; after the recorded `motd` the
//! recipe copies changed, the rebuild names `/etc/motd` and exits 1.

use crate::fixture::Catalog;
use crate::fixture::text;

#[test]
fn verify_rebuild_matches_then_names_the_changed_input_file() {
    if !crate::require_root() {
        return;
    }
    let c = Catalog::files("verify");
    let out = c.run(&mut c.cmd(&[
        "generate-release",
        "--family",
        "team/base",
        "--bump",
        "major",
        "--changelog",
        "First release",
        "--publish",
    ]));
    assert!(out.status.success(), "{}", text(&out));
    let published = format!("{}:1.0.0", c.published());

    // Unchanged: the reference alone; its provenance names team/base 1.0.0.
    let out = c.run(&mut c.cmd(&["verify", "--rebuild", &published]));
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("verified: the rebuild matches"),
        "{}",
        text(&out)
    );
    assert!(stdout.contains("[linux/amd64] same"), "{}", text(&out));
    assert!(stdout.contains("[linux/arm64] same"), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Rebuilding team/base 1.0.0"),
        "{}",
        text(&out)
    );

    // The build replaced its Debian root with a stand-in, and its provenance says so: without
    // the same `--substitute-image` the rebuild is refused before anything builds.
    let mut without_stand_in = c.ctx.plinth();
    without_stand_in
        .current_dir(c.catalog_dir())
        .args([
            "--registry",
            &c.registry.host(),
            "--namespace",
            &c.namespace,
        ])
        .args(["--registry-mirror", &c.registry.host()])
        .args(["verify", "--rebuild", &published]);
    let out = c.run(&mut without_stand_in);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!(
            "--substitute-image plinth/debian:bookworm={}",
            c.root
        )),
        "{}",
        text(&out)
    );
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("Rebuilding"),
        "{}",
        text(&out)
    );

    // One input the recorded recipe reads changes.
    let motd = c.family_dir().join("versions/1.0.0/motd");
    let mut bytes = std::fs::read(&motd).unwrap();
    bytes.extend_from_slice(b"changed after the release\n");
    std::fs::write(&motd, bytes).unwrap();
    let out = c.run(&mut c.cmd(&["verify", "--rebuild", "team/base:1.0.0"]));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("NOT verified"), "{}", text(&out));
    assert!(
        stdout.contains("changed /etc/motd: size"),
        "the file is named:\n{}",
        text(&out)
    );
    assert!(stdout.contains("[linux/arm64] differs"), "{}", text(&out));

    let out = c.run(&mut c.cmd(&[
        "verify",
        "--rebuild",
        "team/base:1.0.0",
        "--json",
        "--platform",
        "linux/amd64",
    ]));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["verified"], false);
    let platforms = json["platforms"].as_array().unwrap();
    assert_eq!(platforms.len(), 1);
    let changed: Vec<String> = platforms[0]["layers"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|l| l["files"].as_array().unwrap().clone())
        .map(|f| {
            format!(
                "{} {}",
                f["change"].as_str().unwrap(),
                f["path"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        changed,
        ["changed etc/motd"],
        "only the changed input differs"
    );
}
