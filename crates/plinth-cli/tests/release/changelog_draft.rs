//! `generate-release` drafts the changelog entry from the package changes since the previous
//! published version: the file family's 1.0.0 has no dpkg packages, its next version's
//! Dockerfile installs a dpkg status listing socat (added), the one after upgrades it. The draft
//! is used as is with `--changelog-from-diff`, and offered as the editable answer of the
//! question on a terminal.

use crate::fixture::{Catalog, assert_fails, assert_ok, pty_script, text};

fn dpkg_status(socat: &str) -> String {
    format!(
        "Package: socat\nStatus: install ok installed\nArchitecture: amd64\nVersion: {socat}\n\n\
         Package: removed-long-ago\nStatus: deinstall ok config-files\nVersion: 1.0\n"
    )
}

/// Makes the family's working files install a dpkg status listing socat `version`.
fn install_socat(c: &Catalog, version: &str) {
    let dir = c.family_dir();
    std::fs::write(dir.join("status"), dpkg_status(version)).unwrap();
    let dockerfile = dir.join("Dockerfile");
    let text = std::fs::read_to_string(&dockerfile).unwrap();
    if !text.contains("COPY status") {
        std::fs::write(
            &dockerfile,
            format!("{text}COPY status /var/lib/dpkg/status\n"),
        )
        .unwrap();
    }
}

const DIALOGUE: &str = r#"
expect("What should the changelog entry be?", 900)
expect("Upgrade socat 1.7.4.4-2 → 1.7.4.5-1")
send(b" (reviewed)\r")
expect("Added 1.2.0 to the registry.", 600)
"#;

#[test]
fn the_package_changes_since_the_previous_version_are_the_changelog_draft() {
    if !crate::require_root() {
        return;
    }
    let c = Catalog::files("draft");
    let release = |bump: &str, extra: &[&str]| {
        let mut args = vec!["generate-release", "--family", "team/base", "--bump", bump];
        args.extend_from_slice(extra);
        c.cmd(&args)
    };

    // Nothing to compare the first version with: refused before anything is built.
    let out = c.run(&mut release(
        "major",
        &["--changelog-from-diff", "--publish"],
    ));
    assert_fails(&out, 1, "there is no published version to compare with");
    assert!(!c.changelog_path().exists(), "{}", text(&out));
    // Without a terminal the entry must come from a flag, asked before building.
    let out = c.run(&mut release("major", &["--publish"]));
    assert_fails(&out, 2, "--changelog-from-diff");

    let out = c.run(&mut release(
        "major",
        &["--changelog", "First release", "--publish"],
    ));
    assert_ok(&out);

    install_socat(&c, "1.7.4.4-2");
    let out = c.run(&mut release(
        "minor",
        &["--changelog-from-diff", "--publish"],
    ));
    assert_ok(&out);
    assert_eq!(
        changelog_entry(&c, "1.1.0"),
        "Add socat 1.7.4.4-2",
        "the package added by the new version is the entry"
    );

    // On a terminal the draft is the starting text of the question: edited, then accepted.
    install_socat(&c, "1.7.4.5-1");
    let probe = release("minor", &["--publish"]);
    let out = c.run(&mut c.on_terminal(&probe, &pty_script(160, DIALOGUE)));
    assert_ok(&out);
    assert_eq!(
        changelog_entry(&c, "1.2.0"),
        "Upgrade socat 1.7.4.4-2 → 1.7.4.5-1 (reviewed)",
        "{}",
        text(&out)
    );
}

/// The changelog entry the family's changelog has for `version`.
fn changelog_entry(c: &Catalog, version: &str) -> String {
    let changelog = c.changelog();
    let entry = changelog
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["version"] == version)
        .unwrap_or_else(|| panic!("no {version} entry: {changelog}"));
    entry["changelog_entry"].as_str().unwrap().to_owned()
}
