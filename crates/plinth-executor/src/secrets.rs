//! Build secrets (`plinth build --secret id=…,src=FILE|env=VAR`): values a `RUN
//! --mount=type=secret` step sees, never written to a layer, a step key, an image config, a log
//! or an error.

use std::collections::BTreeMap;
use std::path::Path;

/// A secret's bytes. `Debug` prints the length only.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(Vec<u8>);

impl SecretValue {
    /// Wraps bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }

    /// The bytes.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// The text replaced by `****` in a step's relayed output, on both executors: the value
    /// without surrounding whitespace (a file's trailing newline is not part of what a step
    /// echoes); `None` for a blank value.
    pub fn redaction(&self) -> Option<String> {
        let text = String::from_utf8_lossy(&self.0).trim().to_owned();
        (!text.is_empty()).then_some(text)
    }
}

/// `line` with every one of `values` replaced by `****`.
pub fn redact_line(line: &str, values: &[String]) -> String {
    let mut text = line.to_owned();
    for value in values {
        text = text.replace(value.as_str(), "****");
    }
    text
}

impl std::fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretValue(<{} bytes>)", self.0.len())
    }
}

/// The secrets of one build, by id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BuildSecrets(BTreeMap<String, SecretValue>);

/// Where a secret comes from, in docker's `--secret` syntax.
#[derive(Clone, Debug, PartialEq, Eq)]
enum SecretSource {
    File(String),
    Env(String),
}

impl BuildSecrets {
    /// No secrets.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a secret.
    pub fn insert(&mut self, id: impl Into<String>, value: SecretValue) {
        self.0.insert(id.into(), value);
    }

    /// The secret `id`, if given.
    pub fn get(&self, id: &str) -> Option<&SecretValue> {
        self.0.get(id)
    }

    /// The ids given.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Reads one `--secret` value as docker does: `id=ID[,src=FILE|source=FILE|env=VAR]`
    /// (`type=file|env` optional); without a source, the env var named like the id, else the
    /// file of that name. The error names the id and the source, never the value.
    pub fn add_flag(&mut self, spec: &str) -> Result<(), String> {
        let (mut id, mut source, mut kind) = (None, None, None);
        for field in spec.split(',') {
            let (key, value) = field.split_once('=').ok_or_else(|| {
                format!("`--secret {spec}`: `{field}` is not `key=value`; write `id=ID,src=FILE` or `id=ID,env=VAR`")
            })?;
            match key.to_ascii_lowercase().as_str() {
                "id" => id = Some(value.to_owned()),
                "src" | "source" => source = Some(SecretSource::File(value.to_owned())),
                "env" => source = Some(SecretSource::Env(value.to_owned())),
                "type" if value == "file" || value == "env" => kind = Some(value.to_owned()),
                other => {
                    return Err(format!(
                        "`--secret {spec}`: `{other}` is not a secret option; use id, src or env"
                    ));
                }
            }
        }
        let id = id.filter(|i| !i.is_empty()).ok_or_else(|| {
            format!("`--secret {spec}` has no `id=`; write `id=ID,src=FILE` or `id=ID,env=VAR`")
        })?;
        let source = match (source, kind.as_deref()) {
            (Some(SecretSource::File(f)), Some("env")) => SecretSource::Env(f),
            (Some(s), _) => s,
            (None, Some("file")) => SecretSource::File(id.clone()),
            (None, _) if std::env::var_os(&id).is_some() => SecretSource::Env(id.clone()),
            (None, _) => SecretSource::File(id.clone()),
        };
        let bytes = match &source {
            SecretSource::File(path) => std::fs::read(Path::new(path))
                .map_err(|e| format!("the secret `{id}`: cannot read `{path}`: {e}"))?,
            SecretSource::Env(var) => std::env::var_os(var)
                .ok_or_else(|| {
                    format!("the secret `{id}`: the environment variable `{var}` is not set")
                })?
                .into_encoded_bytes(),
        };
        self.insert(id, SecretValue::new(bytes));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_read_files_and_never_print_values() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tok");
        std::fs::write(&file, "s3cret-value").unwrap();
        let mut secrets = BuildSecrets::new();
        secrets
            .add_flag(&format!("id=tok,src={}", file.display()))
            .unwrap();
        assert_eq!(secrets.get("tok").unwrap().expose(), b"s3cret-value");
        assert!(!format!("{secrets:?}").contains("s3cret"));

        let err = secrets.add_flag("src=/x").unwrap_err();
        assert!(err.contains("no `id=`"), "{err}");
        let err = secrets
            .add_flag(&format!(
                "id=gone,src={}",
                dir.path().join("none").display()
            ))
            .unwrap_err();
        assert!(err.contains("the secret `gone`: cannot read"), "{err}");
        let err = secrets
            .add_flag("id=e,env=PLINTH_TEST_SURELY_UNSET_VAR")
            .unwrap_err();
        assert!(err.contains("is not set"), "{err}");
    }
}
