use std::os::unix::fs::PermissionsExt;

use proptest::prelude::*;

use super::*;

fn apply(text: &str, mode: u32, is_dir: bool) -> u32 {
    SymbolicMode::parse(text)
        .unwrap_or_else(|| panic!("`{text}` should parse"))
        .apply(mode, is_dir)
}

#[test]
fn the_reference_examples() {
    // Dockerfile reference: `u=rwX,go=rX` gives directories 755 and files 644, keeping the
    // executable bit of files that have it.
    assert_eq!(apply("u=rwX,go=rX", 0o700, true), 0o755);
    assert_eq!(apply("u=rwX,go=rX", 0o600, false), 0o644);
    assert_eq!(apply("u=rwX,go=rX", 0o700, false), 0o755);
    assert_eq!(apply("+x", 0o644, false), 0o755);
    assert_eq!(apply("g=u", 0o640, false), 0o660);
    assert_eq!(apply("a-w", 0o666, false), 0o444);
    assert_eq!(apply("u+s,g+s,+t", 0o755, true), 0o7755);
    assert_eq!(
        apply("o+s", 0o755, false),
        0o755,
        "`s` means nothing for others"
    );
    assert_eq!(
        apply("=", 0o4755, false),
        0,
        "`=` alone clears every standard bit"
    );
    assert_eq!(apply("go=", 0o755, false), 0o700);
    assert_eq!(
        apply("u-x+w", 0o544, false),
        0o644,
        "ops chain without a comma"
    );
}

/// BSD's `X` (and so BuildKit's) adds execute when the file as copied had some, or is a
/// directory, whatever the clauses before it removed.
#[test]
fn x_looks_at_the_files_own_mode() {
    assert_eq!(apply("o-x,+X", 0o6027, false), 0o6137);
    assert_eq!(apply("a-x,u+X", 0o744, false), 0o744);
    assert_eq!(apply("a-x,u+X", 0o644, false), 0o644);
    assert_eq!(apply("a=r,a+X", 0o600, true), 0o555);
    assert_eq!(
        apply("u=rwX,go=rX", 0o4711, false),
        0o755,
        "`=` clears setuid"
    );
}

#[test]
fn what_is_not_symbolic_is_refused() {
    for text in [
        "", "755", "0644", "u", "x", "u=rwx,", "u!x", "+q", "a+x,,g-w",
    ] {
        assert!(SymbolicMode::parse(text).is_none(), "`{text}`");
    }
}

#[test]
fn the_mode_serializes_as_written_and_octal_as_a_number() {
    let octal = serde_json::to_string(&FileMode::Octal(0o640)).unwrap();
    assert_eq!(octal, "416");
    let symbolic = FileMode::Symbolic(SymbolicMode::parse("go-w").unwrap());
    let text = serde_json::to_string(&symbolic).unwrap();
    assert_eq!(text, "\"go-w\"");
    assert_eq!(serde_json::from_str::<FileMode>(&text).unwrap(), symbolic);
    assert_eq!(
        serde_json::from_str::<FileMode>("416").unwrap(),
        FileMode::Octal(0o640)
    );
}

/// A symbolic mode from chmod(1)'s grammar: clauses of who, then operators with permissions.
fn symbolic() -> impl Strategy<Value = String> {
    let who = prop::sample::select(vec!["", "u", "g", "o", "a", "ug", "go", "uo", "ugo"]);
    let op = prop::sample::select(vec!["+", "-", "="]);
    let perms = prop::sample::select(vec![
        "", "r", "w", "x", "rw", "rx", "rwx", "u", "g", "o", "wx",
    ]);
    let action = (op, perms).prop_map(|(o, p)| format!("{o}{p}"));
    let clause =
        (who, prop::collection::vec(action, 1..3)).prop_map(|(w, a)| format!("{w}{}", a.concat()));
    prop::collection::vec(clause, 1..3).prop_map(|c| c.join(","))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// GNU chmod with a umask of 0 agrees on the permission bits of regular files for modes
    /// without `X`, `s` and `t`. Where the two differ BuildKit follows BSD, as plinth does:
    /// GNU counts the sticky bit among `o`'s and clears special bits on `=` that BSD keeps
    /// (`=u`), GNU's `X` looks at the mode as changed so far where BSD's looks at the file's
    /// own (`x_looks_at_the_files_own_mode`), and on directories GNU keeps setuid and setgid.
    #[test]
    fn files_get_what_gnu_chmod_gives_them(text in symbolic(), mode in 0u32..0o777) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg("umask 0 && chmod -- \"$0\" \"$1\"")
            .arg(&text)
            .arg(&file)
            .output()
            .unwrap();
        prop_assume!(out.status.success());
        let gnu = std::fs::metadata(&file).unwrap().permissions().mode() & 0o7777;
        prop_assert_eq!(apply(&text, mode, false), gnu, "chmod {} on {:o}", text, mode);
    }
}
