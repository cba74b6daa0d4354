//! The two Airbyte recipes whose Dockerfile examples are published: python 3.0.0 and java 2.0.1,
//! written with the step dictionary of the reference (argv exact).

mod support;

use plinth_recipe::{BuildableOptions, Container, DirectorySource, FileOptions, FileSource, Op};
use support::parse_dockerfile;

const PY310B: &str = "docker.io/python:3.10.14-slim-bookworm@sha256:2407c61b1a18067393fecd8a22cf6fceede893b6aaca817bf9fbfe65e33614a3";
const CORRETTO_B: &str = "docker.io/amazoncorretto:21-al2023@sha256:c90f38f8a5c4494cb773a984dc9fa9a727b3e6c2f2ee2cba27c834a6e101af0d";
const PUNKT: &str = "https://github.com/nltk/nltk_data/raw/5db857e6f7df11eabb5e5665836db9ec8df07e28/packages/tokenizers/punkt.zip";
const TAGGER: &str = "https://github.com/nltk/nltk_data/raw/5db857e6f7df11eabb5e5665836db9ec8df07e28/packages/taggers/averaged_perceptron_tagger.zip";
const SCRIPTS: &str = "https://raw.githubusercontent.com/airbytehq/airbyte/6d8a3a2bc4f4ca79f10164447a90fdce5c9ad6f9/airbyte-integrations/bases";

fn nltk_builder() -> Container {
    let mut c = Container::from_address("bash:latest").unwrap();
    for (sub, url) in [("tokenizers", PUNKT), ("taggers", TAGGER)] {
        let dir = format!("/usr/share/nltk_data/{sub}");
        c = c
            .with_file("/tmp/data.zip", FileSource::url(url))
            .with_exec(["mkdir", "-p", &dir])
            .with_exec(["unzip", "-o", "/tmp/data.zip", "-d", &dir])
            .with_exec(["rm", "/tmp/data.zip"]);
    }
    c
}

fn sh(cmd: &str) -> [&str; 3] {
    ["sh", "-c", cmd]
}

/// python 3.0.0: from PY310b, TZ, USERBASE, CACHE_CUSTOM, PIP_ENV, PIP24, POETRY_ENV, POETRY161,
/// UPGRADE, SOCAT, OCR, NLTK_MKDIR755, NLTK_DIR.
pub fn python_3_0_0() -> Container {
    Container::from_address(PY310B)
        .unwrap()
        .with_exec([
            "ln",
            "-snf",
            "/usr/share/zoneinfo/Etc/UTC",
            "/etc/localtime",
        ])
        .with_exec([
            "adduser",
            "--uid",
            "1000",
            "--system",
            "--group",
            "--no-create-home",
            "airbyte",
        ])
        .with_exec(["mkdir", "--mode", "755", "/custom_cache"])
        .with_exec(["mkdir", "--mode", "755", "/airbyte"])
        .with_exec(["chown", "airbyte:airbyte", "/airbyte"])
        .with_mounted_cache_owned("/custom_cache/pip", "pip_cache", "airbyte")
        .with_env("PIP_CACHE_DIR", "/custom_cache/pip")
        .with_exec([
            "pip",
            "install",
            "--upgrade",
            "pip==24.0",
            "setuptools==70.0.0",
        ])
        .with_env("POETRY_VIRTUALENVS_CREATE", "false")
        .with_env("POETRY_VIRTUALENVS_IN_PROJECT", "false")
        .with_env("POETRY_NO_INTERACTION", "1")
        .with_exec(["pip", "install", "poetry==1.6.1"])
        .with_exec(sh(
            "apt-get update && apt-get upgrade -y && apt-get dist-upgrade -y && apt-get clean",
        ))
        .with_exec(sh("apt-get install -y socat=1.7.4.4-2"))
        .with_exec(sh(
            "apt-get update && apt-get install -y tesseract-ocr=5.3.0-2 poppler-utils=22.12.0-2+b1",
        ))
        .with_exec(["mkdir", "-p", "755", "/usr/share/nltk_data"])
        .with_directory(
            "/usr/share/nltk_data",
            DirectorySource::container(&nltk_builder(), "/usr/share/nltk_data"),
        )
}

const NONROOT: &str = "set -o xtrace && yum install -y shadow-utils tar openssl findutils && yum update -y --security && yum clean all && rm -rf /var/cache/yum && groupadd --gid 1000 airbyte && useradd --uid 1000 --gid airbyte --shell /bin/bash --create-home airbyte && mkdir /secrets && mkdir /config && mkdir --mode 755 /airbyte && mkdir --mode 755 /custom_cache && chown -R airbyte:airbyte /airbyte && chown -R airbyte:airbyte /custom_cache && chown -R airbyte:airbyte /secrets && chown -R airbyte:airbyte /config && chown -R airbyte:airbyte /usr/share/pki/ca-trust-source && chown -R airbyte:airbyte /etc/pki/ca-trust && chown -R airbyte:airbyte /tmp";

/// java 2.0.1: from CORRETTO_b, NONROOT, WD, FILES_OWNED, ENV6, EP, USER.
pub fn java_2_0_1() -> Container {
    let owned = || FileOptions::new().owner("airbyte");
    let mut c = Container::from_address(CORRETTO_B)
        .unwrap()
        .with_exec(sh(NONROOT))
        .with_workdir("/airbyte");
    c = c
        .with_file_opts(
            "dd-java-agent.jar",
            FileSource::url("https://dtdg.co/latest-java-tracer"),
            owned(),
        )
        .with_file_opts(
            "base.sh",
            FileSource::url(format!("{SCRIPTS}/base/base.sh")),
            owned(),
        )
        .with_file_opts(
            "javabase.sh",
            FileSource::url(format!("{SCRIPTS}/base-java/javabase.sh")),
            owned(),
        );
    for cmd in ["spec", "check", "discover", "read", "write"] {
        c = c.with_env(
            format!("AIRBYTE_{}_CMD", cmd.to_uppercase()),
            format!("/airbyte/javabase.sh --{cmd}"),
        );
    }
    c.with_env("AIRBYTE_ENTRYPOINT", "/airbyte/base.sh")
        .with_entrypoint(["/airbyte/base.sh"])
        .with_user("airbyte")
}

fn data(name: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn options() -> BuildableOptions {
    BuildableOptions::new().with_owner_ids("airbyte", 1000, 1000)
}

#[test]
fn python_example_matches_the_published_readme_byte_for_byte() {
    assert_eq!(
        python_3_0_0().dockerfile_example(),
        data("python-connector-base-3.0.0.example")
    );
}

#[test]
fn java_example_matches_the_published_readme_byte_for_byte() {
    assert_eq!(
        java_2_0_1().dockerfile_example(),
        data("java-connector-base-2.0.1.example")
    );
}

#[test]
fn python_buildable_dockerfile() {
    let built = python_3_0_0().buildable_dockerfile(&options()).unwrap();
    assert!(built.context.entries.is_empty() && built.context.images.is_empty());
    insta::assert_snapshot!("python_3_0_0_buildable", built.text);
}

#[test]
fn java_buildable_dockerfile() {
    let built = java_2_0_1().buildable_dockerfile(&options()).unwrap();
    assert!(built.context.entries.is_empty() && built.context.images.is_empty());
    insta::assert_snapshot!("java_2_0_1_buildable", built.text);
}

#[test]
fn cache_owner_ids_come_from_the_recipe_adduser() {
    // python 3.0.0 creates `airbyte` with `adduser --uid 1000 --system --group`: the view needs
    // no ids from outside and writes the same Dockerfile as with explicit ones.
    let derived = python_3_0_0()
        .buildable_dockerfile(&BuildableOptions::new())
        .unwrap();
    assert_eq!(
        derived,
        python_3_0_0().buildable_dockerfile(&options()).unwrap()
    );
    assert!(
        derived.text.contains(",uid=1000,gid=1000"),
        "{}",
        derived.text
    );
}

#[test]
fn cache_owner_names_the_recipe_does_not_create_need_ids() {
    let recipe = Container::from_address("docker.io/library/debian:bookworm")
        .unwrap()
        .with_mounted_cache_owned("/cache", "c", "app")
        .with_exec(["true"]);
    let err = recipe
        .buildable_dockerfile(&BuildableOptions::new())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("does not create `app` with explicit ids"),
        "{err}"
    );
    assert!(!err.contains("::") && !err.contains("with_"), "{err}");
    let given = recipe
        .buildable_dockerfile(&BuildableOptions::new().with_owner_ids("app", 7, 8))
        .unwrap();
    assert!(given.text.contains("uid=7,gid=8"), "{}", given.text);
}

/// The buildable views read back into the same recipes (cache owners come back as ids).
#[test]
fn buildable_views_read_back_into_the_recipes() {
    for recipe in [python_3_0_0(), java_2_0_1()] {
        let built = recipe.buildable_dockerfile(&options()).unwrap();
        let back = parse_dockerfile(&built.text, "/nonexistent").unwrap();
        let expected =
            Container::from_ops(
                recipe
                    .normalized()
                    .ops()
                    .iter()
                    .cloned()
                    .map(|op| match op {
                        Op::MountedCache {
                            path,
                            volume,
                            owner: Some(o),
                            options,
                        } if o == "airbyte" => Op::MountedCache {
                            path,
                            volume,
                            owner: Some("1000:1000".into()),
                            options,
                        },
                        other => other,
                    }),
            );
        assert_eq!(back, expected, "{}", built.text);
        assert_eq!(back.dockerfile_example(), recipe.dockerfile_example());
    }
}

#[test]
fn op_keys_are_stable() {
    // Cache keys must not drift between releases: pin a few.
    let ops = java_2_0_1();
    let keys: Vec<String> = ops
        .ops()
        .iter()
        .map(|op| op.op_digest().to_string())
        .collect();
    insta::assert_snapshot!("java_2_0_1_op_digests", keys.join("\n"));
}
