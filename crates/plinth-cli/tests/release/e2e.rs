//! generate-release with flags → checks on both platforms → publish → docs → the same publish
//! again → a changed build refused → a failing check that writes nothing → latest and
//! upgrade-consumers.

use serde_json::Value;

use crate::fixture::{
    Catalog, REPOSITORY, Root, assert_fails, assert_ok, assert_stderr_has, pty_script, push_root,
    skopeo_digest, skopeo_json, text,
};

/// Answers "n" to the overwrite question.
const ANSWER_NO: &str = r#"
expect("overwrite it?", 300)
os.write(fd, b"n\r")
"#;

/// What the first release published.
struct Published {
    /// `<repository>:1.0.0`.
    tag: String,
    /// The index digest behind the tag.
    digest: String,
    /// `<tag>@<digest>`, what consumers pin.
    address: String,
    /// `skopeo inspect --raw` of the tag.
    index: Value,
}

#[test]
fn release_publish_docs_and_refusals() {
    if !crate::require_root() {
        return;
    }
    let c = Catalog::new("e2e");
    // The catalog is a git repository: a release must leave only the files it means to change.
    c.init_git(&[]);
    refusals_before_anything_is_built(&c);
    let published = release_and_publish(&c);
    assert_only_release_files_changed(&c);
    assert_changelog_readme_and_registry(&c, &published);

    // The docs are up to date, from a new process (its listing must include the pushed tag).
    let out = c.run(&mut c.cmd(&["generate-docs", "--check"]));
    assert_ok(&out);

    let changelog_before = std::fs::read(c.changelog_path()).unwrap();
    publish_again_is_a_no_op_or_refused(&c, &published);
    publish_refusals(&c);
    a_failing_check_writes_nothing(&c, &changelog_before);
    latest_and_upgrade_consumers(&c, &published);
}

/// Without a terminal, a missing answer is an error naming its flag, not a hang; a bump that
/// gives an undeclared version is refused before anything is built.
fn refusals_before_anything_is_built(c: &Catalog) {
    let out = c.run(
        c.cmd(&[
            "generate-release",
            "--family",
            REPOSITORY,
            "--changelog",
            "x",
            "--publish",
        ])
        .stdin(std::process::Stdio::null()),
    );
    assert_fails(&out, 2, "pass `--bump KIND`");

    let out = c.run(&mut c.release_cmd("minor", "x", false));
    assert_fails(&out, 1, "does not declare 0.1.0");
    assert!(!c.changelog_path().exists());
}

/// The release of 1.0.0, checked on both platforms and published as a two-platform index.
fn release_and_publish(c: &Catalog) -> Published {
    let out = c.run(&mut c.release_cmd("major", "First release", true));
    assert_ok(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    for expected in [
        "(linux/amd64)",
        "(linux/arm64)",
        "Sanity checks passed.",
        "Added 1.0.0 to the registry.",
        "Generated docs successfully.",
    ] {
        assert!(
            stderr.contains(expected),
            "missing `{expected}`:\n{}",
            text(&out)
        );
    }
    assert!(
        stderr.matches("5 passed, 0 failed, 0 errored").count() == 2,
        "{}",
        text(&out)
    );
    let tag = format!("{}:1.0.0", c.published());
    let digest = skopeo_digest(&tag).expect("the tag was pushed");
    let address = format!("{tag}@{digest}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), address);

    // The pushed index has both platforms.
    let index = skopeo_json(&tag, "--raw");
    let archs: Vec<&str> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["platform"]["architecture"].as_str().unwrap())
        .collect();
    assert_eq!(archs, ["amd64", "arm64"]);
    Published {
        tag,
        digest,
        address,
        index,
    }
}

/// `git status` shows what a release writes and nothing else: no lock file, no temp file.
fn assert_only_release_files_changed(c: &Catalog) {
    let status = c.git(&["status", "--porcelain", "--untracked-files=all"]);
    let mut changed: Vec<&str> = status.lines().map(|l| &l[3..]).collect();
    changed.sort_unstable();
    assert_eq!(
        changed,
        [
            "README.md",
            "generated/changelogs/example_busybox_base.json",
            "generated/inputs/example_busybox_base.json",
            "generated/registry.json",
        ],
        "{status}"
    );
    assert!(
        c.catalog_dir()
            .join("generated/.locks/example_busybox_base.lock")
            .is_file(),
        "the family lock is there, ignored"
    );
}

/// Changelog, README row, registry JSON, release record.
fn assert_changelog_readme_and_registry(c: &Catalog, published: &Published) {
    let changelog = c.changelog();
    assert_eq!(changelog[0]["version"], "1.0.0");
    assert_eq!(changelog[0]["changelog_entry"], "First release");
    let example = changelog[0]["dockerfile_example"].as_str().unwrap();
    assert!(
        example.starts_with("FROM docker.io/library/busybox:good@sha256:"),
        "{example}"
    );
    assert!(
        example.contains("RUN sh -c echo 1.0.0 > /etc/my-family-release")
            || example.contains("echo 1.0.0"),
        "{example}"
    );
    let readme = std::fs::read_to_string(c.catalog_dir().join("README.md")).unwrap();
    // The example catalog's own title and owner, not the built-in catalog's.
    assert!(
        readme.starts_with(
            "# my-family-base-images\n\nThis repository contains the base images used by Example connectors.\n"
        ),
        "{readme}"
    );
    assert!(
        !readme.contains("airbyte-connectors-base-images"),
        "{readme}"
    );
    let row = format!("|  1.0.0 | ✅| {} | First release |", published.address);
    assert!(readme.contains(&row), "no `{row}` in:\n{readme}");
    let json: Value = serde_json::from_str(
        &std::fs::read_to_string(c.catalog_dir().join("generated/registry.json")).unwrap(),
    )
    .unwrap();
    let v = &json["families"][0]["versions"][0];
    assert_eq!(v["index_digest"], published.digest.as_str());
    let platform_digests = v["platform_digests"]
        .as_object()
        .expect("platform digests are recorded");
    assert_eq!(platform_digests.len(), 2);
    for m in published.index["manifests"].as_array().unwrap() {
        let key = format!("linux/{}", m["platform"]["architecture"].as_str().unwrap());
        assert_eq!(platform_digests[&key], m["digest"]);
    }
    assert!(c.release_record_path().is_file());
}

/// Publishing the same version again rebuilds the identical bytes: a no-op that says so. Other
/// bytes under a published tag are refused (another root image gives another digest); on a
/// terminal, plinth asks, and answering "No" is a choice, not a failure: exit 0.
fn publish_again_is_a_no_op_or_refused(c: &Catalog, published: &Published) {
    let (tag, digest) = (&published.tag, &published.digest);
    let out = c.run(&mut c.cmd(&["publish", REPOSITORY, "1.0.0"]));
    assert_ok(&out);
    assert_stderr_has(&out, "already published with the same digest");
    assert_eq!(skopeo_digest(tag).unwrap(), *digest);

    let other_root = push_root(c.registry, Root::GoodAgain);
    let out = c.run(
        c.cmd(&["publish", REPOSITORY, "1.0.0"])
            .env("MY_FAMILY_ROOT_IMAGE", &other_root),
    );
    assert_fails(&out, 1, "is already published with digest");
    assert_eq!(
        skopeo_digest(tag).unwrap(),
        *digest,
        "the published tag did not move"
    );

    let mut probe = c.cmd(&["publish", REPOSITORY, "1.0.0"]);
    probe.env("MY_FAMILY_ROOT_IMAGE", &other_root);
    let out = c.run(&mut c.on_terminal(&probe, &pty_script(240, ANSWER_NO)));
    let screen = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        screen.contains("Not overwriting the already existing image."),
        "{screen}"
    );
    assert_eq!(skopeo_digest(tag).unwrap(), *digest, "still not moved");
}

/// No publish without a changelog entry, nor of an unknown family.
fn publish_refusals(c: &Catalog) {
    let out = c.run(&mut c.cmd(&["publish", REPOSITORY, "1.1.0"]));
    assert_fails(&out, 1, "No entry found for version 1.1.0 in the registry.");
    let out = c.run(&mut c.cmd(&["publish", "nope/nothing", "1.0.0"]));
    assert_fails(&out, 1, "Unknown base image name: nope/nothing");
}

/// A failing check aborts with nothing written: no changelog entry, no tag, same docs.
fn a_failing_check_writes_nothing(c: &Catalog, changelog_before: &[u8]) {
    let readme_before = std::fs::read(c.catalog_dir().join("README.md")).unwrap();
    let broken = push_root(c.registry, Root::NoAirbyteUser);
    let out = c.run(
        c.release_cmd("minor", "Broken", true)
            .env("MY_FAMILY_ROOT_IMAGE", &broken),
    );
    assert_fails(
        &out,
        1,
        "Sanity checks failed: linux/amd64 user_exists:airbyte",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("linux/arm64 user_exists:airbyte"),
        "checks ran on arm64 too:\n{}",
        text(&out)
    );
    assert!(stderr.trim_end().ends_with("Aborting."), "{}", text(&out));
    assert_eq!(std::fs::read(c.changelog_path()).unwrap(), changelog_before);
    assert_eq!(
        std::fs::read(c.catalog_dir().join("README.md")).unwrap(),
        readme_before
    );
    assert_eq!(skopeo_digest(&format!("{}:1.1.0", c.published())), None);
}

/// What consumers pin, and a consumer Dockerfile's `FROM` pointed at it byte for byte (the
/// generic format: this catalog adds none, so a `metadata.yaml` is refused by name).
fn latest_and_upgrade_consumers(c: &Catalog, published: &Published) {
    let address = &published.address;
    let out = c.run(&mut c.cmd(&["latest", REPOSITORY, "--stable"]));
    assert_ok(&out);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), *address);
    let consumer = c.ctx.work_dir().join("consumer");
    std::fs::create_dir_all(&consumer).unwrap();
    let dockerfile = consumer.join("Dockerfile");
    let pinned = format!("{}:0.9.0@sha256:{}", c.published(), "0".repeat(64));
    let before = format!(
        "# the base image\nFROM --platform=$TARGETPLATFORM {pinned} AS base\nFROM docker.io/library/busybox:1.36.1\nCOPY --from=base /etc/my-family-release /\n",
    );
    std::fs::write(&dockerfile, &before).unwrap();
    let out = c.run(c.cmd(&["upgrade-consumers", "--dry-run"]).arg(&consumer));
    assert_ok(&out);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!(
            "+FROM --platform=$TARGETPLATFORM {address} AS base\n"
        )),
        "{}",
        text(&out)
    );
    assert_eq!(
        std::fs::read_to_string(&dockerfile).unwrap(),
        before,
        "--dry-run writes nothing"
    );
    let out = c.run(c.cmd(&["upgrade-consumers"]).arg(&dockerfile));
    assert_ok(&out);
    let expected = before.replace(&pinned, address);
    assert_eq!(std::fs::read_to_string(&dockerfile).unwrap(), expected);
    assert_stderr_has(&out, &format!("now pins {address}"));

    let metadata = consumer.join("metadata.yaml");
    let yaml = format!("data:\n  connectorBuildOptions:\n    baseImage: \"{pinned}\"\n");
    std::fs::write(&metadata, &yaml).unwrap();
    let out = c.run(c.cmd(&["upgrade-consumers"]).arg(&metadata));
    assert_fails(
        &out,
        1,
        "this catalog's consumers are `Dockerfile` files; name one of them or a directory holding one",
    );
    assert_eq!(std::fs::read_to_string(&metadata).unwrap(), yaml);
}
