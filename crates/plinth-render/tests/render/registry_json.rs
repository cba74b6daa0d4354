use std::collections::BTreeMap;

use plinth_catalog::{Changelog, ChangelogEntry, VersionHistory};
use plinth_oci::{Digest, Platform, Reference};
use plinth_render::render_registry_json;
use serde_json::Value;

use crate::fixture::registries;

#[test]
fn registry_json_snapshot() {
    insta::assert_snapshot!(
        "registry_json_from_seed_tables",
        render_registry_json(&registries()).unwrap()
    );
}

/// Whether every object's keys are in sorted order, as written in the text.
fn keys_sorted(text: &str) -> bool {
    // serde_json::Value sorts keys (BTreeMap), so the text is canonical iff it equals the
    // re-serialization of its own parse.
    let v: Value = serde_json::from_str(text).unwrap();
    serde_json::to_string_pretty(&v).unwrap() + "\n" == text
}

#[test]
fn output_is_canonical_and_stable() {
    let a = render_registry_json(&registries()).unwrap();
    assert!(keys_sorted(&a), "keys are not sorted");
    assert!(a.ends_with("}\n"));
    assert_eq!(a, render_registry_json(&registries()).unwrap());
    let v: Value = serde_json::from_str(&a).unwrap();
    let python = &v["families"][0];
    assert_eq!(python["latest"], "3.0.2");
    assert_eq!(python["latest_stable_published"], "3.0.2");
    assert_eq!(python["ignored_tags"][0]["tag"], "latest");
    assert_eq!(python["versions"].as_array().unwrap().len(), 13);
    let java = &v["families"][1];
    assert_eq!(
        java["versions"][3]["changelog"],
        " Make the java base image non root"
    );
    assert_eq!(java["versions"][6]["status"], "published-only");
    assert_eq!(java["versions"][6]["version"], "1.0.0-rc.3");
}

#[test]
fn platform_digests_and_root_image_when_recorded() {
    let repo: Reference = "example/base".parse().unwrap();
    let index = Digest::of(b"index");
    let changelog = Changelog::new([
        ChangelogEntry::new("1.0.0".parse().unwrap(), "first", "FROM root"),
        ChangelogEntry::new("1.1.0-rc.1".parse().unwrap(), "next", "FROM root"),
    ]);
    let mut registry = VersionHistory::new(&repo, changelog, [("1.0.0".to_owned(), index.clone())]);
    let v1 = "1.0.0".parse().unwrap();
    let entry = registry.entry_mut(&v1).unwrap();
    entry.set_root_image("docker.io/library/busybox:1.36@sha256:0000000000000000000000000000000000000000000000000000000000000000".parse().unwrap());
    entry.set_platform_digests(BTreeMap::from([
        (Platform::linux_arm64(), Digest::of(b"arm64")),
        (Platform::linux_amd64(), Digest::of(b"amd64")),
    ]));
    let text = render_registry_json(&[registry]).unwrap();
    assert!(keys_sorted(&text));
    let v: Value = serde_json::from_str(&text).unwrap();
    let family = &v["families"][0];
    assert_eq!(family["latest"], "1.1.0-rc.1");
    assert_eq!(family["latest_published"], "1.0.0");
    let [rc, one] = family["versions"].as_array().unwrap().as_slice() else {
        panic!("two versions expected")
    };
    assert_eq!(rc["status"], "changelog-only");
    assert_eq!(
        (
            &rc["address"],
            &rc["index_digest"],
            &rc["platform_digests"],
            &rc["published"]
        ),
        (
            &Value::Null,
            &Value::Null,
            &Value::Null,
            &Value::Bool(false)
        )
    );
    assert_eq!(one["index_digest"], index.to_string());
    assert_eq!(
        one["address"],
        format!("docker.io/example/base:1.0.0@{index}")
    );
    assert_eq!(
        one["platform_digests"]["linux/amd64"],
        Digest::of(b"amd64").to_string()
    );
    assert_eq!(
        one["platform_digests"]["linux/arm64"],
        Digest::of(b"arm64").to_string()
    );
    assert_eq!(
        one["root_image"],
        "docker.io/library/busybox:1.36@sha256:0000000000000000000000000000000000000000000000000000000000000000"
    );
}
