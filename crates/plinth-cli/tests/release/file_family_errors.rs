//! A mistake in a family's files stops every command before anything runs: the message names
//! the file, the line and the key, the exit status says so, and nothing is written.

use crate::fixture::Catalog;
use crate::fixture::text;

#[test]
fn a_broken_family_file_is_named_and_nothing_is_written() {
    let c = Catalog::files("files-errors");
    let manifest = c.family_dir().join("family.toml");
    let good = std::fs::read_to_string(&manifest).unwrap();
    let cases = [
        (
            // A misspelt key.
            good.replace("platforms =", "platfroms ="),
            vec![
                "family.toml",
                "line 5, column 1 (at `platfroms`)",
                "unknown field `platfroms`",
            ],
        ),
        (
            // Not TOML at all: an unterminated string.
            good.replace("owner = \"Platform team\"", "owner = \"Platform team"),
            vec!["family.toml", "line 4"],
        ),
    ];
    for (text_of_manifest, expected) in cases {
        std::fs::write(&manifest, &text_of_manifest).unwrap();
        let out = c.run(&mut c.release_cmd("major", "First", false));
        assert!(!out.status.success(), "{}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        for e in expected {
            assert!(stderr.contains(e), "missing `{e}`: {}", text(&out));
        }
        assert!(!c.family_dir().join("versions").exists(), "{}", text(&out));
        assert!(
            !c.catalog_dir().join("generated").exists(),
            "{}",
            text(&out)
        );
    }
}
