//! The file-level difference of two layers: entries added, removed and changed (which of type,
//! mode, owner, size, modification time and content hash differ), each marked when it is known
//! noise.

use serde::Serialize;

use crate::files::{FileEntry, LayerFiles};
use crate::noise::noise_reason;

/// How one path differs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "change")]
pub enum Change {
    /// Only in the second layer.
    Added {
        /// The entry.
        after: FileEntry,
    },
    /// Only in the first layer.
    Removed {
        /// The entry.
        before: FileEntry,
    },
    /// In both, different.
    Changed {
        /// The first layer's entry.
        before: FileEntry,
        /// The second layer's entry.
        after: FileEntry,
        /// What differs: `type`, `mode`, `owner`, `size`, `mtime`, `content`.
        fields: Vec<&'static str>,
    },
}

/// One path's difference.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FileChange {
    /// The path (no leading `/`).
    pub path: String,
    /// How it differs.
    #[serde(flatten)]
    pub change: Change,
    /// Why it is known noise, when it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub noise: Option<&'static str>,
}

impl FileChange {
    /// `added`, `removed` or `changed`.
    pub fn word(&self) -> &'static str {
        match self.change {
            Change::Added { .. } => "added",
            Change::Removed { .. } => "removed",
            Change::Changed { .. } => "changed",
        }
    }
}

/// Which fields of two entries of one path differ.
pub fn differing_fields(before: &FileEntry, after: &FileEntry) -> Vec<&'static str> {
    let mut fields = Vec::new();
    if before.kind != after.kind {
        fields.push("type");
    }
    if before.mode != after.mode {
        fields.push("mode");
    }
    if (before.uid, before.gid) != (after.uid, after.gid) {
        fields.push("owner");
    }
    if before.size != after.size {
        fields.push("size");
    }
    if before.mtime != after.mtime {
        fields.push("mtime");
    }
    if before.sha256 != after.sha256 && before.kind == after.kind {
        fields.push("content");
    }
    fields
}

/// The entries of `before` and `after` that differ, in path order.
pub fn diff_layer_files(before: &LayerFiles, after: &LayerFiles) -> Vec<FileChange> {
    let mut changes = Vec::new();
    let change = |path: &str, change: Change| FileChange {
        path: path.to_owned(),
        change,
        noise: noise_reason(path),
    };
    for (path, old) in before {
        match after.get(path) {
            None => changes.push(change(
                path,
                Change::Removed {
                    before: old.clone(),
                },
            )),
            Some(new) => {
                let fields = differing_fields(old, new);
                if !fields.is_empty() {
                    changes.push(change(
                        path,
                        Change::Changed {
                            before: old.clone(),
                            after: new.clone(),
                            fields,
                        },
                    ));
                }
            }
        }
    }
    for (path, new) in after {
        if !before.contains_key(path) {
            changes.push(change(path, Change::Added { after: new.clone() }));
        }
    }
    changes.sort_by(|a, b| a.path.cmp(&b.path));
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use plinth_oci::layer::ScannedKind;

    fn file(content: &str) -> FileEntry {
        FileEntry {
            kind: ScannedKind::File,
            mode: 0o644,
            uid: 0,
            gid: 0,
            size: content.len() as u64,
            mtime: 0,
            sha256: Some(format!("sha256:{content}")),
        }
    }

    #[test]
    fn added_removed_and_changed_with_the_fields_that_differ() {
        let before: LayerFiles = [
            ("etc/motd".to_owned(), file("a")),
            ("etc/gone".to_owned(), file("x")),
            ("var/log/dpkg.log".to_owned(), file("t1")),
            (
                "etc/owned".to_owned(),
                FileEntry {
                    uid: 1000,
                    ..file("o")
                },
            ),
        ]
        .into();
        let mut after = before.clone();
        after.remove("etc/gone");
        after.insert("etc/motd".into(), file("bb"));
        after.insert("etc/new".into(), file("n"));
        after.insert("var/log/dpkg.log".into(), file("t2"));
        after.insert(
            "etc/owned".into(),
            FileEntry {
                mode: 0o600,
                ..file("o")
            },
        );
        let changes = diff_layer_files(&before, &after);
        let summary: Vec<_> = changes
            .iter()
            .map(|c| {
                let fields = match &c.change {
                    Change::Changed { fields, .. } => fields.join(","),
                    _ => String::new(),
                };
                (c.path.as_str(), c.word(), fields, c.noise.is_some())
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("etc/gone", "removed", String::new(), false),
                ("etc/motd", "changed", "size,content".to_owned(), false),
                ("etc/new", "added", String::new(), false),
                ("etc/owned", "changed", "mode,owner".to_owned(), false),
                ("var/log/dpkg.log", "changed", "content".to_owned(), true),
            ]
        );
    }
}
