//! Which roots plinth `docker load`ed into which builder, so that `plinth gc` can remove the
//! ones it no longer needs, and never an image plinth did not load.
//!
//! Each load leaves a record in the store, `cache/builder-roots/<config hex>-<builder key>.json`
//! (one file per root and builder, so concurrent loads never rewrite each other's): the
//! builder, the local name and the config digest. A root is no longer needed once the store no
//! longer keeps its config (its tag moved on and gc dropped the old image): [`gc_loaded_roots`]
//! then removes the name from that builder with `docker image rm` (never forced: an image a
//! container uses, or that carries other names, stays), and forgets the record. An image found
//! under the name with another ID is not plinth's and is left alone.

use std::path::{Path, PathBuf};
use std::time::Duration;

use plinth_oci::{Digest, Store};
use serde::{Deserialize, Serialize};

use crate::docker::{DockerCli, describe, run_with_timeout, tail};
use crate::docker_host::DockerHost;
use crate::error::{Error, Result};

/// How long one `docker image inspect` or `docker image rm` may take.
const DOCKER_TIMEOUT: Duration = Duration::from_secs(60);

/// One root loaded into one builder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct LoadRecord {
    /// The builder, as `--builder` names it (`local`, a daemon address or a context).
    builder: String,
    /// The name it was loaded under (`plinth-root:<config hex>`).
    name: String,
    /// Its config digest, which is its image ID in the builder.
    config: Digest,
}

fn records_dir(store: &Store) -> PathBuf {
    store.root().join("cache").join("builder-roots")
}

fn record_path(store: &Store, builder: &DockerHost, config: &Digest) -> PathBuf {
    let key = Digest::of(builder.to_string().as_bytes());
    records_dir(store).join(format!("{}-{}.json", config.hex(), &key.hex()[..16]))
}

/// Notes that `name` (the image `config`) was loaded into `builder`. A failure to write it is
/// logged: it only means gc will leave that image.
pub(crate) fn record_load(store: &Store, builder: &DockerHost, name: &str, config: &Digest) {
    let record = LoadRecord {
        builder: builder.to_string(),
        name: name.to_owned(),
        config: config.clone(),
    };
    let path = record_path(store, builder, config);
    let written = std::fs::create_dir_all(records_dir(store)).and_then(|()| {
        let bytes = serde_json::to_vec(&record).map_err(std::io::Error::other)?;
        plinth_oci::fs::write_atomic(&path, &bytes)
    });
    if let Err(e) = written {
        tracing::warn!(%name, %builder, "cannot record the loaded root (gc will leave it): {e}");
    }
}

/// Whether any loaded root is recorded (gc needs a docker client only then).
pub fn has_loaded_roots(store: &Store) -> bool {
    std::fs::read_dir(records_dir(store)).is_ok_and(|mut entries| entries.next().is_some())
}

/// What [`gc_loaded_roots`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadedRootsGc {
    /// Roots removed from their builder (or that would be, in a dry run): `builder: name`.
    pub removed: Vec<String>,
    /// Roots the store still keeps, left loaded.
    pub kept: usize,
    /// Roots that could not be removed, with the reason (a container uses the image, the
    /// builder did not answer); they are tried again by the next gc.
    pub left: Vec<String>,
}

/// Removes from their builders the roots plinth loaded whose config the store no longer keeps
/// (`gone` says which: after a gc, or what a dry run would remove), and forgets them. With
/// `dry_run`, reports what would be removed and changes nothing.
pub fn gc_loaded_roots(
    store: &Store,
    docker: &DockerCli,
    gone: &dyn Fn(&Digest) -> bool,
    dry_run: bool,
) -> Result<LoadedRootsGc> {
    let mut report = LoadedRootsGc::default();
    for (path, record) in read_records(store)? {
        if !gone(&record.config) {
            report.kept += 1;
            continue;
        }
        let shown = format!("{}: {}", record.builder, record.name);
        let builder: DockerHost = match record.builder.parse() {
            Ok(b) => b,
            Err(e) => {
                report.left.push(format!("{shown} ({e})"));
                continue;
            }
        };
        match loaded_image(docker, &builder, &record.name) {
            Ok(Some(id)) if id == record.config.to_string() => {
                if dry_run {
                    report.removed.push(shown);
                    continue;
                }
                match remove_image(docker, &builder, &record.name) {
                    Ok(()) => report.removed.push(shown),
                    Err(e) => {
                        report.left.push(format!("{shown} ({e})"));
                        continue;
                    }
                }
            }
            // Gone already, or the name now holds an image plinth did not load: forget it.
            Ok(_) => {}
            Err(e) => {
                report.left.push(format!("{shown} ({e})"));
                continue;
            }
        }
        if !dry_run {
            forget(&path)?;
        }
    }
    Ok(report)
}

fn read_records(store: &Store) -> Result<Vec<(PathBuf, LoadRecord)>> {
    let dir = records_dir(store);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("list", &dir)(e)),
    };
    let mut records = Vec::new();
    for entry in entries {
        let path = entry.map_err(Error::io("list", &dir))?.path();
        if path.extension().is_none_or(|e| e != "json") {
            continue; // a temp file of a write in progress
        }
        let bytes = std::fs::read(&path).map_err(Error::io("read", &path))?;
        match serde_json::from_slice(&bytes) {
            Ok(record) => records.push((path, record)),
            Err(e) => {
                tracing::warn!(path = %path.display(), "ignoring an unreadable loaded-root record: {e}")
            }
        }
    }
    records.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(records)
}

fn forget(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io("remove", path)(e)),
        _ => Ok(()),
    }
}

/// The image ID `name` has in `builder`, `None` when it has no such image.
fn loaded_image(docker: &DockerCli, builder: &DockerHost, name: &str) -> Result<Option<String>> {
    let mut cmd = docker.command(builder);
    cmd.args(["image", "inspect", "--format", "{{.Id}}", name]);
    let command = describe(&cmd);
    let out =
        run_with_timeout(&mut cmd, DOCKER_TIMEOUT).map_err(Error::io("run", docker.program()))?;
    if out.status.success() {
        return Ok(Some(String::from_utf8_lossy(&out.stdout).trim().to_owned()));
    }
    if String::from_utf8_lossy(&out.stderr)
        .to_ascii_lowercase()
        .contains("no such image")
    {
        return Ok(None);
    }
    Err(Error::Docker {
        command,
        status: out.status.to_string(),
        detail: tail(&out.stderr, 4),
    })
}

/// `docker image rm NAME`, never forced.
fn remove_image(docker: &DockerCli, builder: &DockerHost, name: &str) -> Result<()> {
    let mut cmd = docker.command(builder);
    cmd.args(["image", "rm", name]);
    let command = describe(&cmd);
    let out =
        run_with_timeout(&mut cmd, DOCKER_TIMEOUT).map_err(Error::io("run", docker.program()))?;
    if out.status.success() {
        return Ok(());
    }
    Err(Error::Docker {
        command,
        status: out.status.to_string(),
        detail: tail(&out.stderr, 4),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_one_file_per_root_and_builder_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert!(!has_loaded_roots(&store));
        let config = Digest::of(b"config");
        let name = format!("plinth-root:{}", config.hex());
        record_load(&store, &DockerHost::Local, &name, &config);
        record_load(&store, &DockerHost::Local, &name, &config);
        record_load(
            &store,
            &"tcp://10.0.0.2:2376".parse().unwrap(),
            &name,
            &config,
        );
        assert!(has_loaded_roots(&store));
        let records: Vec<LoadRecord> = read_records(&store)
            .unwrap()
            .into_iter()
            .map(|(_, r)| r)
            .collect();
        assert_eq!(records.len(), 2, "{records:?}");
        let mut builders: Vec<&str> = records.iter().map(|r| r.builder.as_str()).collect();
        builders.sort_unstable();
        assert_eq!(builders, ["local", "tcp://10.0.0.2:2376"]);
        assert!(records.iter().all(|r| r.name == name && r.config == config));
    }
}
