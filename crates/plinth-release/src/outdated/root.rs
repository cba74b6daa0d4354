//! The root image of a recipe: whether its tag moved away from the pinned digest (per
//! platform), and which Debian suite it runs (its `/etc/os-release`, read from its layers).

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;

use plinth_oci::{Digest, ManifestDocument, Platform, Reference};
use plinth_registry::{Client, NoTransferReporter};
use serde::Serialize;

use crate::error::{Error, Result};

/// One platform's manifest under the pinned digest and under the tag now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PlatformDigests {
    /// The platform.
    pub platform: String,
    /// Its manifest under the pinned digest.
    pub pinned: Option<Digest>,
    /// Its manifest under the tag now.
    pub current: Option<Digest>,
}

/// Whether a pinned root's tag still points where the pin does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RootTagStatus {
    /// The root as the recipe writes it.
    pub address: String,
    /// The tag.
    pub tag: String,
    /// The pinned digest.
    pub pinned: Digest,
    /// The digest the tag points to now.
    pub current: Digest,
    /// Per platform of the recipe.
    pub platforms: Vec<PlatformDigests>,
}

impl RootTagStatus {
    /// Whether the tag points elsewhere now.
    pub fn moved(&self) -> bool {
        self.pinned != self.current
    }
}

/// Compares the pinned digest of `root` (which has a tag and a digest) with its tag's digest now.
pub async fn root_tag_status(
    client: &Client,
    root: &Reference,
    platforms: &[Platform],
) -> Result<Option<RootTagStatus>> {
    let (Some(tag), Some(pinned)) = (root.tag(), root.digest()) else {
        return Ok(None);
    };
    let by_tag = root
        .repository_only()
        .with_tag(tag)
        .map_err(|e| Error::RootSuite {
            image: root.to_string(),
            reason: e.to_string(),
        })?;
    let err = |what: &Reference| {
        let what = what.to_string();
        move |source| Error::RootImage {
            image: what,
            source: Box::new(source),
        }
    };
    let now = client.get_manifest(&by_tag).await.map_err(err(&by_tag))?;
    let then = client.get_manifest(root).await.map_err(err(root))?;
    let per_platform = |m: &plinth_registry::FetchedManifest| -> Result<BTreeMap<String, Digest>> {
        let document = m.document().map_err(err(root))?;
        Ok(match document {
            ManifestDocument::Index(index) => platforms
                .iter()
                .filter_map(|p| {
                    index
                        .find_platform(p)
                        .map(|d| (p.to_string(), d.digest.clone()))
                })
                .collect(),
            ManifestDocument::Image(_) => platforms
                .iter()
                .map(|p| (p.to_string(), m.digest.clone()))
                .collect(),
        })
    };
    let (old, new) = (per_platform(&then)?, per_platform(&now)?);
    Ok(Some(RootTagStatus {
        address: root.to_string(),
        tag: tag.to_owned(),
        pinned: pinned.clone(),
        current: now.digest.clone(),
        platforms: platforms
            .iter()
            .map(|p| PlatformDigests {
                platform: p.to_string(),
                pinned: old.get(&p.to_string()).cloned(),
                current: new.get(&p.to_string()).cloned(),
            })
            .collect(),
    }))
}

/// The `os-release` fields of `root` for `platform` (pulled into the client's store), read from
/// its layers: `/etc/os-release`, following its usual symlink to `/usr/lib/os-release`.
pub async fn os_release(
    client: &Client,
    root: &Reference,
    platform: &Platform,
) -> Result<BTreeMap<String, String>> {
    let err = |source| Error::RootImage {
        image: root.to_string(),
        source: Box::new(source),
    };
    let top = client
        .pull_image(
            root,
            std::slice::from_ref(platform),
            Arc::new(NoTransferReporter),
        )
        .await
        .map_err(err)?;
    let store = client.store();
    let unreadable = |e: plinth_oci::Error| Error::RootSuite {
        image: root.to_string(),
        reason: format!("its content in the local store is unreadable: {e}"),
    };
    let read_doc = |digest: &Digest| -> Result<ManifestDocument> {
        let bytes = store.read_blob(digest).map_err(unreadable)?;
        ManifestDocument::parse(&bytes, None).map_err(unreadable)
    };
    let manifest = match read_doc(&top)? {
        ManifestDocument::Image(m) => m,
        ManifestDocument::Index(index) => {
            let d = index
                .find_platform(platform)
                .ok_or_else(|| Error::RootSuite {
                    image: root.to_string(),
                    reason: format!("it has no {platform} image"),
                })?;
            match read_doc(&d.digest)? {
                ManifestDocument::Image(m) => m,
                ManifestDocument::Index(_) => {
                    return Err(Error::RootSuite {
                        image: root.to_string(),
                        reason: "its index points to another index".to_owned(),
                    });
                }
            }
        }
    };
    let mut files: BTreeMap<String, Entry> = BTreeMap::new();
    for layer in &manifest.layers {
        let blob = store.open_blob(&layer.digest).map_err(unreadable)?;
        let layer_error = |e: std::io::Error| Error::RootSuite {
            image: root.to_string(),
            reason: format!("cannot read layer {}: {e}", layer.digest),
        };
        let decoded: Box<dyn Read> = match layer.media_type.layer_compression() {
            Some(plinth_oci::layer::Compression::Zstd) => {
                Box::new(zstd::stream::read::Decoder::new(blob).map_err(layer_error)?)
            }
            Some(plinth_oci::layer::Compression::None) => Box::new(blob),
            _ => Box::new(flate2::read::MultiGzDecoder::new(blob)),
        };
        scan_layer(decoded, &mut files).map_err(layer_error)?;
    }
    let text = resolve(&files, "etc/os-release")
        .or_else(|| resolve(&files, "usr/lib/os-release"))
        .ok_or_else(|| Error::RootSuite {
            image: root.to_string(),
            reason: "it has neither /etc/os-release nor /usr/lib/os-release".to_owned(),
        })?;
    Ok(parse_os_release(&text))
}

#[derive(Clone, Debug)]
enum Entry {
    File(String),
    Symlink(String),
}

const WANTED: [&str; 2] = ["etc/os-release", "usr/lib/os-release"];

/// Records the wanted entries of one layer (later layers replace earlier ones; whiteouts remove).
fn scan_layer(reader: impl Read, files: &mut BTreeMap<String, Entry>) -> std::io::Result<()> {
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = entry
            .path()?
            .to_string_lossy()
            .trim_start_matches("./")
            .trim_start_matches('/')
            .to_owned();
        if let Some((dir, name)) = path.rsplit_once('/')
            && let Some(hidden) = name.strip_prefix(".wh.")
        {
            files.remove(&format!("{dir}/{hidden}"));
            continue;
        }
        if !WANTED.contains(&path.as_str()) {
            continue;
        }
        if entry.header().entry_type().is_symlink() {
            let target = entry
                .link_name()?
                .map(|t| t.to_string_lossy().into_owned())
                .unwrap_or_default();
            files.insert(path, Entry::Symlink(target));
        } else if entry.header().entry_type().is_file() {
            let mut text = String::new();
            entry.read_to_string(&mut text)?;
            files.insert(path, Entry::File(text));
        }
    }
    Ok(())
}

/// The text at `path`, following at most a few symlinks (relative to the link's directory, or
/// absolute).
fn resolve(files: &BTreeMap<String, Entry>, path: &str) -> Option<String> {
    let mut path = path.to_owned();
    for _ in 0..4 {
        match files.get(&path)? {
            Entry::File(text) => return Some(text.clone()),
            Entry::Symlink(target) => {
                let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
                let joined = if target.starts_with('/') {
                    target.clone()
                } else {
                    format!("/{dir}/{target}")
                };
                path = plinth_recipe::state::normalize_path(&joined)
                    .trim_start_matches('/')
                    .to_owned();
            }
        }
    }
    None
}

/// `KEY=value` lines, quotes removed.
pub fn parse_os_release(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            (
                k.trim().to_owned(),
                v.trim().trim_matches('"').trim_matches('\'').to_owned(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_release_follows_the_debian_symlink_and_whiteouts() {
        let mut files = BTreeMap::new();
        files.insert(
            "etc/os-release".to_owned(),
            Entry::Symlink("../usr/lib/os-release".to_owned()),
        );
        files.insert(
            "usr/lib/os-release".to_owned(),
            Entry::File("ID=debian\nVERSION_CODENAME=bookworm\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n".to_owned()),
        );
        let fields = parse_os_release(&resolve(&files, "etc/os-release").unwrap());
        assert_eq!(fields["VERSION_CODENAME"], "bookworm");
        assert_eq!(fields["PRETTY_NAME"], "Debian GNU/Linux 12 (bookworm)");

        let mut layer = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(0);
        header.set_entry_type(tar::EntryType::Regular);
        layer
            .append_data(&mut header, "usr/lib/.wh.os-release", &[][..])
            .unwrap();
        scan_layer(&layer.into_inner().unwrap()[..], &mut files).unwrap();
        assert!(resolve(&files, "etc/os-release").is_none());
    }
}
