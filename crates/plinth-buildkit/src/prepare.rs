//! Rewrites a recipe into what BuildKit can build without external frontends or network
//! fetches, with the embedded engine's meaning kept:
//!
//! - URL inputs are fetched here by the embedded engine's [`UrlFetcher`] (pinned ones verified and
//!   reused from the store offline, `--url-mirror`s applied, the last copy of an unpinned URL used
//!   when it cannot be fetched) and become host files `COPY`'d from the context, so no
//!   `ADD --checksum` (which needs the `docker/dockerfile:1.6` frontend image) and no download
//!   inside the builder;
//! - every file gets its explicit destination and mode from [`FileTarget`] (the rules the
//!   embedded engine applies too: a destination ending in `/` gets the source's name, `0600` for
//!   downloads, `0644` for host files and bytes), since `COPY` would take the context entry's
//!   name and mode instead;
//! - `RUN --network=none` is dropped for builders whose built-in frontend lacks it, with a warning;
//! - roots from OCI layouts and docker-archives are refused: builders only pull from registries.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use plinth_executor::UrlFetcher;
use plinth_oci::{Digest, ImageLocation};
use plinth_recipe::{Container, DirectorySource, FileSource, FileTarget, Network, Op, SourceKind};

use crate::error::{Error, Result};

/// A recipe ready for the buildable renderer.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub(crate) container: Container,
    pub(crate) warnings: Vec<String>,
    pub(crate) url_inputs: BTreeMap<String, Digest>,
}

/// Fetches every URL input of `container` (helpers included) once, for all platforms.
pub(crate) fn fetch_urls(
    container: &Container,
    fetcher: &UrlFetcher,
) -> Result<BTreeMap<String, Digest>> {
    let mut fetched = BTreeMap::new();
    fetch_into(container, fetcher, &mut fetched)?;
    Ok(fetched)
}

/// `url` through the engine's fetcher, its error in this crate's type.
fn fetch_url(fetcher: &UrlFetcher, url: &str, pin: Option<&Digest>) -> Result<Digest> {
    fetcher.fetch(url, pin).map_err(Error::from)
}

fn fetch_into(
    container: &Container,
    fetcher: &UrlFetcher,
    fetched: &mut BTreeMap<String, Digest>,
) -> Result<()> {
    for op in container.ops() {
        match op {
            Op::File {
                source: FileSource::Url { url, sha256 },
                ..
            } if !fetched.contains_key(url) => {
                let digest = fetch_url(fetcher, url, sha256.as_ref())?;
                fetched.insert(url.clone(), digest);
            }
            Op::Directory {
                source: DirectorySource::Container { container, .. },
                ..
            } => fetch_into(container, fetcher, fetched)?,
            _ => {}
        }
    }
    Ok(())
}

pub(crate) struct Preparer<'a> {
    pub(crate) fetcher: &'a UrlFetcher,
    /// URL inputs already downloaded ([`fetch_urls`]); others are fetched on the way.
    pub(crate) fetched: &'a BTreeMap<String, Digest>,
    /// Where downloads are linked for the context (under the build's work dir).
    pub(crate) download_dir: &'a Path,
    pub(crate) keep_network_none: bool,
}

impl Preparer<'_> {
    pub(crate) fn prepare(&self, container: &Container) -> Result<Prepared> {
        let mut out = Prepared {
            container: Container::new(),
            warnings: Vec::new(),
            url_inputs: BTreeMap::new(),
        };
        out.container = self.rewrite(container, &mut out)?;
        Ok(out)
    }

    fn rewrite(&self, container: &Container, out: &mut Prepared) -> Result<Container> {
        let mut ops = Vec::with_capacity(container.ops().len());
        for (index, op) in container.ops().iter().enumerate() {
            let op = match op {
                Op::From { source } => match source.kind() {
                    SourceKind::Image(ImageLocation::Registry(_)) => op.clone(),
                    SourceKind::Debian(_) => {
                        return Err(Error::Step {
                            index,
                            reason: format!(
                                "the root `{}` is made from Debian's archive, which only the embedded engine does: \
                                 build it with `--engine embedded`, or push a root built that way to a registry \
                                 every builder can reach and use that address",
                                source.address()
                            ),
                        });
                    }
                    SourceKind::Image(
                        ImageLocation::OciLayout { .. } | ImageLocation::DockerArchive { .. },
                    ) => {
                        return Err(Error::Step {
                            index,
                            reason: format!(
                                "the root image `{}` is a local file, and BuildKit builders pull only from registries: \
                                 push it to a registry every builder can reach (`plinth copy {} docker://HOST/REPO:TAG`) \
                                 and use that address",
                                source.address(),
                                source.address()
                            ),
                        });
                    }
                },
                Op::Exec { argv, network, env }
                    if *network == Network::Disabled && !self.keep_network_none =>
                {
                    out.warnings.push(format!(
                        "step #{}: this builder's Dockerfile frontend has no `RUN --network=none`, \
                         so `{}` runs with the network",
                        index + 1,
                        argv.join(" ")
                    ));
                    Op::Exec {
                        argv: argv.clone(),
                        network: Network::Enabled,
                        env: env.clone(),
                    }
                }
                Op::File {
                    path,
                    source,
                    owner,
                    mode,
                } => {
                    // Name and mode made explicit here: `COPY` would take the context entry's
                    // name and mode instead.
                    let target = FileTarget::of(path, source, *mode).map_err(|e| Error::Step {
                        index,
                        reason: e.to_string(),
                    })?;
                    let source = match source {
                        FileSource::Url { url, sha256 } => {
                            let digest = match self.fetched.get(url) {
                                Some(d) => d.clone(),
                                None => fetch_url(self.fetcher, url, sha256.as_ref())?,
                            };
                            out.url_inputs.insert(url.clone(), digest.clone());
                            let file =
                                self.link_download(&digest, source.file_name().as_deref())?;
                            FileSource::HostFile(file)
                        }
                        FileSource::HostFile(_) | FileSource::Bytes(_) => source.clone(),
                    };
                    Op::File {
                        path: target.path,
                        source,
                        owner: owner.clone(),
                        mode: Some(target.mode),
                    }
                }
                Op::Directory {
                    path,
                    source:
                        DirectorySource::Container {
                            container,
                            path: from,
                        },
                    owner,
                    mode,
                } => Op::Directory {
                    path: path.clone(),
                    source: DirectorySource::Container {
                        container: Box::new(self.rewrite(container, out)?),
                        path: from.clone(),
                    },
                    owner: owner.clone(),
                    mode: *mode,
                },
                Op::Directory {
                    source: DirectorySource::HostArchive(archive),
                    ..
                } if plinth_recipe::archive::sniff_archive(archive)
                    .ok()
                    .flatten()
                    == Some(plinth_recipe::archive::ArchiveCompression::Zstd) =>
                {
                    // BuildKit before moby's zstd support (Debian's 20.10) copies such a file
                    // without extracting it: a silent difference, so it is refused.
                    return Err(Error::Step {
                        index,
                        reason: format!(
                            "`{}` is a zstd archive, which the BuildKit of Debian's docker copies instead of extracting: \
                             recompress it with gzip or xz, or build with `--engine embedded`",
                            archive.display()
                        ),
                    });
                }
                other => other.clone(),
            };
            ops.push(op);
        }
        Ok(Container::from_ops(ops))
    }

    /// A copy of the downloaded blob named like the URL, for the context.
    fn link_download(&self, digest: &Digest, name: Option<&str>) -> Result<PathBuf> {
        let dir = self.download_dir.join(digest.hex());
        let file = dir.join(name.filter(|n| !n.is_empty()).unwrap_or("download"));
        if !file.exists() {
            std::fs::create_dir_all(&dir).map_err(Error::io("create", &dir))?;
            let blob = self.fetcher.store().blob_path(digest);
            std::fs::copy(&blob, &file).map_err(Error::io("copy a download to", &file))?;
        }
        Ok(file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_get_modes_and_names_and_network_is_dropped_with_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        let store = plinth_oci::Store::open(dir.path().join("s")).unwrap();
        let fetcher = UrlFetcher::new(&store, Vec::new());
        let preparer = Preparer {
            fetcher: &fetcher,
            fetched: &BTreeMap::new(),
            download_dir: &dir.path().join("dl"),
            keep_network_none: false,
        };
        let host = dir.path().join("hello.txt");
        std::fs::write(&host, "hi").unwrap();
        let c = Container::from_address("127.0.0.1:5000/bb:1")
            .unwrap()
            .with_file("/etc/", FileSource::HostFile(host.clone()))
            .with_file("/b", FileSource::Bytes(b"x".to_vec()))
            .with_exec_opts(["true"], plinth_recipe::ExecOptions::without_network());
        let p = preparer.prepare(&c).unwrap();
        assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
        let ops = p.container.ops();
        assert!(
            matches!(&ops[1], Op::File { path, mode: Some(0o644), .. } if path == "/etc/hello.txt")
        );
        assert!(matches!(
            &ops[2],
            Op::File {
                mode: Some(0o644),
                ..
            }
        ));
        assert!(matches!(
            &ops[3],
            Op::Exec {
                network: Network::Enabled,
                ..
            }
        ));

        let bad = Container::from_address("127.0.0.1:5000/bb:1")
            .unwrap()
            .with_file("/etc/", FileSource::Bytes(b"x".to_vec()));
        assert!(matches!(
            preparer.prepare(&bad),
            Err(Error::Step { index: 1, .. })
        ));
        let local = Container::from_address("oci:/nowhere:latest").unwrap();
        let err = preparer.prepare(&local).unwrap_err().to_string();
        assert!(err.contains("push it to a registry"), "{err}");
    }
}
