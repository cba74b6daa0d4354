use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::*;
use crate::TableFamily;

const DOCKERFILE_TEXT: &str = "FROM busybox:1.36\nRUN echo hi > /hi\n";
const CST: &str = "schemaVersion: 2.0.0\nfileExistenceTests:\n  - name: hi\n    path: /hi\n";

/// A catalog directory with one family `team/base` in `families/base`.
fn catalog_dir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let family = dir.path().join("families/base");
    std::fs::create_dir_all(family.join("checks")).unwrap();
    std::fs::write(family.join(FAMILY_TOML), "repository = \"team/base\"\n").unwrap();
    std::fs::write(family.join(DOCKERFILE), DOCKERFILE_TEXT).unwrap();
    std::fs::write(family.join("checks/image.yaml"), CST).unwrap();
    (dir, family)
}

fn load_err(dir: &Path) -> String {
    load_families(dir).unwrap_err().to_string()
}

fn v(s: &str) -> Version {
    s.parse().unwrap()
}

#[test]
fn the_example_catalog_loads_as_one_file_family_without_the_builtin_ones() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/file-family");
    let code = TableFamily::new("team/code", Vec::new()).unwrap();
    let base = Catalog::new("builtin", "Builtin")
        .with_family(Arc::new(code))
        .unwrap();
    let catalog = extend_catalog(&base, &example).unwrap();
    assert_eq!(catalog.title(), "team-base-images");
    assert_eq!(catalog.owner(), "Team");
    assert_eq!(catalog.repositories(), ["team/base"]);
    let family = catalog.get("team/base").unwrap();
    assert_eq!(family.kind(), FamilyKind::Files);
    assert!(family.has_working_version());
    assert!(family.versions().is_empty());
}

#[test]
fn code_and_file_families_side_by_side_and_one_repository_once() {
    let (dir, family) = catalog_dir();
    let code = TableFamily::new("team/code", Vec::new()).unwrap();
    let base = Catalog::new("t", "o").with_family(Arc::new(code)).unwrap();
    let catalog = extend_catalog(&base, dir.path()).unwrap();
    assert_eq!(catalog.repositories(), ["team/code", "team/base"]);
    assert_eq!(catalog.families()[0].kind(), FamilyKind::Code);

    std::fs::write(family.join(FAMILY_TOML), "repository = \"team/code\"\n").unwrap();
    let err = extend_catalog(&base, dir.path()).unwrap_err().to_string();
    assert!(err.contains("families/base/family.toml"), "{err}");
    assert!(
        err.contains("`team/code` is already a family of this catalog (code family)"),
        "{err}"
    );
}

#[test]
fn missing_files_and_strange_folders_are_named() {
    let (dir, family) = catalog_dir();
    std::fs::remove_file(family.join(DOCKERFILE)).unwrap();
    let err = load_err(dir.path());
    assert!(err.contains("families/base`: no `Dockerfile`"), "{err}");

    let (dir, family) = catalog_dir();
    std::fs::remove_file(family.join(FAMILY_TOML)).unwrap();
    assert!(load_err(dir.path()).contains("no `family.toml`"));

    let (dir, family) = catalog_dir();
    std::fs::create_dir_all(family.join("versions/latest")).unwrap();
    let err = load_err(dir.path());
    assert!(
        err.contains("versions/latest`: `latest` is not a version"),
        "{err}"
    );

    // Not SemVer: two parts, a leading zero.
    for bad in ["1.0", "01.0.0"] {
        let (dir, family) = catalog_dir();
        std::fs::create_dir_all(family.join("versions").join(bad)).unwrap();
        let err = load_err(dir.path());
        assert!(
            err.contains(&format!("versions/{bad}`: `{bad}` is not a version")),
            "{err}"
        );
    }

    let (dir, family) = catalog_dir();
    std::fs::write(family.join("checks/notes.md"), "x").unwrap();
    let err = load_err(dir.path());
    assert!(err.contains("checks/notes.md`: not a check file"), "{err}");
}

#[test]
fn check_files_errors_name_the_file() {
    let (dir, family) = catalog_dir();
    std::fs::write(
        family.join("checks/image.yaml"),
        "schemaVersion: 2.0.0\nfileExistenceTests:\n  - name: hi\n    pth: /hi\n",
    )
    .unwrap();
    let err = load_families(dir.path()).unwrap_err();
    let chain = format!("{err}: {}", std::error::Error::source(&err).unwrap());
    assert!(chain.contains("checks/image.yaml"), "{chain}");
    assert!(chain.contains("pth"), "{chain}");
    assert!(chain.contains("line 4"), "{chain}");

    std::fs::write(
        family.join("checks/image.yaml"),
        "schemaVersion: 1.0.0\nfileExistenceTests:\n  - name: hi\n    path: /hi\n",
    )
    .unwrap();
    let err = load_err(dir.path());
    assert!(err.contains("checks/image.yaml"), "{err}");
    assert!(err.contains("only `2.0.0` is supported"), "{err}");

    std::fs::write(family.join("checks/image.yaml"), CST).unwrap();
    std::fs::write(
        family.join("checks/more.plinth.yaml"),
        "checks:\n  - id: tz\n    kind: timezone_is_utd\n",
    )
    .unwrap();
    let err = load_err(dir.path());
    assert!(err.contains("checks/more.plinth.yaml"), "{err}");
    assert!(err.contains("timezone_is_utd"), "{err}");

    std::fs::remove_file(family.join("checks/more.plinth.yaml")).unwrap();
    std::fs::write(family.join("checks/again.yaml"), CST).unwrap();
    let err = load_err(dir.path());
    assert!(
        err.contains("checks/image.yaml`: the check id `cst:file_existence:hi` is also used in"),
        "{err}"
    );
    assert!(err.contains("checks/again.yaml"), "{err}");
}

#[test]
fn digest_pin_policy_names_the_from_line() {
    let (dir, family) = catalog_dir();
    std::fs::write(
        family.join(FAMILY_TOML),
        "repository = \"team/base\"\n[root]\npin = \"digest\"\n",
    )
    .unwrap();
    std::fs::write(
        family.join(DOCKERFILE),
        "# syntax=docker/dockerfile:1\n\nFROM busybox:1.36\n",
    )
    .unwrap();
    let err = load_err(dir.path());
    assert!(
        err.contains("Dockerfile`: line 3: `FROM busybox:1.36` has no digest"),
        "{err}"
    );
    std::fs::write(family.join(DOCKERFILE), "FROM plinth/debian:bookworm\n").unwrap();
    assert_eq!(load_families(dir.path()).unwrap().len(), 1);
}

#[test]
fn a_staged_version_is_removed_unless_committed() {
    let (dir, family_dir) = catalog_dir();
    let family = load_families(dir.path()).unwrap().remove(0);
    let staged = family.stage_version(&v("1.0.0")).unwrap().unwrap();
    let version_dir = family_dir.join("versions/1.0.0");
    assert!(version_dir.join(DOCKERFILE).is_file());
    assert!(family_dir.join("versions/.1.0.0.staging").is_file());
    // Not a record while staged: a reader of the catalog skips it.
    assert!(load_families(dir.path()).unwrap()[0].versions().is_empty());
    assert_eq!(staged.family().versions().len(), 1);
    assert_eq!(
        staged.family().dockerfile_example(&v("1.0.0")).unwrap(),
        DOCKERFILE_TEXT
    );
    drop(staged);
    assert!(!version_dir.exists());
    assert!(!family_dir.join("versions/.1.0.0.staging").exists());
    let leftovers: Vec<_> = std::fs::read_dir(family_dir.join("versions"))
        .unwrap()
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    family
        .stage_version(&v("1.0.0"))
        .unwrap()
        .unwrap()
        .commit()
        .unwrap();
    assert!(!family_dir.join("versions/.1.0.0.staging").exists());
    let reloaded = load_families(dir.path()).unwrap().remove(0);
    let decl = reloaded.declaration(&v("1.0.0")).unwrap();
    assert_eq!(decl.provenance(), Provenance::Recorded);
    assert_eq!(
        reloaded.checks(&v("1.0.0")).unwrap()[0].id(),
        "cst:file_existence:hi"
    );
    assert_eq!(
        std::fs::read_to_string(version_dir.join("checks/image.yaml")).unwrap(),
        CST
    );
    assert!(!version_dir.join(FAMILY_TOML).exists());
    let err = match reloaded.stage_version(&v("1.0.0")) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("a recorded version was staged again"),
    };
    assert!(
        err.contains("version 1.0.0 is already recorded here"),
        "{err}"
    );
}

#[test]
fn a_leftover_staged_folder_is_replaced_by_the_next_staging() {
    let (dir, family_dir) = catalog_dir();
    let family = load_families(dir.path()).unwrap().remove(0);
    let staged = family.stage_version(&v("1.0.0")).unwrap().unwrap();
    // A crash: the guard never runs.
    std::mem::forget(staged);
    std::fs::write(family_dir.join(DOCKERFILE), "FROM busybox:1.37\n").unwrap();
    let family = load_families(dir.path()).unwrap().remove(0);
    assert!(family.versions().is_empty());
    let staged = family.stage_version(&v("1.0.0")).unwrap().unwrap();
    assert_eq!(
        std::fs::read_to_string(family_dir.join("versions/1.0.0/Dockerfile")).unwrap(),
        "FROM busybox:1.37\n"
    );
    staged.commit().unwrap();
}

#[test]
fn a_version_folder_without_checks_inherits_the_previous_ones() {
    let (dir, family_dir) = catalog_dir();
    let first = family_dir.join("versions/1.0.0");
    let second = family_dir.join("versions/1.1.0");
    std::fs::create_dir_all(first.join("checks")).unwrap();
    std::fs::create_dir_all(&second).unwrap();
    std::fs::write(first.join(DOCKERFILE), DOCKERFILE_TEXT).unwrap();
    std::fs::write(first.join("checks/image.yaml"), CST).unwrap();
    std::fs::write(second.join(DOCKERFILE), "FROM busybox:1.37\n").unwrap();
    let family = load_families(dir.path()).unwrap().remove(0);
    assert_eq!(
        family.checks(&v("1.1.0")).unwrap(),
        family.checks(&v("1.0.0")).unwrap()
    );
    assert_eq!(family.checks(&v("1.1.0")).unwrap().len(), 1);
    assert_eq!(
        family.root_image(&v("1.1.0")).unwrap().address(),
        "busybox:1.37"
    );
    let container = family
        .recipe(&v("1.0.0"), &Platform::linux_arm64())
        .unwrap();
    assert_eq!(container.without_history().ops().len(), 2);
    assert!(
        container.has_history(),
        "read with BuildKit's history entries"
    );
}
