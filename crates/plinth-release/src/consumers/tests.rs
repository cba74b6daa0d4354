use super::*;

const ADDR: &str = "docker.io/airbyte/python-connector-base:4.0.0@sha256:d9894b6895923b379f3006fa251147806919c62b7d9021b5cd125bb67d7bbe22";

const METADATA: &str = "# connector metadata
data:
  ab_internal:
    ql: 200 # quality
  connectorBuildOptions:
    # pinned by tooling
    baseImage: docker.io/airbyte/python-connector-base:3.0.0@sha256:1a0845ff2b30eafa793c6eee4e8f4283c2e52e1bbd44eed6cb9e9abd5d34d844   # keep
  connectorSubtype: api
  description: |
    baseImage: not this one
  language: python
  tags:
    - language:python
metadataSpecVersion: \"1.0\"
";

#[test]
fn only_the_scalar_changes_and_comments_stay() {
    let out = set_base_image(METADATA, ADDR).unwrap().unwrap();
    let expected = METADATA.replace(
        "docker.io/airbyte/python-connector-base:3.0.0@sha256:1a0845ff2b30eafa793c6eee4e8f4283c2e52e1bbd44eed6cb9e9abd5d34d844",
        ADDR,
    );
    assert_eq!(out, expected);
    assert_eq!(
        set_base_image(&out, ADDR).unwrap(),
        None,
        "a second run changes nothing"
    );
}

#[test]
fn quoted_values_keep_their_quotes() {
    for (before, after) in [
        ("baseImage: \"old:1\"", format!("baseImage: \"{ADDR}\"")),
        ("baseImage: 'old:1'", format!("baseImage: '{ADDR}'")),
    ] {
        let text = format!("data:\n  connectorBuildOptions:\n    {before}\n  language: java\n");
        let out = set_base_image(&text, ADDR).unwrap().unwrap();
        assert_eq!(
            out,
            format!("data:\n  connectorBuildOptions:\n    {after}\n  language: java\n")
        );
    }
}

#[test]
fn crlf_files_keep_their_line_ends() {
    let text = "data:\r\n  connectorBuildOptions:\r\n    baseImage: old:1\r\n";
    let out = set_base_image(text, ADDR).unwrap().unwrap();
    assert_eq!(
        out,
        format!("data:\r\n  connectorBuildOptions:\r\n    baseImage: {ADDR}\r\n")
    );
}

#[test]
fn keys_elsewhere_or_inside_block_scalars_are_not_taken() {
    let text = "other:\n  connectorBuildOptions:\n    baseImage: x:1\ndata:\n  notes: |\n    connectorBuildOptions:\n      baseImage: y:1\n";
    let err = set_base_image(text, ADDR).unwrap_err();
    assert!(
        err.contains("has no `data.connectorBuildOptions.baseImage`"),
        "{err}"
    );
}

#[test]
fn unsupported_forms_are_refused_not_guessed() {
    let flow = "data: {connectorBuildOptions: {baseImage: x:1}}\n";
    assert!(set_base_image(flow, ADDR).is_err());
    let multiline = "data:\n  connectorBuildOptions:\n    baseImage:\n      x:1\n";
    assert!(set_base_image(multiline, ADDR).is_err());
}

#[test]
fn family_by_language_then_by_current_repository() {
    let known = [
        "airbyte/python-connector-base",
        "airbyte/java-connector-base",
        "team/my-base",
    ];
    assert_eq!(
        connector_repository(METADATA, &known).unwrap(),
        PYTHON_REPOSITORY
    );
    let manifest =
        "data:\n  language: manifest-only\n  connectorBuildOptions:\n    baseImage: x:1\n";
    assert_eq!(
        connector_repository(manifest, &known).unwrap(),
        SOURCE_DECLARATIVE_MANIFEST_REPOSITORY
    );
    let java = "data:\n  language: java\n  connectorBuildOptions:\n    baseImage: docker.io/airbyte/java-connector-base:2.0.1@sha256:ec89bd1a89e825514dd2fc8730ba299a3ae1544580a078df0e35c5202c2085b3\n";
    assert_eq!(
        connector_repository(java, &known).unwrap(),
        "airbyte/java-connector-base"
    );
    let local = "data:\n  connectorBuildOptions:\n    baseImage: \"127.0.0.1:5000/ns/my-base:1.0.0@sha256:ec89bd1a89e825514dd2fc8730ba299a3ae1544580a078df0e35c5202c2085b3\"\n";
    assert_eq!(connector_repository(local, &known).unwrap(), "team/my-base");
}
