use plinth_catalog::consumer::repin;

use super::*;

/// The families of the Airbyte catalog, published on Docker Hub.
struct Known(Vec<&'static str>);

impl ConsumerFamilies for Known {
    fn family_of(&self, address: &str) -> Option<String> {
        let name = address.parse::<Reference>().ok()?.name();
        let name = name.strip_prefix("docker.io/").unwrap_or(&name);
        self.0.iter().find(|k| **k == name).map(|k| (*k).to_owned())
    }

    fn repositories(&self) -> Vec<String> {
        self.0.iter().map(|k| (*k).to_owned()).collect()
    }
}

fn airbyte() -> Known {
    Known(vec![
        "airbyte/python-connector-base",
        "airbyte/java-connector-base",
        "team/my-base",
    ])
}

/// What `upgrade-consumers` makes of `text`: its one pin set to `address`.
fn set_base_image(text: &str, address: &str) -> Result<Option<String>, String> {
    let families = airbyte();
    let pins = ConnectorMetadata.pins(text, &families)?;
    let pins: Vec<_> = pins.into_iter().map(|p| (p, address.to_owned())).collect();
    repin(&ConnectorMetadata, text, &pins, &families)
}

fn repository_of(text: &str) -> Result<String, String> {
    let pins = ConnectorMetadata.pins(text, &airbyte())?;
    Ok(pins[0].repository.clone())
}

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
    assert_eq!(repository_of(METADATA).unwrap(), PYTHON_REPOSITORY);
    let manifest =
        "data:\n  language: manifest-only\n  connectorBuildOptions:\n    baseImage: x:1\n";
    assert_eq!(
        repository_of(manifest).unwrap(),
        SOURCE_DECLARATIVE_MANIFEST_REPOSITORY
    );
    let java = "data:\n  language: java\n  connectorBuildOptions:\n    baseImage: docker.io/airbyte/java-connector-base:2.0.1@sha256:ec89bd1a89e825514dd2fc8730ba299a3ae1544580a078df0e35c5202c2085b3\n";
    assert_eq!(repository_of(java).unwrap(), "airbyte/java-connector-base");
    let local = "data:\n  connectorBuildOptions:\n    baseImage: \"127.0.0.1:5000/ns/my-base:1.0.0@sha256:ec89bd1a89e825514dd2fc8730ba299a3ae1544580a078df0e35c5202c2085b3\"\n";
    assert_eq!(repository_of(local).unwrap(), "team/my-base");
    let other = "data:\n  connectorBuildOptions:\n    baseImage: 127.0.0.1:5000/ns/other:1.0.0\n";
    assert_eq!(repository_of(other).unwrap(), "ns/other");
}

#[test]
fn the_format_is_the_catalogs() {
    let catalog = crate::catalog();
    let formats = catalog.consumer_formats();
    assert_eq!(formats.len(), 1);
    assert_eq!(formats[0].file_name(), "metadata.yaml");
    assert!(formats[0].reads(std::path::Path::new("connectors/source-x/metadata.yaml")));
    assert!(!formats[0].reads(std::path::Path::new("connectors/source-x/Dockerfile")));
}
