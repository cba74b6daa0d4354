use plinth_catalog::{Changelog, ChangelogEntry, VersionHistory};
use plinth_oci::{Digest, Reference};
use plinth_render::{Declaration, PackageRelease, Readme, render_readme};

use crate::fixture::{registries, seed_readme};

/// The original's title and owner, as the Airbyte catalog declares them.
const TITLE: &str = "airbyte-connectors-base-images";
const OWNER: &str = "Airbyte";

/// The package CHANGELOG of the original README.
fn seed_package_changelog() -> Vec<PackageRelease> {
    vec![
        PackageRelease::new("1.4.0", ["Declare a base image for our java connectors."]),
        PackageRelease::new(
            "1.3.1",
            ["Update the crane image address. The previous address was deleted by the maintainer."],
        ),
        PackageRelease::new(
            "1.2.0",
            ["Improve new version prompt to pick bump type with optional pre-release version."],
        ),
        PackageRelease::new(
            "1.1.0",
            ["Add a cache ttl for base image listing to avoid DockerHub rate limiting."],
        ),
        PackageRelease::new("1.0.4", ["Upgrade Dagger to `0.13.3`"]),
        PackageRelease::new(
            "1.0.2",
            ["Improved support for images with non-semantic-versioned tags."],
        ),
        PackageRelease::new(
            "1.0.1",
            ["Bumped dependencies ([#42581](https://github.com/airbytehq/airbyte/pull/42581))"],
        ),
    ]
}

fn fixture_readme() -> String {
    Readme::new("airbyte-connectors-base-images", "Airbyte", &registries())
        .with_declaration(Declaration::new(
            "Python base image code declaration",
            "https://example.invalid/families/python.rs",
        ))
        .with_declaration(Declaration::new(
            "Java base image code declaration",
            "https://example.invalid/families/java.rs",
        ))
        .with_package_changelog(seed_package_changelog())
        .render()
        .unwrap()
}

/// The text from `## Base images` up to (excluding) `## How to release`.
fn base_images_section(readme: &str) -> &str {
    let start = readme
        .find("## Base images\n")
        .expect("no Base images section");
    let end = readme
        .find("## How to release")
        .expect("no How to release section");
    &readme[start..end]
}

#[test]
fn readme_snapshot() {
    insta::assert_snapshot!("readme_from_seed_tables", fixture_readme());
}

#[test]
fn base_images_tables_match_the_seed_readme_byte_for_byte() {
    let seed = seed_readme();
    // The seed's header row has a trailing space that the final template dropped.
    let seed_header = "| Version | Published | Docker Image Address | Changelog | \n";
    assert_eq!(seed.matches(seed_header).count(), 2);
    let expected = base_images_section(&seed).replace(
        seed_header,
        "| Version | Published | Docker Image Address | Changelog |\n",
    );
    assert_eq!(base_images_section(&fixture_readme()), expected);
    // Sanity: the section carries every row (13 python + 9 java).
    assert_eq!(
        expected.lines().filter(|l| l.starts_with("|  ")).count(),
        22
    );
}

#[test]
fn blank_lines_follow_the_original_template() {
    let readme = fixture_readme();
    for expected in [
        // 1 blank line before the declaration list, 2 after it.
        "published.\n\n- [Python base image code declaration](https://example.invalid/families/python.rs)\n- [Java base image code declaration](https://example.invalid/families/java.rs)\n\n\n## Where are the Dockerfiles?\n",
        // 3 after the prose, 3 between examples, 3 before `## Base images`.
        "documentation purposes.\n\n\n\n### Example for `airbyte/python-connector-base`:\n```dockerfile\n",
        "```\n\n\n\n### Example for `airbyte/java-connector-base`:\n```dockerfile\nFROM docker.io/amazoncorretto:21-al2023@sha256:c90f38f8",
        "ENV AIRBYTE_ENTRYPOINT=/airbyte/base.sh\n```\n\n\n\n## Base images\n\n\n### `airbyte/python-connector-base`\n\n| Version",
        // 2 after each table.
        "poetry==1.6.1 |\n\n\n### `airbyte/java-connector-base`\n\n",
        "|  1.0.0-rc.1 | ✅| docker.io/airbyte/java-connector-base:1.0.0-rc.1@sha256:886a7ce7eccfe3c8fb303511d0e46b83b7edb4f28e3705818c090185ba511fe7 | Create a base image for our java connectors. |\n\n\n## How to release",
        "```bash\ncargo test\n```\n\n## CHANGELOG\n\n### 1.4.0\n- Declare a base image for our java connectors.\n\n### 1.3.1\n",
    ] {
        assert!(
            readme.contains(expected),
            "missing:\n{expected}\n--- in:\n{readme}"
        );
    }
    assert!(readme.ends_with("pull/42581))\n") && !readme.ends_with("\n\n"));
}

#[test]
fn example_comes_from_the_highest_entry_with_a_changelog() {
    // Python's highest version, 3.0.2, is published only; the example is 3.0.0's, as in the seed
    // README (the original template left the fence empty).
    let readme = fixture_readme();
    assert!(
        readme.contains("### Example for `airbyte/python-connector-base`:\n```dockerfile\nFROM docker.io/python:3.10.14-slim-bookworm@sha256:2407c61b1a18067393fecd8a22cf6fceede893b6aaca817bf9fbfe65e33614a3\n"),
        "{readme}"
    );
    assert!(readme.contains("RUN pip install poetry==1.6.1\n"));
}

fn repo() -> Reference {
    "example/base".parse().unwrap()
}

fn entry(v: &str, text: &str, example: &str) -> ChangelogEntry {
    ChangelogEntry::new(v.parse().unwrap(), text, example)
}

#[test]
fn missing_values_render_as_empty_cells() {
    let d = Digest::of(b"x");
    let changelog = Changelog::new([
        entry("2.0.0", "unpublished", "FROM two"),
        entry("1.0.0", "both", "FROM one"),
    ]);
    let tags = [
        ("1.0.0".to_owned(), d.clone()),
        ("0.9.0".to_owned(), d.clone()),
    ];
    let registry = VersionHistory::new(&repo(), changelog, tags);
    let readme = render_readme(TITLE, OWNER, &[registry]).unwrap();
    let rows: Vec<&str> = readme.lines().filter(|l| l.starts_with("|  ")).collect();
    assert_eq!(
        rows,
        [
            "|  2.0.0 | ❌|  | unpublished |".to_owned(),
            format!("|  1.0.0 | ✅| docker.io/example/base:1.0.0@{d} | both |"),
            format!("|  0.9.0 | ✅| docker.io/example/base:0.9.0@{d} |  |"),
        ]
    );
    assert!(readme.contains("```dockerfile\nFROM two\n```"));
}

#[test]
fn empty_registry_has_a_table_header_and_no_example() {
    let registry = VersionHistory::new(&repo(), Changelog::default(), []);
    let readme = render_readme(TITLE, OWNER, &[registry]).unwrap();
    assert!(!readme.contains("### Example for"));
    assert!(readme.contains(
        "## Base images\n\n\n### `example/base`\n\n| Version | Published | Docker Image Address | Changelog |\n|---------|-----------|--------------|-----------|\n\n\n## How to release"
    ), "{readme}");
    // No declarations and no package changelog: the sections collapse cleanly.
    assert!(
        readme.contains("published.\n\n\n## Where are the Dockerfiles?\n"),
        "{readme}"
    );
    assert!(readme.ends_with("```bash\ncargo test\n```\n"), "{readme}");
}

#[test]
fn no_registries_at_all() {
    let readme = render_readme(TITLE, OWNER, &[]).unwrap();
    assert!(
        readme.contains("documentation purposes.\n\n\n\n## Base images\n\n\n## How to release"),
        "{readme}"
    );
}

#[test]
fn changelog_text_is_inserted_raw() {
    let changelog = Changelog::new([entry("1.0.0", " <b>raw</b> & `code` |", "RUN echo '<&>'")]);
    let readme =
        render_readme(TITLE, OWNER, &[VersionHistory::new(&repo(), changelog, [])]).unwrap();
    assert!(
        readme.contains("|  1.0.0 | ❌|  |  <b>raw</b> & `code` | |"),
        "{readme}"
    );
    assert!(readme.contains("RUN echo '<&>'\n```"));
}

#[test]
fn other_registries_show_their_host() {
    let repo: Reference = "127.0.0.1:5000/team/base".parse().unwrap();
    let d = Digest::of(b"y");
    let readme = render_readme(
        TITLE,
        OWNER,
        &[VersionHistory::new(
            &repo,
            Changelog::default(),
            [("1.0.0".to_owned(), d.clone())],
        )],
    )
    .unwrap();
    assert!(readme.contains("### `127.0.0.1:5000/team/base`\n"));
    assert!(readme.contains(&format!(
        "|  1.0.0 | ✅| 127.0.0.1:5000/team/base:1.0.0@{d} |  |"
    )));
}

#[test]
fn fixture_changelogs_are_in_the_form_plinth_writes() {
    for name in crate::fixture::FAMILIES {
        let path = plinth_catalog::changelog_path(&crate::fixture::data_dir(), name);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            Changelog::load(&path).unwrap().to_pretty_json(),
            text,
            "{}",
            path.display()
        );
    }
}
