use super::*;

fn digest(n: u8) -> Digest {
    Digest::of(&[n])
}

fn repo() -> Reference {
    "airbyte/python-connector-base".parse().unwrap()
}

fn entry(v: &str) -> ChangelogEntry {
    ChangelogEntry::new(v.parse().unwrap(), format!("release {v}"), "FROM scratch")
}

#[test]
fn selectors_on_the_original_fixture() {
    // Published 1.0.0, 2.0.0, 3.0.0-rc.1; 3.0.0 only in the changelog.
    let changelog = Changelog::new([
        entry("1.0.0"),
        entry("2.0.0"),
        entry("3.0.0-rc.1"),
        entry("3.0.0"),
    ]);
    let tags =
        [("1.0.0", 1), ("2.0.0", 2), ("3.0.0-rc.1", 3)].map(|(t, n)| (t.to_owned(), digest(n)));
    let r = VersionHistory::new(&repo(), changelog, tags);
    assert_eq!(r.latest().unwrap().version().to_string(), "3.0.0");
    assert_eq!(
        r.latest_published().unwrap().version().to_string(),
        "3.0.0-rc.1"
    );
    // The original never ran this assertion (its test lacked the `test_` prefix).
    assert_eq!(
        r.latest_stable_published().unwrap().version().to_string(),
        "2.0.0"
    );
    let statuses: Vec<VersionStatus> = r.entries().iter().map(VersionEntry::status).collect();
    assert_eq!(
        statuses,
        [
            VersionStatus::ChangelogOnly,
            VersionStatus::Both,
            VersionStatus::Both,
            VersionStatus::Both
        ]
    );
}

#[test]
fn union_keeps_published_only_versions_and_sets_apart_other_tags() {
    let changelog = Changelog::new([entry("1.0.0")]);
    let tags = [
        ("latest", 9),
        ("1.2.0-rc.1", 2),
        ("1.0.0", 1),
        ("v1.0.0", 4),
        ("dev-abc", 5),
        ("1.0", 6),
    ]
    .map(|(t, n)| (t.to_owned(), digest(n)));
    let r = VersionHistory::new(&repo(), changelog, tags);
    let versions: Vec<(String, VersionStatus)> = r
        .entries()
        .iter()
        .map(|e| (e.version().to_string(), e.status()))
        .collect();
    assert_eq!(
        versions,
        [
            ("1.2.0-rc.1".into(), VersionStatus::PublishedOnly),
            ("1.0.0".into(), VersionStatus::Both)
        ]
    );
    let ignored: Vec<&str> = r.ignored_tags().iter().map(IgnoredTag::tag).collect();
    assert_eq!(ignored, ["1.0", "dev-abc", "latest", "v1.0.0"]);
    assert!(
        r.ignored_tags()[3].note().contains("remove the `v` prefix"),
        "{}",
        r.ignored_tags()[3].note()
    );
    assert_eq!(r.ignored_tags()[2].digest(), &digest(9));
    assert!(r.latest_stable_published().unwrap().version() == &"1.0.0".parse::<Version>().unwrap());
    let pub_1 = r
        .entry(&"1.0.0".parse().unwrap())
        .unwrap()
        .published_image()
        .unwrap();
    assert_eq!(
        pub_1.address(),
        format!(
            "docker.io/airbyte/python-connector-base:1.0.0@{}",
            digest(1)
        )
    );
}

#[test]
fn empty_registry_has_no_selection() {
    let r = VersionHistory::new(&repo(), Changelog::default(), []);
    assert!(
        r.latest().is_none()
            && r.latest_published().is_none()
            && r.latest_stable_published().is_none()
    );
    assert_eq!(r.latest_version(), Version::ZERO);
    assert_eq!(
        r.next_version(BumpKind::Major).unwrap().to_string(),
        "1.0.0"
    );
    assert_eq!(
        r.next_version(BumpKind::Prerelease).unwrap().to_string(),
        "0.0.0-rc.1"
    );
    assert!(matches!(
        r.next_version(BumpKind::Finalize),
        Err(Error::VersionNotAbove { .. })
    ));
}

#[test]
fn next_version_refuses_existing_and_lower_versions() {
    let tags = [("3.0.0", 1), ("3.0.0-rc.1", 2)].map(|(t, n)| (t.to_owned(), digest(n)));
    let r = VersionHistory::new(&repo(), Changelog::default(), tags);
    assert!(matches!(
        r.next_version(BumpKind::Prerelease),
        Err(Error::VersionExists { .. })
    ));
    assert!(matches!(
        r.next_version(BumpKind::Finalize),
        Err(Error::VersionExists { .. })
    ));
    assert_eq!(
        r.next_version(BumpKind::PatchPrerelease)
            .unwrap()
            .to_string(),
        "3.0.1-rc.1"
    );
    let err = r
        .check_new_version(&"2.9.0".parse().unwrap())
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "version 2.9.0 is not above the latest version 3.0.0; pick another bump"
    );
}

#[test]
fn address_parsing() {
    let hex = "1a0845ff2b30eafa793c6eee4e8f4283c2e52e1bbd44eed6cb9e9abd5d34d844";
    let text = format!("docker.io/airbyte/python-connector-base:3.0.0@sha256:{hex}");
    let p: PublishedImage = text.parse().unwrap();
    assert_eq!(p.registry(), "docker.io");
    assert_eq!(p.repository(), "airbyte/python-connector-base");
    assert_eq!(p.tag(), "3.0.0");
    assert_eq!(p.digest().hex(), hex);
    assert_eq!(p.address(), text);
    assert_eq!(p.to_string(), text);
    assert_eq!(p.reference().unwrap().to_string(), text);

    let local: PublishedImage = format!("127.0.0.1:5000/team/base:1.0.0-rc.1@sha256:{hex}")
        .parse()
        .unwrap();
    assert_eq!(
        (local.registry(), local.repository(), local.tag()),
        ("127.0.0.1:5000", "team/base", "1.0.0-rc.1")
    );

    for bad in [
        format!("airbyte/python-connector-base:3.0.0@sha256:{hex}"),
        "docker.io/airbyte/python-connector-base:3.0.0".to_owned(),
        format!("docker.io/airbyte/python-connector-base@sha256:{hex}"),
        "docker.io/airbyte/python-connector-base:3.0.0@sha256:abc".to_owned(),
        format!("docker.io/Airbyte/python:3.0.0@sha256:{hex}"),
    ] {
        let err = bad.parse::<PublishedImage>().unwrap_err();
        assert!(matches!(err, Error::InvalidAddress { .. }), "{bad}: {err}");
    }
}

struct FailingSource;

impl TagSource for FailingSource {
    fn list(&self, repository: &Reference) -> Result<Vec<(String, Digest)>> {
        Err(Error::ListTags {
            repository: repository.name(),
            source: "connection refused".into(),
        })
    }
}

#[test]
fn tag_source_errors_propagate_with_the_repository() {
    let dir = tempfile::tempdir().unwrap();
    let err =
        VersionHistory::load(&repo(), &dir.path().join("none.json"), &FailingSource).unwrap_err();
    assert_eq!(
        err.to_string(),
        "failed to list the published tags of `docker.io/airbyte/python-connector-base`"
    );
}
