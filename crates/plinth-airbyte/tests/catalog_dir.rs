//! The repository's `catalog/` directory holds the original's changelog JSON for both families,
//! exactly as the declarations give it (the pretty form plinth writes).
//!
//! After changing a declared changelog text or a recipe of a version with a changelog entry, run
//! this test with `PLINTH_UPDATE_CATALOG=1` to rewrite the files, and review the diff.

use std::path::PathBuf;

use plinth_catalog::changelog_path;

/// Set to rewrite the files instead of comparing them.
const UPDATE_ENV: &str = "PLINTH_UPDATE_CATALOG";

fn catalog_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../catalog")
}

#[test]
fn catalog_dir_holds_the_original_changelogs() {
    let update = std::env::var_os(UPDATE_ENV).is_some();
    for family in plinth_airbyte::catalog().families() {
        let changelog = plinth_airbyte::original_changelog(family.as_ref()).unwrap();
        let path = changelog_path(&catalog_dir(), family.repository());
        if update {
            changelog.write(&path).unwrap();
            continue;
        }
        let on_disk = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        assert!(
            on_disk == changelog.to_pretty_json(),
            "{} differs from the declarations; run this test with {UPDATE_ENV}=1 and review the diff",
            path.display()
        );
    }
}

#[test]
fn original_changelogs_leave_out_the_unmerged_entry_only() {
    let catalog = plinth_airbyte::catalog();
    let python = catalog.get(plinth_airbyte::PYTHON_REPOSITORY).unwrap();
    let declared = python.declared_changelog().unwrap();
    let original = plinth_airbyte::original_changelog(python).unwrap();
    assert_eq!(declared.len(), 11);
    assert_eq!(original.len(), 10);
    assert!(original.get(&"3.0.1-rc.1".parse().unwrap()).is_none());
    assert_eq!(
        original.latest().unwrap().changelog_entry(),
        "Create airbyte user"
    );
    let java = catalog.get(plinth_airbyte::JAVA_REPOSITORY).unwrap();
    assert_eq!(
        plinth_airbyte::original_changelog(java).unwrap(),
        java.declared_changelog().unwrap()
    );
}
