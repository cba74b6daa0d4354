//! The official JSON schemas shipped beside the tests (`tests/schemas/README.md` says where
//! they come from), loaded without a network.

use std::path::{Path, PathBuf};

use jsonschema::{Retrieve, Uri, Validator};
use serde_json::Value;

fn schemas_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemas")
}

fn load(name: &str) -> Value {
    let path = schemas_dir().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// Answers the CycloneDX schema's relative `$ref`s (`spdx.SNAPSHOT.schema.json`,
/// `jsf-0.82.SNAPSHOT.schema.json`) from the shipped files, and nothing else.
struct ShippedSchemas;

impl Retrieve for ShippedSchemas {
    fn retrieve(
        &self,
        uri: &Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let name = uri.as_str().rsplit('/').next().unwrap_or_default();
        let allowed = ["spdx.SNAPSHOT.schema.json", "jsf-0.82.SNAPSHOT.schema.json"];
        if allowed.contains(&name) {
            Ok(load(name))
        } else {
            Err(format!("no shipped schema for {uri}").into())
        }
    }
}

fn validator(name: &str) -> Validator {
    jsonschema::options()
        .with_retriever(ShippedSchemas)
        .should_validate_formats(true)
        .build(&load(name))
        .unwrap_or_else(|e| panic!("the schema {name} does not load: {e}"))
}

/// Every violation of `schema_file` by `document`, one line each.
pub fn violations(schema_file: &str, document: &[u8]) -> Vec<String> {
    let value: Value = serde_json::from_slice(document).expect("the document is JSON");
    validator(schema_file)
        .iter_errors(&value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

pub const SPDX_2_3: &str = "spdx-2.3.schema.json";
pub const CYCLONEDX_1_5: &str = "bom-1.5.SNAPSHOT.schema.json";
