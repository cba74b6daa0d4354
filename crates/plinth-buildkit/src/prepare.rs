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
//! - a zstd archive `ADD` extracts goes as the plain tar inside it (older BuildKit cannot read
//!   zstd and would copy the file instead);
//! - roots from OCI layouts and docker-archives are refused: builders only pull from registries.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use plinth_executor::UrlFetcher;
use plinth_oci::{Digest, ImageLocation};
use plinth_recipe::{
    Container, DirectorySource, FileMode, FileSource, FileTarget, ImageSource, Network, Op,
    RunMount, SourceKind,
};

use crate::error::{Error, Result};

/// Builders pull roots only from registries; a root made from Debian's archive or read from a
/// local file is refused with the way out.
fn check_root(index: usize, source: &plinth_recipe::ImageSource) -> Result<()> {
    match source.kind() {
        SourceKind::Image(ImageLocation::Registry(_)) => Ok(()),
        SourceKind::Debian(_) => Err(Error::Step {
            index,
            reason: format!(
                "the root `{}` is made from Debian's archive, which only the embedded engine does: \
                 build it with `--engine embedded`, or push a root built that way to a registry \
                 every builder can reach and use that address",
                source.address()
            ),
        }),
        SourceKind::Image(
            ImageLocation::OciLayout { .. } | ImageLocation::DockerArchive { .. },
        ) => Err(Error::Step {
            index,
            reason: format!(
                "the root image `{}` is a local file, and BuildKit builders pull only from registries: \
                     push it to a registry every builder can reach (`plinth copy {} docker://HOST/REPO:TAG`) \
                     and use that address",
                source.address(),
                source.address()
            ),
        }),
    }
}

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
            _ => {}
        }
        for (_, helper) in op.helpers() {
            fetch_into(helper, fetcher, fetched)?;
        }
    }
    Ok(())
}

pub(crate) struct Preparer<'a> {
    pub(crate) fetcher: &'a UrlFetcher,
    /// URL inputs already downloaded ([`fetch_urls`]); others are fetched on the way.
    pub(crate) fetched: &'a BTreeMap<String, Digest>,
    /// Roots the builder was handed ([`crate::roots::load_roots`]), by address: their `FROM`
    /// names the loaded image.
    pub(crate) loaded: &'a BTreeMap<String, crate::roots::LoadedRoot>,
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
            // Helper stages (copied, mounted, seeding a cache) are rewritten like the main one.
            let op = &op.try_map_helpers(|helper| self.rewrite(helper, out))?;
            let op = match op {
                Op::From { source } => match self.loaded.get(source.address()) {
                    Some(root) => Op::From {
                        source: ImageSource::parse(&root.local_name).map_err(Error::Recipe)?,
                    },
                    None => {
                        check_root(index, source)?;
                        op.clone()
                    }
                },
                Op::Exec {
                    argv,
                    network,
                    env,
                    mounts,
                } => {
                    let network = self.network(index, argv, *network, out);
                    let mut kept = Vec::with_capacity(mounts.len());
                    for mount in mounts {
                        kept.push(self.rewrite_mount(index, mount, out)?);
                    }
                    Op::Exec {
                        argv: argv.clone(),
                        network,
                        env: env.clone(),
                        mounts: kept,
                    }
                }
                Op::File {
                    path,
                    source,
                    owner,
                    mode,
                } => self.rewrite_file(index, path, source, owner, mode.as_ref(), out)?,
                Op::Directory {
                    path,
                    source,
                    owner,
                    mode,
                } => {
                    if let Some(symbolic @ FileMode::Symbolic(_)) = mode {
                        return Err(Error::Step {
                            index,
                            reason: format!(
                                "the symbolic `--chmod={}` needs Dockerfile frontend 1.14, newer than the one builders \
                                 here are known to have: build with `--engine embedded`, or give the mode in octal",
                                symbolic.flag_value()
                            ),
                        });
                    }
                    Op::Directory {
                        path: path.clone(),
                        source: self.rewrite_directory_source(source)?,
                        owner: owner.clone(),
                        mode: mode.clone(),
                    }
                }
                other => other.clone(),
            };
            ops.push(op);
        }
        Ok(container.with_ops(ops))
    }

    /// The network of a `RUN`: `none` and `host` dropped, with a warning, for builders whose
    /// frontend lacks `RUN --network`.
    fn network(
        &self,
        index: usize,
        argv: &[String],
        network: Network,
        out: &mut Prepared,
    ) -> Network {
        match network {
            Network::Disabled | Network::Host if !self.keep_network_none => {
                let flag = if network == Network::Host {
                    "host"
                } else {
                    "none"
                };
                out.warnings.push(format!(
                    "step #{}: this builder's Dockerfile frontend has no `RUN --network={flag}`, \
                     so `{}` runs with the build's network",
                    index + 1,
                    argv.join(" ")
                ));
                Network::Enabled
            }
            other => other,
        }
    }

    /// A file with its explicit name and mode (`COPY` would take the context entry's name and
    /// mode instead), a URL fetched here and copied from the context.
    fn rewrite_file(
        &self,
        index: usize,
        path: &str,
        source: &FileSource,
        owner: &Option<String>,
        mode: Option<&FileMode>,
        out: &mut Prepared,
    ) -> Result<Op> {
        let target = FileTarget::of(path, source, mode).map_err(|e| Error::Step {
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
                let file = self.link_download(&digest, source.file_name().as_deref())?;
                FileSource::HostFile(file)
            }
            FileSource::HostFile(_) | FileSource::Bytes(_) => source.clone(),
        };
        Ok(Op::File {
            path: target.path,
            source,
            owner: owner.clone(),
            mode: Some(FileMode::Octal(target.mode)),
        })
    }

    /// A stage's recipe rewritten like the main one; a zstd archive decompressed (see
    /// [`Self::plain_archive`]).
    fn rewrite_directory_source(&self, source: &DirectorySource) -> Result<DirectorySource> {
        Ok(match source {
            DirectorySource::HostArchive(archive) => {
                DirectorySource::HostArchive(self.plain_archive(archive)?)
            }
            // A helper container was rewritten with the op's other helpers.
            DirectorySource::Container { .. }
            | DirectorySource::Host(_)
            | DirectorySource::HostIgnoring { .. } => source.clone(),
        })
    }

    /// The archive as this builder extracts it: BuildKit before moby's zstd support (Debian's
    /// Docker 20.10) copies a zstd archive instead of extracting it, so a zstd one is handed
    /// over decompressed, as the plain tar inside, which every BuildKit extracts to the same
    /// tree. Other compressions go as they are.
    fn plain_archive(&self, archive: &Path) -> Result<PathBuf> {
        let kind = plinth_recipe::archive::sniff_archive(archive)
            .map_err(Error::io("read the archive", archive))?;
        if kind != Some(plinth_recipe::archive::ArchiveCompression::Zstd) {
            return Ok(archive.to_path_buf());
        }
        let name = Digest::of(archive.as_os_str().as_encoded_bytes())
            .hex()
            .to_owned();
        let dir = self.download_dir.join("archives");
        let plain = dir.join(format!("{name}.tar"));
        std::fs::create_dir_all(&dir).map_err(Error::io("create", &dir))?;
        let mut stream = plinth_recipe::archive::open_archive(archive)
            .map_err(Error::io("read the archive", archive))?;
        let mut temp =
            tempfile::NamedTempFile::new_in(&dir).map_err(Error::io("create a file in", &dir))?;
        std::io::copy(&mut stream, &mut temp).map_err(Error::io("decompress", archive))?;
        temp.persist(&plain)
            .map_err(|e| Error::io("write", &plain)(e.error))?;
        Ok(plain)
    }

    /// A mount as this builder can take it (a stage it shows was rewritten with the op's other
    /// helpers).
    fn rewrite_mount(
        &self,
        index: usize,
        mount: &RunMount,
        out: &mut Prepared,
    ) -> Result<RunMount> {
        match mount {
            // `env=` came with a later Dockerfile frontend than `RUN --network` did.
            RunMount::Secret(secret) if secret.env.is_some() && !self.keep_network_none => {
                Err(Error::Step {
                    index,
                    reason: format!(
                        "the secret `{}` is given as an env var (`env=`), which this builder's Dockerfile frontend \
                         cannot do: mount it as a file (`target=`) and read it there, or build with `--engine embedded`",
                        secret.id
                    ),
                })
            }
            // A size only limits the tmpfs: without it the step builds the same files.
            RunMount::Tmpfs {
                target,
                size: Some(_),
            } if !self.keep_network_none => {
                out.warnings.push(format!(
                    "step #{}: this builder's Dockerfile frontend has no tmpfs `size=`, so the tmpfs at `{target}` has the kernel's default size",
                    index + 1
                ));
                Ok(RunMount::Tmpfs {
                    target: target.clone(),
                    size: None,
                })
            }
            RunMount::Bind { .. }
            | RunMount::Tmpfs { .. }
            | RunMount::Secret(_)
            | RunMount::Ssh(_) => Ok(mount.clone()),
        }
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
            loaded: &BTreeMap::new(),
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
            matches!(&ops[1], Op::File { path, mode: Some(FileMode::Octal(0o644)), .. } if path == "/etc/hello.txt")
        );
        assert!(matches!(
            &ops[2],
            Op::File {
                mode: Some(FileMode::Octal(0o644)),
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
