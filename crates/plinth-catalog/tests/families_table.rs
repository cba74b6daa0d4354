//! User-declared families: the table, the inheritance rules, the trait's defaults and the catalog.

use std::sync::Arc;

use plinth_catalog::checks::Check;
use plinth_catalog::family::{
    CheckChange, ChecksDecl, Family, RecipeDecl, TableFamily, VersionDecl,
};
use plinth_catalog::{Catalog, Error, Version};
use plinth_oci::Platform;
use plinth_recipe::Container;

fn v(s: &str) -> Version {
    s.parse().unwrap()
}

fn base(platform: &Platform) -> plinth_recipe::Result<Container> {
    Ok(Container::from_address("docker.io/debian:bookworm-slim")?
        .with_env("ARCH", platform.architecture.clone()))
}

fn decl(version: &str, changes: Vec<CheckChange>) -> VersionDecl {
    VersionDecl::new(v(version))
        .with_recipe(base)
        .with_check_changes(changes)
}

fn invalid(versions: Vec<VersionDecl>) -> String {
    match TableFamily::new("example/base", versions) {
        Err(e @ Error::InvalidFamily { .. }) => e.to_string(),
        other => panic!("expected an invalid family, got {other:?}"),
    }
}

#[test]
fn table_rules_are_enforced_with_clear_messages() {
    assert_eq!(
        invalid(vec![decl("1.1.0", vec![]), decl("1.0.0", vec![])]),
        "invalid family `example/base`: versions must be declared oldest first without duplicates, but 1.1.0 comes before 1.0.0"
    );
    assert_eq!(
        invalid(vec![decl("1.0.0", vec![]), decl("1.0.0", vec![])]),
        "invalid family `example/base`: versions must be declared oldest first without duplicates, but 1.0.0 comes before 1.0.0"
    );
    assert_eq!(
        invalid(vec![decl(
            "1.0.0",
            vec![CheckChange::Drop("env_var:PYTHON_VERSION".into())]
        )]),
        "invalid family `example/base`: version 1.0.0: cannot drop `env_var:PYTHON_VERSION`: no inherited check has that id"
    );
    assert_eq!(
        invalid(vec![decl(
            "1.0.0",
            vec![CheckChange::InsertBefore {
                before: "poetry_version".into(),
                check: Check::timezone_is_utc()
            }]
        )]),
        "invalid family `example/base`: version 1.0.0: cannot insert `timezone_is_utc` before `poetry_version`: no inherited check has that id"
    );
    assert_eq!(
        invalid(vec![
            decl(
                "1.0.0",
                vec![
                    CheckChange::Set(Check::timezone_is_utc()),
                    CheckChange::Set(Check::env_var("PYTHON_VERSION", "3.9.18"))
                ]
            ),
            decl(
                "1.1.0",
                vec![CheckChange::InsertBefore {
                    before: "env_var:PYTHON_VERSION".into(),
                    check: Check::timezone_is_utc()
                }]
            ),
        ]),
        "invalid family `example/base`: version 1.1.0: cannot insert `timezone_is_utc`: a check with that id is inherited; use Set to replace it"
    );
    assert_eq!(
        invalid(vec![VersionDecl::new(v("1.0.0")).with_checks(
            ChecksDecl::Replace(vec![Check::timezone_is_utc(), Check::timezone_is_utc()])
        )]),
        "invalid family `example/base`: version 1.0.0: two checks have the id `timezone_is_utc`"
    );
    // Pre-releases sort below their release.
    assert!(
        TableFamily::new(
            "example/base",
            vec![
                decl("1.0.0-rc.2", vec![]),
                decl("1.0.0-rc.10", vec![]),
                decl("1.0.0", vec![])
            ]
        )
        .is_ok()
    );
}

#[test]
fn inheritance_with_replace_and_unknown() {
    let family = TableFamily::new(
        "example/base",
        vec![
            decl(
                "1.0.0",
                vec![
                    CheckChange::Set(Check::timezone_is_utc()),
                    CheckChange::Set(Check::env_var("PYTHON_VERSION", "3.9.18")),
                ],
            ),
            VersionDecl::new(v("1.1.0")).with_checks(ChecksDecl::Unknown {
                reason: "lost".into(),
            }),
            decl(
                "1.2.0",
                vec![
                    CheckChange::Set(Check::env_var("PYTHON_VERSION", "3.10.14")),
                    CheckChange::Set(Check::command_available("bash")),
                ],
            ),
            VersionDecl::new(v("2.0.0"))
                .with_checks(ChecksDecl::Replace(vec![Check::file_exists("/x")])),
            decl("2.1.0", vec![CheckChange::Drop("file_exists:/x".into())]),
        ],
    )
    .unwrap();
    let ids = |ver: &str| {
        family
            .checks(&v(ver))
            .unwrap()
            .iter()
            .map(|c| c.id().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids("1.2.0"),
        [
            "timezone_is_utc",
            "env_var:PYTHON_VERSION",
            "command_available:bash"
        ]
    );
    assert_eq!(
        family.checks(&v("1.2.0")).unwrap()[1],
        Check::env_var("PYTHON_VERSION", "3.10.14")
    );
    assert_eq!(ids("2.0.0"), ["file_exists:/x"]);
    assert!(ids("2.1.0").is_empty());
    assert_eq!(
        family.checks(&v("1.1.0")).unwrap_err().to_string(),
        "no sanity checks are declared for example/base 1.1.0 (lost); declare them in the family"
    );
    assert!(matches!(
        family.checks(&v("9.0.0")),
        Err(Error::UnknownVersion { .. })
    ));
}

#[test]
fn recipes_examples_and_errors() {
    let family = TableFamily::new(
        "example/base",
        vec![
            decl("1.0.0", vec![]),
            VersionDecl::new(v("1.1.0")),
            VersionDecl::new(v("1.2.0")).with_recipe_decl(RecipeDecl::Partial {
                visible: Arc::new(base),
                missing: "the user step is lost".into(),
            }),
            VersionDecl::new(v("1.3.0"))
                .with_recipe(|_| Container::from_address("Not A Reference")),
        ],
    )
    .unwrap()
    .with_platforms(vec![Platform::linux_arm64()]);
    assert_eq!(family.platforms(), [Platform::linux_arm64()]);
    let arm = family
        .recipe(&v("1.0.0"), &Platform::linux_arm64())
        .unwrap();
    assert_eq!(arm.final_state().env_var("ARCH"), Some("arm64"));
    // The example always renders the amd64 recipe.
    assert_eq!(
        family.dockerfile_example(&v("1.0.0")).unwrap(),
        "FROM docker.io/debian:bookworm-slim\nENV ARCH=amd64"
    );
    assert_eq!(
        family
            .recipe(&v("1.1.0"), &Platform::linux_amd64())
            .unwrap_err()
            .to_string(),
        "cannot build example/base 1.1.0: its recipe is not known (no recipe is declared)"
    );
    assert!(
        family
            .recipe(&v("1.2.0"), &Platform::linux_amd64())
            .is_err()
    );
    assert_eq!(
        family.dockerfile_example(&v("1.2.0")).unwrap(),
        "FROM docker.io/debian:bookworm-slim\nENV ARCH=amd64"
    );
    let err = family
        .recipe(&v("1.3.0"), &Platform::linux_amd64())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the recipe of example/base 1.3.0 for linux/amd64 is invalid"
    );
    assert!(std::error::Error::source(&err).is_some());
    assert_eq!(family.latest_version(), Some(&v("1.3.0")));
}

/// A family implemented by hand: only the two required methods.
struct Minimal {
    versions: Vec<VersionDecl>,
}

impl Family for Minimal {
    fn repository(&self) -> &str {
        "acme/minimal"
    }

    fn versions(&self) -> &[VersionDecl] {
        &self.versions
    }
}

#[test]
fn the_trait_is_object_safe_and_catalogs_keep_order() {
    let minimal: Arc<dyn Family> = Arc::new(Minimal {
        versions: vec![decl(
            "0.1.0",
            vec![CheckChange::Set(Check::timezone_is_utc())],
        )],
    });
    assert_eq!(
        minimal.checks(&v("0.1.0")).unwrap(),
        [Check::timezone_is_utc()]
    );
    assert_eq!(minimal.declared_changelog().unwrap().len(), 0);
    let table: Arc<dyn Family> = Arc::new(
        TableFamily::new(
            "acme/table",
            vec![decl("1.0.0", vec![]).with_changelog("first")],
        )
        .unwrap(),
    );
    let changelog = table.declared_changelog().unwrap();
    assert_eq!(
        changelog.entries()[0].dockerfile_example(),
        "FROM docker.io/debian:bookworm-slim\nENV ARCH=amd64"
    );

    let catalog = Catalog::new("test-catalog", "Test")
        .with_family(table.clone())
        .unwrap()
        .with_family(minimal)
        .unwrap();
    assert_eq!(catalog.repositories(), ["acme/table", "acme/minimal"]);
    assert_eq!(
        catalog.get("acme/minimal").unwrap().repository(),
        "acme/minimal"
    );
    let err = catalog.clone().with_family(table).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid family `acme/table`: the catalog already has a family with this repository"
    );
    assert_eq!(catalog.title(), "test-catalog");
    assert_eq!(catalog.owner(), "Test");
    assert_eq!(
        format!("{catalog:?}"),
        r#"Catalog { title: "test-catalog", families: ["acme/table", "acme/minimal"] }"#
    );
}
