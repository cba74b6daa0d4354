//! The built-in catalog's directory and listing: `plinth generate-docs` in `catalog/` renders the
//! original's tables and examples, and `plinth catalog` lists every version with what is known
//! of it.

use std::path::{Path, PathBuf};

use plinth_test::images::push_busybox_with_plinth;
use plinth_test::{External, LocalRegistry, TestContext, output, require_external};
use serde_json::Value;

mod examples;

const PYTHON: &str = "airbyte/python-connector-base";
const DEBIAN_PYTHON: &str = "plinth/python-connector-base";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A copy of the repository's `catalog/` changelogs in the test's own directory.
fn catalog_copy(ctx: &TestContext) -> PathBuf {
    let dir = ctx.temp_dir().join("catalog");
    let changelogs = dir.join("generated/changelogs");
    std::fs::create_dir_all(&changelogs).unwrap();
    for name in [
        "airbyte_python_connector_base.json",
        "airbyte_java_connector_base.json",
        "plinth_python_connector_base.json",
    ] {
        std::fs::copy(
            repo_root().join("catalog/generated/changelogs").join(name),
            changelogs.join(name),
        )
        .unwrap();
    }
    dir
}

/// Docker Hub's tags of both families as the seed README shows them, put where `plinth ls`
/// keeps a listing it fetched (`<store>/cache/tags/docker.io/…`), fresh, so no request is made:
/// Docker Hub is not reachable from the machines these tests run on.
fn cache_docker_hub_tags(ctx: &TestContext) {
    let mut tags: Value = serde_json::from_slice(
        &std::fs::read(repo_root().join("crates/plinth-render/tests/data/published-tags.json"))
            .unwrap(),
    )
    .unwrap();
    // The built-in Debian-rooted family is declared but never published.
    tags.as_object_mut()
        .unwrap()
        .insert(DEBIAN_PYTHON.to_owned(), Value::Array(Vec::new()));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for (repository, list) in tags.as_object().unwrap() {
        let entries: Vec<Value> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|pair| serde_json::json!({"tag": pair[0], "digest": pair[1]}))
            .collect();
        let path = ctx
            .plinth_home()
            .join("cache/tags/docker.io")
            .join(format!("{repository}.json"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(
            &path,
            serde_json::to_vec(
                &serde_json::json!({"fetched_at": now, "with_digests": true, "tags": entries}),
            )
            .unwrap(),
        )
        .unwrap();
    }
}

/// The README without the `###` sections (table and example) of `repository`.
fn without_family(readme: &str, repository: &str) -> String {
    let mut kept = String::new();
    let mut skipping = false;
    for line in readme.lines() {
        if line.starts_with('#') {
            skipping = line.starts_with("### ") && line.contains(&format!("`{repository}`"));
        }
        if !skipping {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    kept
}

/// The table rows (`|  version | …`) and the example blocks of a README.
fn rows_and_examples(readme: &str) -> (Vec<&str>, Vec<String>) {
    let rows = readme.lines().filter(|l| l.starts_with("|  ")).collect();
    let examples = readme
        .split("```dockerfile\n")
        .skip(1)
        .map(|block| block.split("\n```").next().unwrap().to_owned())
        .collect();
    (rows, examples)
}

#[test]
fn generate_docs_in_the_catalog_directory_renders_the_seed_readme_tables() {
    let ctx = TestContext::new();
    let dir = catalog_copy(&ctx);
    cache_docker_hub_tags(&ctx);
    let out = output(
        &ctx,
        ctx.plinth()
            .args(["--catalog-dir", dir.to_str().unwrap(), "generate-docs"]),
    );
    assert!(out.status.success());
    let rendered = std::fs::read_to_string(dir.join("README.md")).unwrap();
    assert!(
        rendered.contains(&format!("### `{DEBIAN_PYTHON}`")),
        "the Debian-rooted family has its own table"
    );
    // The seed README knows only Airbyte's two families.
    let readme = without_family(&rendered, DEBIAN_PYTHON);
    let seed =
        std::fs::read_to_string(repo_root().join("crates/plinth-render/tests/data/seed-README.md"))
            .unwrap();
    let (rows, examples) = rows_and_examples(&readme);
    let (seed_rows, seed_examples) = rows_and_examples(&seed);
    assert_eq!(rows.len(), 22, "13 python and 9 java versions");
    assert_eq!(
        rows, seed_rows,
        "every row: version, published, address, changelog text"
    );
    assert_eq!(examples.len(), 2);
    assert_eq!(examples, seed_examples, "the example block of each family");
    assert!(readme.starts_with("# airbyte-connectors-base-images\n"));
}

fn version<'a>(listing: &'a Value, repository: &str, version: &str) -> &'a Value {
    listing["families"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["repository"] == repository)
        .unwrap()["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["version"] == version)
        .unwrap_or_else(|| panic!("{repository} {version} is not listed"))
}

#[test]
fn catalog_lists_declared_buildable_published_with_provenance_and_notes() {
    let ctx = TestContext::new();
    let dir = catalog_copy(&ctx);
    let catalog_dir = dir.to_str().unwrap();

    // Offline: the declarations and the changelog.
    let out = output(
        &ctx,
        ctx.plinth().args([
            "--catalog-dir",
            catalog_dir,
            "catalog",
            "--offline",
            "--json",
        ]),
    );
    assert!(out.status.success());
    let listing: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listing["title"], "airbyte-connectors-base-images");
    assert_eq!(listing["owner"], "Airbyte");
    let families: Vec<&str> = listing["families"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["repository"].as_str().unwrap())
        .collect();
    assert_eq!(
        families,
        [PYTHON, "airbyte/java-connector-base", DEBIAN_PYTHON],
        "the built-in catalog: Airbyte's two families and the Debian-rooted one"
    );
    let four = version(&listing, PYTHON, "4.0.0");
    assert_eq!(four["declared"], true);
    assert_eq!(four["recipe"], "known");
    assert_eq!(four["buildable"], true);
    assert_eq!(four["published"], Value::Null);
    assert_eq!(
        four["recorded_digest"],
        "sha256:d9894b6895923b379f3006fa251147806919c62b7d9021b5cd125bb67d7bbe22"
    );
    assert_eq!(four["provenance"], "inferred");
    assert_eq!(
        four["changelog"],
        Value::Null,
        "not in the original's changelog"
    );
    assert!(
        four["notes"]
            .as_array()
            .unwrap()
            .contains(&Value::from("The digest comes from a third-party source.")),
        "{four}"
    );
    let unknown = version(&listing, PYTHON, "3.0.2");
    assert_eq!(unknown["recipe"], "unknown");
    assert_eq!(unknown["buildable"], false);
    assert_eq!(unknown["provenance"], "not recovered");
    assert!(
        unknown["not_buildable"].as_str().unwrap().starts_with(
            "cannot build airbyte/python-connector-base 3.0.2: its recipe is not known"
        ),
        "{unknown}"
    );
    let partial = version(&listing, "airbyte/java-connector-base", "2.0.0-rc.1");
    assert_eq!(partial["recipe"], "partial");
    assert_eq!(partial["buildable"], false);
    assert_eq!(partial["changelog"], " Make the java base image non root");
    let three = version(&listing, PYTHON, "3.0.0");
    assert_eq!(three["changelog"], "Create airbyte user");

    let out = output(
        &ctx,
        ctx.plinth()
            .args(["--catalog-dir", catalog_dir, "catalog", PYTHON, "--offline"]),
    );
    assert!(out.status.success());
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(
        table.starts_with("airbyte-connectors-base-images (Airbyte)\n\nairbyte/python-connector-base (code) [linux/amd64, linux/arm64]\n"),
        "{table}"
    );
    assert!(!table.contains("java-connector-base"), "{table}");
    let line = |v: &str| {
        table
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{v} ")))
            .unwrap_or_else(|| panic!("no {v} row in:\n{table}"))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(
        line("4.0.0"),
        "4.0.0 known yes recorded sha256:d9894b689592 inferred"
    );
    assert_eq!(
        line("3.0.0"),
        "3.0.0 known yes recorded sha256:1a0845ff2b30 code Create airbyte user"
    );
    assert!(
        table.contains("      note: The digest comes from a third-party source.\n"),
        "{table}"
    );

    // Against a registry: what it publishes.
    require_external!(External::Tool("docker-registry"));
    let registry = LocalRegistry::start();
    let digest =
        push_busybox_with_plinth(&ctx, None, &format!("{}/{PYTHON}:3.0.0", registry.host()));
    let out = output(
        &ctx,
        ctx.plinth().args([
            "--catalog-dir",
            catalog_dir,
            "--registry",
            &registry.host(),
            "catalog",
            PYTHON,
            "--json",
        ]),
    );
    assert!(out.status.success());
    let listing: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        version(&listing, PYTHON, "3.0.0")["published"],
        format!("{}/{PYTHON}:3.0.0@{digest}", registry.host())
    );
    assert_eq!(version(&listing, PYTHON, "4.0.0")["published"], Value::Null);
}
