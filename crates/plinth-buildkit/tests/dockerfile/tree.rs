//! What the suite compares: the file tree of an image (path, type, mode, owner, size, content
//! hash, link target; no mtimes) and the runtime part of its config.

use plinth_oci::image::resolve_manifest;
use plinth_oci::{Descriptor, Platform, Store};
use serde_json::Value;

pub use plinth_test::tree::Tree;

/// Applies one layer (or a whole exported file system) onto `tree`, whiteouts included, with
/// the leading `/` of symlink targets dropped: this suite compares BuildKit's and plinth's trees
/// after the same normalisation, as it always has.
pub fn apply_tar(tree: &mut Tree, bytes: Vec<u8>) {
    plinth_test::tree::apply_tar(tree, bytes);
    for entry in tree.values_mut().filter(|e| e.kind == 'l') {
        entry.content = entry.content.trim_start_matches('/').to_owned();
    }
}

/// The merged tree, the runtime config and the history entries of one platform of an image
/// in a store.
pub fn image_of(
    store: &Store,
    root: &Descriptor,
    platform: &Platform,
) -> (Tree, Value, Vec<String>) {
    let (_, manifest) = resolve_manifest(store, root, Some(platform)).unwrap();
    let mut tree = Tree::new();
    for layer in &manifest.layers {
        apply_tar(&mut tree, store.read_blob(&layer.digest).unwrap());
    }
    let config: Value =
        serde_json::from_slice(&store.read_blob(&manifest.config.digest).unwrap()).unwrap();
    (
        tree,
        runtime_config(&config["config"], &config["author"]),
        crate::history::entries(&config),
    )
}

/// The config fields a Dockerfile sets, with empty values (`null`, `[]`, `{}`, `""`) left out:
/// they mean the same to a runtime, and tools disagree on which one they write.
pub fn runtime_config(config: &Value, author: &Value) -> Value {
    const FIELDS: [&str; 13] = [
        "ArgsEscaped",
        "Env",
        "Cmd",
        "Entrypoint",
        "WorkingDir",
        "User",
        "Labels",
        "ExposedPorts",
        "Volumes",
        "StopSignal",
        "Healthcheck",
        "OnBuild",
        "Shell",
    ];
    let mut out = serde_json::Map::new();
    for field in FIELDS {
        let value = &config[field];
        let empty = match value {
            Value::Null => true,
            // BuildKit writes no value for `CMD []`/`ENTRYPOINT []`: an empty list must show.
            Value::Array(_) if matches!(field, "Cmd" | "Entrypoint") => false,
            Value::Array(a) => a.is_empty(),
            Value::Object(o) => o.is_empty(),
            Value::String(s) => s.is_empty(),
            Value::Bool(b) => !b,
            _ => false,
        };
        if !empty {
            out.insert(field.to_owned(), value.clone());
        }
    }
    if let Value::String(a) = author
        && !a.is_empty()
    {
        out.insert("Author".to_owned(), author.clone());
    }
    Value::Object(out)
}

/// Every difference between two trees, one line each.
pub fn tree_differences(expected: &Tree, actual: &Tree) -> Vec<String> {
    let mut out = Vec::new();
    for path in expected
        .keys()
        .chain(actual.keys())
        .collect::<std::collections::BTreeSet<_>>()
    {
        match (expected.get(path), actual.get(path)) {
            (Some(a), Some(b)) if a == b => {}
            (a, b) => out.push(format!("  /{path}: BuildKit {a:?}, plinth {b:?}")),
        }
    }
    out
}
