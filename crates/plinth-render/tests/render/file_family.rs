//! The README of catalogs with families kept as files: described as files (where the
//! Dockerfile, the checks and the recorded versions are), with each family's title,
//! description and owner heading its table.

use std::path::PathBuf;

use plinth_catalog::{Changelog, ChangelogEntry, FamilyAbout, FamilyFiles, VersionHistory};
use plinth_oci::{Digest, Reference};
use plinth_render::Readme;

use crate::fixture::registries;

const DOCKERFILE: &str = "FROM plinth/debian:bookworm\nENV PATH=/opt/team/bin:$PATH\nCOPY . /ctx\n";

fn team_base() -> VersionHistory {
    let repo: Reference = "team/base".parse().unwrap();
    let changelog = Changelog::new([ChangelogEntry::new(
        "1.0.0".parse().unwrap(),
        "First release",
        DOCKERFILE,
    )]);
    VersionHistory::new(
        &repo,
        changelog,
        [("1.0.0".to_owned(), Digest::of(b"team"))],
    )
}

fn team_base_about() -> FamilyAbout {
    FamilyAbout {
        title: Some("Team base image".to_owned()),
        description: Some("The root every team image starts from.".to_owned()),
        owner: Some("Platform team".to_owned()),
        files: Some(FamilyFiles {
            dir: PathBuf::from("families/base"),
            dockerfile: PathBuf::from("families/base/Dockerfile"),
            checks: PathBuf::from("families/base/checks"),
            versions: PathBuf::from("families/base/versions"),
        }),
    }
}

#[test]
fn a_catalog_of_file_families_is_described_as_files() {
    let histories = [team_base()];
    let readme = Readme::new("team-base-images", "Team", &histories)
        .with_family_abouts([team_base_about()])
        .render()
        .unwrap();
    insta::assert_snapshot!("readme_of_file_families", readme);
    assert!(!readme.contains("Rust"), "{readme}");
    assert!(!readme.contains("cargo test"), "{readme}");
    for expected in [
        "- `team/base`: [`families/base/Dockerfile`](families/base/Dockerfile), checks in [`families/base/checks/`](families/base/checks), released versions in [`families/base/versions/`](families/base/versions)",
        "### Dockerfile of `team/base`:\n```dockerfile\nFROM plinth/debian:bookworm\nENV PATH=/opt/team/bin:$PATH\n",
        "### `team/base`\n\n**Team base image**: The root every team image starts from. Kept by Platform team.\n\n| Version",
    ] {
        assert!(
            readme.contains(expected),
            "missing:\n{expected}\n--- in:\n{readme}"
        );
    }
}

#[test]
fn a_mixed_catalog_describes_code_and_files_and_only_what_a_family_says() {
    let mut histories = registries();
    histories.push(team_base());
    let code_families = histories.len() - 1;
    let mut abouts = vec![FamilyAbout::default(); code_families];
    // Only a description: no title, no owner.
    abouts.push(FamilyAbout {
        title: None,
        owner: None,
        ..team_base_about()
    });
    let readme = Readme::new("mixed-images", "Team", &histories)
        .with_family_abouts(abouts)
        .render()
        .unwrap();
    insta::assert_snapshot!("readme_of_code_and_file_families", readme);
    assert!(readme.contains("some declared in Rust code and some as Dockerfiles"));
    assert!(readme.contains("Our code families are not declared using Dockerfiles."));
    assert!(readme.contains("### Example for `airbyte/python-connector-base`:"));
    assert!(
        readme.contains("### `team/base`\n\nThe root every team image starts from.\n\n| Version")
    );
    // A code family without anything to say keeps the original layout.
    assert!(readme.contains("### `airbyte/java-connector-base`\n\n| Version"));
}
