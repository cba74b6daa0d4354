//! `examples/airbyte-python-base`: Airbyte's python connector base kept as a file family, a
//! folder a user copies. Read as plinth reads it (every file parsed and checked before any
//! command runs), its Dockerfile shown as recorded and as BuildKit builds it, and quoted in the
//! README exactly. Its build and checks run in the main-job test, which has the root already.

use plinth_test::copy_tree;
use plinth_test::{TestContext, output};
use serde_json::Value;

use super::repo_root;

pub(crate) const AIRBYTE_FILES: &str = "airbyte/python-connector-base-files";

fn stdout_ok(ctx: &TestContext, args: &[&str]) -> String {
    let out = output(ctx, ctx.plinth().args(args));
    assert!(out.status.success(), "plinth {args:?} failed");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_airbyte_python_example_is_a_file_family_plinth_reads_and_the_readme_quotes() {
    let ctx = TestContext::new();
    let example = repo_root().join("examples/airbyte-python-base");
    let dir = ctx.temp_dir().join("airbyte-python-base");
    copy_tree(&example, &dir);
    let dir = dir.to_str().unwrap();

    let listing: Value = serde_json::from_str(&stdout_ok(
        &ctx,
        &["--catalog-dir", dir, "catalog", "--offline", "--json"],
    ))
    .unwrap();
    assert_eq!(listing["title"], "python-connector-base-as-files");
    let families = listing["families"].as_array().unwrap();
    assert_eq!(families.len(), 1, "only the example's family: {listing}");
    let family = &families[0];
    assert_eq!(family["repository"], AIRBYTE_FILES);
    assert_eq!(family["kind"], "files");
    assert_eq!(family["title"], "Python connector base");
    assert_eq!(family["owner"], "Connector team");
    assert!(
        family["description"]
            .as_str()
            .is_some_and(|d| d.contains("poetry 1.8.4")),
        "{family}"
    );

    // The working Dockerfile, as recorded and as BuildKit is given it.
    let dockerfile =
        std::fs::read_to_string(example.join("families/python-connector-base/Dockerfile")).unwrap();
    let shown = stdout_ok(&ctx, &["--catalog-dir", dir, "dockerfile", AIRBYTE_FILES]);
    // Printed as it is, with the line end `println!` adds.
    assert_eq!(shown.trim_end(), dockerfile.trim_end());
    let buildable = stdout_ok(
        &ctx,
        &[
            "--catalog-dir",
            dir,
            "dockerfile",
            AIRBYTE_FILES,
            "--format",
            "buildable",
        ],
    );
    for line in [
        "ENV PIP_CACHE_DIR=\"/custom_cache/pip\"",
        "RUN --mount=type=cache,target=/custom_cache/pip,id=pip_cache,uid=1000,gid=1000 [\"/bin/sh\",\"-c\",\"pip install --upgrade pip==24.0 setuptools==70.0.0\"]",
        "RUN --mount=type=cache,target=/custom_cache/pip,id=pip_cache,uid=1000,gid=1000 [\"/bin/sh\",\"-c\",\"pip install poetry==1.8.4\"]",
    ] {
        assert!(buildable.lines().any(|l| l == line), "{line}\n{buildable}");
    }

    // The README's section shows these very files.
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    for file in [
        "Dockerfile",
        "family.toml",
        "checks/python.yaml",
        "checks/airbyte.plinth.yaml",
    ] {
        let text =
            std::fs::read_to_string(example.join("families/python-connector-base").join(file))
                .unwrap();
        assert!(
            readme.contains(&text),
            "the README quotes examples/airbyte-python-base/families/python-connector-base/{file} as it is"
        );
    }
}
