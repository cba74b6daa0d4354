//! A file family (the example catalog `examples/file-family`, served by the `plinth` binary)
//! through the whole release flow on a busybox stand-in for its Debian root: generate-release
//! on a pseudo-terminal with publishing → checks on amd64 and arm64 → docs → a second release
//! with flags after the Dockerfile changed → `publish` of the first version rebuilds the
//! first recipe (the published digest) → a failing release leaves nothing behind.

use std::path::Path;

use crate::fixture::{
    Catalog, FILE_REPOSITORY as REPOSITORY, assert_fails, assert_ok, assert_stderr_has, pty_script,
    skopeo_digest, text,
};

/// Drives `generate-release` on a pseudo-terminal: Enter on the family, End then Up on the bump
/// list (`major`, the one before `major-prerelease`), "y" to publishing, then, once the version
/// is built and checked, an empty then a real changelog entry.
const DIALOGUE: &str = r#"
expect("Which base image would you like to release a new version for?")
send(b"\r")
expect("Which kind of new version would you like to cut? (latest version is 0.0.0)")
expect("major")
send(b"\x1b[F")
send(b"\x1b[A")
send(b"\r")
expect("Would you like to publish it to our remote registry now?")
send(b"y\r")
expect("What should the changelog entry be?", 900)
send(b"\r")
expect("cannot be empty")
send(b"First release\r")
expect("Added 1.0.0 to the registry.", 900)
"#;

/// Every file below `dir`, relative, with its bytes.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir).unwrap().display().to_string();
                out.push((rel, std::fs::read(&path).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// The pty release of 1.0.0 (published), checked on both platforms.
fn release_first_through_a_terminal(c: &Catalog) -> String {
    let out = c.run(&mut c.on_terminal(&c.cmd(&["generate-release"]), &pty_script(160, DIALOGUE)));
    assert_ok(&out);
    let screen = String::from_utf8_lossy(&out.stdout).into_owned();
    for expected in [
        "major → 1.0.0",
        "(linux/amd64)",
        "(linux/arm64)",
        "Sanity checks passed.",
    ] {
        assert!(screen.contains(expected), "missing `{expected}`:\n{screen}");
    }
    // 4 container-structure-test checks and 2 plinth checks, on each platform.
    assert_eq!(
        screen.matches("6 passed, 0 failed, 0 errored").count(),
        2,
        "{screen}"
    );
    let tag = format!("{}:1.0.0", c.published());
    skopeo_digest(&tag).expect("1.0.0 was published")
}

#[test]
fn file_family_release_publish_docs_and_rebuild_of_a_recorded_version() {
    if !crate::require_root() {
        return;
    }
    let c = Catalog::files("files");
    let first_dockerfile = std::fs::read_to_string(c.family_dir().join("Dockerfile")).unwrap();
    build_before_any_release(&c);
    let first_digest = release_first_through_a_terminal(&c);
    assert_first_release_recorded_the_working_files(&c, &first_dockerfile);
    assert_provenance_check_report_and_sbom(&c, &first_dockerfile);
    assert_docs_and_listing(&c, &first_digest);
    let second_dockerfile = release_a_changed_dockerfile(&c, &first_dockerfile, &first_digest);
    publish_rebuilds_the_recorded_recipe(&c, &first_dockerfile, &first_digest);
    a_failing_release_writes_nothing(&c, &second_dockerfile);
}

/// Before any release, the repository alone is the working files: built and checked with the
/// family's checks on both platforms, nothing recorded.
fn build_before_any_release(c: &Catalog) {
    let out = c.run(&mut c.cmd(&["build", REPOSITORY, "--check"]));
    assert_ok(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("team/base:0.0.1-working"), "{}", text(&out));
    assert_eq!(
        stderr.matches("6 passed, 0 failed, 0 errored").count(),
        2,
        "{}",
        text(&out)
    );
    assert!(!c.family_dir().join("versions").exists());
    assert!(!c.catalog_dir().join("generated/changelogs").exists());
}

/// The release recorded the working files, exactly, under versions/1.0.0 (family.toml and
/// versions/ itself excluded), and the changelog entry carries the Dockerfile verbatim.
fn assert_first_release_recorded_the_working_files(c: &Catalog, first_dockerfile: &str) {
    let working = files(&c.family_dir())
        .into_iter()
        .filter(|(p, _)| !p.starts_with("versions/") && p != "family.toml")
        .collect::<Vec<_>>();
    assert_eq!(files(&c.family_dir().join("versions/1.0.0")), working);
    let names: Vec<String> = working.iter().map(|(p, _)| p.clone()).collect();
    assert_eq!(
        names,
        [
            "Dockerfile",
            "checks/base.plinth.yaml",
            "checks/image.yaml",
            "motd"
        ]
    );
    assert!(
        !c.family_dir().join("versions/.1.0.0.staging").exists(),
        "the staging marker is gone once the release is done"
    );
    let changelog = c.changelog();
    assert_eq!(changelog[0]["version"], "1.0.0");
    assert_eq!(changelog[0]["changelog_entry"], "First release");
    assert_eq!(changelog[0]["dockerfile_example"], first_dockerfile);
}

/// Its provenance names the recorded Dockerfile and the digest of its bytes, per platform; the
/// check report of the family's checks is attached too, and `plinth sbom` reads the published
/// image.
fn assert_provenance_check_report_and_sbom(c: &Catalog, first_dockerfile: &str) {
    let tagged = format!("{}:1.0.0", c.published());
    let out = c.run(&mut c.cmd(&["provenance", &tagged]));
    assert_ok(&out);
    let statements: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(statements.as_array().unwrap().len(), 2, "{statements}");
    for statement in statements.as_array().unwrap() {
        let recipe = &statement["predicate"]["buildDefinition"]["externalParameters"]["recipe"];
        assert_eq!(recipe["repository"], REPOSITORY);
        assert_eq!(
            recipe["dockerfile"]["path"],
            "families/base/versions/1.0.0/Dockerfile"
        );
        assert_eq!(
            recipe["dockerfile"]["digest"],
            plinth_oci::Digest::of(first_dockerfile.as_bytes()).to_string()
        );
    }

    let out = c.run(&mut c.cmd(&[
        "provenance",
        &tagged,
        "--platform",
        "linux/arm64",
        "--check-report",
    ]));
    assert_ok(&out);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["predicate"]["passed"], true, "{report}");
    assert_eq!(
        report["predicate"]["checks"].as_array().map(Vec::len),
        Some(6),
        "{report}"
    );
    let out = c.run(&mut c.cmd(&["sbom", &tagged, "--platform", "linux/amd64"]));
    assert_ok(&out);
    let sbom: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(sbom["spdxVersion"], "SPDX-2.3", "{sbom}");

    // The catalog version (`team/base:1.0.0`) is the published image: the same documents.
    let by_version = format!("{REPOSITORY}:1.0.0");
    let of_version = c.run(&mut c.cmd(&["sbom", &by_version, "--platform", "linux/amd64"]));
    assert_ok(&of_version);
    assert_eq!(of_version.stdout, out.stdout, "sbom {by_version}");
    let of_tag = c.run(&mut c.cmd(&["provenance", &tagged]));
    let of_version = c.run(&mut c.cmd(&["provenance", &by_version]));
    assert_ok(&of_version);
    assert_eq!(of_version.stdout, of_tag.stdout, "provenance {by_version}");
}

/// Docs: the catalog's own title, the family's row with the published address; `plinth
/// catalog` lists it as a file family with a recorded, buildable 1.0.0.
fn assert_docs_and_listing(c: &Catalog, first_digest: &str) {
    let out = c.run(&mut c.cmd(&["generate-docs"]));
    assert_ok(&out);
    let readme = std::fs::read_to_string(c.catalog_dir().join("README.md")).unwrap();
    assert!(readme.starts_with("# team-base-images\n"), "{readme}");
    assert!(
        readme.contains(&format!("{}:1.0.0@{first_digest}", c.published())),
        "{readme}"
    );
    assert!(!readme.contains("airbyte"), "{readme}");
    assert!(!readme.contains("Rust"), "described as files: {readme}");
    assert!(
        readme.contains("[`families/base/Dockerfile`](families/base/Dockerfile)"),
        "{readme}"
    );
    assert!(readme.contains("**Team base image**: "), "{readme}");

    let out = c.run(&mut c.cmd(&["catalog", "--json"]));
    assert_ok(&out);
    let listing: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let family = &listing["families"][0];
    assert_eq!(family["repository"], REPOSITORY);
    assert_eq!(family["kind"], "files");
    assert_eq!(family["title"], "Team base image");
    assert_eq!(family["owner"], "Platform team");
    assert_eq!(
        family["dir"].as_str().map(|d| d.ends_with("families/base")),
        Some(true)
    );
    assert_eq!(family["versions"][0]["version"], "1.0.0");
    assert_eq!(family["versions"][0]["buildable"], true);
    assert_eq!(family["versions"][0]["provenance"], "recorded");
}

/// The Dockerfile moves on; the second release, with flags, records it beside 1.0.0's and
/// `latest` points consumers at 1.1.0. Returns the second Dockerfile.
fn release_a_changed_dockerfile(c: &Catalog, first_dockerfile: &str, first_digest: &str) -> String {
    let second_dockerfile =
        first_dockerfile.replace("echo 1 > /opt/team/RECIPE", "echo 2 > /opt/team/RECIPE");
    assert_ne!(second_dockerfile, first_dockerfile);
    std::fs::write(c.family_dir().join("Dockerfile"), &second_dockerfile).unwrap();
    let out = c.run(&mut c.release_cmd("minor", "Second recipe", true));
    assert_ok(&out);
    let second_digest =
        skopeo_digest(&format!("{}:1.1.0", c.published())).expect("1.1.0 was published");
    assert_ne!(second_digest, first_digest);
    assert_eq!(
        std::fs::read_to_string(c.family_dir().join("versions/1.1.0/Dockerfile")).unwrap(),
        second_dockerfile
    );
    assert_eq!(
        std::fs::read_to_string(c.family_dir().join("versions/1.0.0/Dockerfile")).unwrap(),
        first_dockerfile,
        "1.0.0's record is untouched"
    );
    assert_eq!(c.changelog()[0]["dockerfile_example"], second_dockerfile);

    let out = c.run(&mut c.cmd(&["latest", REPOSITORY]));
    assert_ok(&out);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&second_digest),
        "{}",
        text(&out)
    );
    second_dockerfile
}

/// `publish 1.0.0` builds 1.0.0's recorded recipe, not the working Dockerfile: it gives the
/// published digest, so there is nothing to push.
fn publish_rebuilds_the_recorded_recipe(c: &Catalog, first_dockerfile: &str, first_digest: &str) {
    let out = c.run(&mut c.cmd(&["publish", REPOSITORY, "1.0.0"]));
    assert_ok(&out);
    assert_stderr_has(
        &out,
        &format!(
            "{}:1.0.0@{first_digest} is already published with the same digest",
            c.published()
        ),
    );
    assert_eq!(
        skopeo_digest(&format!("{}:1.0.0", c.published())).unwrap(),
        first_digest
    );
    let out = c.run(&mut c.cmd(&["dockerfile", &format!("{REPOSITORY}:1.0.0")]));
    assert_ok(&out);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim_end(),
        first_dockerfile.trim_end()
    );
}

/// A release whose checks fail writes nothing: no version folder, no marker, no changelog
/// entry.
fn a_failing_release_writes_nothing(c: &Catalog, second_dockerfile: &str) {
    std::fs::write(
        c.family_dir().join("Dockerfile"),
        second_dockerfile.replace("COPY motd /etc/motd\n", ""),
    )
    .unwrap();
    let changelog_before = c.changelog();
    let out = c.run(&mut c.release_cmd("patch", "Broken", false));
    assert_fails(&out, 1, "cst:file_existence:motd");
    let versions: Vec<String> = std::fs::read_dir(c.family_dir().join("versions"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(versions, ["1.0.0", "1.1.0"]);
    assert_eq!(c.changelog(), changelog_before);
}
