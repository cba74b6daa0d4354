//! The changelog draft when the previous version is not in the registry: a catalog with two
//! versions, only the new one built, nothing published. The previous version is rebuilt from
//! its recipe and the draft names the package changes between the two, saying it compared with
//! the rebuild.

use std::sync::Arc;

use plinth_catalog::{Catalog, Changelog, TableFamily, Version, VersionDecl, VersionHistory};
use plinth_oci::{Platform, Reference, Store};
use plinth_recipe::{Container, FileSource};
use plinth_registry::Client;
use plinth_release::{LogReporter, ReleaseSettings, Releaser};
use plinth_test::{External, require_external};

const REPOSITORY: &str = "team/draft";

/// A dpkg status listing socat at `version`.
fn dpkg_status(socat: &str) -> Vec<u8> {
    format!(
        "Package: socat\nStatus: install ok installed\nArchitecture: amd64\nVersion: {socat}\n\n\
         Package: vim\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2:9.0.1378-2\n"
    )
    .into_bytes()
}

/// `version` on `root`: its dpkg status lists socat `socat`.
fn declared(root: &str, version: &str, socat: &'static str) -> VersionDecl {
    let root = root.to_owned();
    VersionDecl::new(version.parse().unwrap()).with_recipe(move |_| {
        Ok(Container::from_address(&root)?.with_file(
            "/var/lib/dpkg/status",
            FileSource::Bytes(dpkg_status(socat)),
        ))
    })
}

#[test]
fn an_unpublished_previous_version_is_rebuilt_from_its_recipe_for_the_draft() {
    if !require_external(External::Root) {
        return;
    }
    let temp = tempfile::tempdir().unwrap();
    let root = plinth_test::images::busybox_layout(temp.path());
    let family = TableFamily::new(
        REPOSITORY,
        vec![
            declared(&root, "1.0.0", "1.7.4.4-2"),
            declared(&root, "1.1.0", "1.7.4.5-1"),
        ],
    )
    .unwrap()
    .with_platforms(vec![Platform::linux_amd64()]);
    let catalog = Catalog::new("draft", "tests")
        .with_family(Arc::new(family))
        .unwrap();
    let store = Store::open(temp.path().join("store")).unwrap();
    let client = Client::builder(store.clone()).build().unwrap();
    let engine = Arc::new(
        plinth_engine::Engine::new(
            plinth_engine::EngineConfig::new(store)
                .with_registry(client.clone())
                .with_source_date_epoch(Some(0)),
        )
        .unwrap(),
    );
    let catalog_dir = temp.path().join("catalog");
    std::fs::create_dir_all(&catalog_dir).unwrap();
    let releaser = Releaser::new(
        catalog,
        client,
        ReleaseSettings::new(&catalog_dir),
        Arc::new(LogReporter),
    )
    .unwrap()
    .with_executor(engine.clone(), engine.clone(), engine)
    .unwrap();

    // Only the new version is built; the registry has neither version.
    let family = releaser.family(REPOSITORY).unwrap();
    let new: Version = "1.1.0".parse().unwrap();
    let built = releaser.build_annotated(family, &new).unwrap();
    let repository: Reference = format!("127.0.0.1:1/{REPOSITORY}").parse().unwrap();
    let nothing_published = VersionHistory::new(&repository, Changelog::new([]), []);

    let draft = releaser.changelog_draft(&nothing_published, &built);
    assert_eq!(draft.previous, Some("1.0.0".parse().unwrap()), "{draft:?}");
    assert_eq!(
        draft.compared_with.as_deref(),
        Some("1.0.0 rebuilt from its recipe (it is not in the registry)")
    );
    assert_eq!(
        draft.summary.as_deref(),
        Some("Upgrade socat 1.7.4.4-2 → 1.7.4.5-1"),
        "{draft:?}"
    );
    assert_eq!(draft.missing, None);

    // The first version has nothing before it, published or declared.
    let first = releaser
        .build_annotated(family, &"1.0.0".parse().unwrap())
        .unwrap();
    let draft = releaser.changelog_draft(&nothing_published, &first);
    assert_eq!(draft.previous, None);
    assert_eq!(draft.summary, None);
    assert_eq!(
        draft.missing.as_deref(),
        Some("there is no published version to compare with"),
        "{draft:?}"
    );
}
