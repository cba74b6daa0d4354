//! The interactive generate-release driven through a pseudo-terminal (python's `pty`): pick the
//! family with Enter, move through the bump list with the arrow keys, decline publishing, then,
//! once the version is built (no draft: nothing was published before), have an empty changelog
//! rejected and type one.

use crate::fixture::{Catalog, assert_ok, pty_script};

const DIALOGUE: &str = r#"
expect("Which base image would you like to release a new version for?")
send(b"\r")
expect("Which kind of new version would you like to cut? (latest version is 0.0.0)")
expect("major")
send(b"\x1b[B")
send(b"\x1b[A")
send(b"\r")
expect("Would you like to publish it to our remote registry now?")
send(b"n\r")
expect("No changelog draft: there is no published version to compare with.", 600)
expect("What should the changelog entry be?")
send(b"\r")
expect("cannot be empty")
send(b"Interactive release\r")
expect("Added 1.0.0 to the registry.", 600)
"#;

#[test]
fn generate_release_through_a_pseudo_terminal() {
    if !crate::require_root() {
        return;
    }
    let c = Catalog::new("pty");
    let out = c.run(&mut c.on_terminal(&c.cmd(&["generate-release"]), &pty_script(120, DIALOGUE)));
    assert_ok(&out);
    let changelog = c.changelog();
    assert_eq!(
        changelog[0]["version"], "1.0.0",
        "major was picked after moving down and up"
    );
    assert_eq!(changelog[0]["changelog_entry"], "Interactive release");
    let screen = String::from_utf8_lossy(&out.stdout);
    assert!(
        screen.contains("major → 1.0.0"),
        "the bump labels show the resulting version:\n{screen}"
    );
    assert!(screen.contains("Skipping publication."), "{screen}");
}
