//! The difference of two image configs (or any two JSON documents): the fields that differ,
//! each named by its path (`config.Env[2]`, `history[3].created_by`, `created`).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

/// One field that differs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    /// The field's path.
    pub field: String,
    /// Its value in the first document (absent: `None`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    /// Its value in the second document (absent: `None`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
}

/// The fields of `before` and `after` that differ, in path order. Objects are compared key by
/// key and arrays item by item, so one changed environment variable is one change.
pub fn diff_json(before: &Value, after: &Value) -> Vec<FieldChange> {
    let (mut old, mut new) = (BTreeMap::new(), BTreeMap::new());
    flatten("", before, &mut old);
    flatten("", after, &mut new);
    let mut changes = Vec::new();
    for (field, value) in &old {
        match new.get(field) {
            Some(other) if other == value => {}
            other => changes.push(FieldChange {
                field: field.clone(),
                before: Some((*value).clone()),
                after: other.map(|v| (*v).clone()),
            }),
        }
    }
    for (field, value) in &new {
        if !old.contains_key(field) {
            changes.push(FieldChange {
                field: field.clone(),
                before: None,
                after: Some((*value).clone()),
            });
        }
    }
    changes.sort_by(|a, b| natural_key(&a.field).cmp(&natural_key(&b.field)));
    changes
}

fn flatten<'a>(path: &str, value: &'a Value, out: &mut BTreeMap<String, &'a Value>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, child) in map {
                let child_path = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                flatten(&child_path, child, out);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for (i, child) in items.iter().enumerate() {
                flatten(&format!("{path}[{i}]"), child, out);
            }
        }
        _ => {
            out.insert(path.to_owned(), value);
        }
    }
}

/// The changes with the build-arg values of `RUN` history lines left out: BuildKit's
/// `RUN |N K=V … argv` holds them (the image does, as BuildKit's does), and a value may be a
/// token, which plinth never prints. A value may hold blanks, so nothing after `|N` is shown.
pub fn without_build_arg_values(changes: Vec<FieldChange>) -> Vec<FieldChange> {
    let hide = |value: Option<Value>| -> Option<Value> {
        match value {
            Some(Value::String(line)) => Some(Value::String(hidden_build_args(line))),
            other => other,
        }
    };
    changes
        .into_iter()
        .map(|change| {
            if change.field.starts_with("history[") && change.field.ends_with("].created_by") {
                FieldChange {
                    before: hide(change.before),
                    after: hide(change.after),
                    ..change
                }
            } else {
                change
            }
        })
        .collect()
}

/// `RUN |2 A=x B=y sh -c …` as `RUN |2 … (2 build args and the command, not shown: the line
/// holds the values)`; any other line as it is.
fn hidden_build_args(line: String) -> String {
    let Some(rest) = line.strip_prefix("RUN |") else {
        return line;
    };
    let count: String = rest.chars().take_while(char::is_ascii_digit).collect();
    if count.is_empty() {
        return line;
    }
    format!(
        "RUN |{count} … ({count} build args and the command, not shown: the line holds the values)"
    )
}

/// Sorts `history[10]` after `history[9]`.
fn natural_key(field: &str) -> Vec<(u64, &str)> {
    field
        .split('[')
        .map(|part| match part.split_once(']') {
            Some((n, rest)) => (n.parse().unwrap_or(0), rest),
            None => (0, part),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_arg_values_in_history_lines_are_not_shown() {
        let changes = without_build_arg_values(diff_json(
            &json!({"history": [{"created_by": "RUN |1 TOKEN=hunter2 /bin/sh -c make # buildkit"}], "created": "a"}),
            &json!({"history": [{"created_by": "RUN /bin/sh -c make # buildkit"}], "created": "b"}),
        ));
        let text = serde_json::to_string(&changes).unwrap();
        assert!(!text.contains("hunter2"), "{text}");
        assert_eq!(
            changes[1].before,
            Some(json!(
                "RUN |1 … (1 build args and the command, not shown: the line holds the values)"
            ))
        );
        assert_eq!(
            changes[1].after,
            Some(json!("RUN /bin/sh -c make # buildkit"))
        );
        assert_eq!(
            changes[0].after,
            Some(json!("b")),
            "other fields as they are"
        );
    }
    use serde_json::json;

    #[test]
    fn fields_that_differ_are_named_by_path() {
        let before = json!({
            "created": "1970-01-01T00:00:00Z",
            "config": {"Env": ["PATH=/bin", "A=1"], "User": "root"},
            "history": [{"created_by": "a"}, {"created_by": "b"}],
        });
        let after = json!({
            "created": "1970-01-01T00:00:00Z",
            "config": {"Env": ["PATH=/bin", "A=2", "B=3"], "WorkingDir": "/app"},
            "history": [{"created_by": "a"}, {"created_by": "c"}],
        });
        let fields: Vec<_> = diff_json(&before, &after)
            .into_iter()
            .map(|c| (c.field, c.before, c.after))
            .collect();
        assert_eq!(
            fields,
            [
                (
                    "config.Env[1]".into(),
                    Some(json!("A=1")),
                    Some(json!("A=2"))
                ),
                ("config.Env[2]".into(), None, Some(json!("B=3"))),
                ("config.User".into(), Some(json!("root")), None),
                ("config.WorkingDir".into(), None, Some(json!("/app"))),
                (
                    "history[1].created_by".into(),
                    Some(json!("b")),
                    Some(json!("c"))
                ),
            ]
        );
        assert!(diff_json(&before, &before).is_empty());
    }
}
