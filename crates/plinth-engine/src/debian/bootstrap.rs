//! Making a Debian root with `mmdebstrap` and storing it as a one-layer image.
//!
//! mmdebstrap is Debian's own bootstrapper: apt resolves and verifies everything (signatures,
//! index and package hashes), foreign architectures run through qemu/binfmt, and with
//! `SOURCE_DATE_EPOCH` set its output is bit-for-bit reproducible (Debian's reproducible-builds
//! team tests it). plinth adds what an image needs: the directory becomes a layer through the
//! engine's deterministic tar writer with mtimes clamped to the same epoch, and the `InRelease`
//! files apt actually used and every installed package version are recorded.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use plinth_oci::layer::{WriteOptions, store_dir_layer};
use plinth_oci::{Descriptor, History, ImageConfig, ImageManifest, Platform};
use plinth_recipe::DebianRoot;

use super::DebianContext;
use super::archive::{AptSource, ReleaseState, verify_in_release};
use crate::error::{Error, Result};

/// What a bootstrap produced: the image manifest and what it was made from.
pub(crate) struct Bootstrapped {
    pub(crate) manifest: Descriptor,
    pub(crate) archive: Vec<ReleaseState>,
    pub(crate) packages: BTreeMap<String, String>,
}

/// The `PATH` of Debian's official images.
const DEBIAN_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Label naming the Debian root an image starts from.
pub const DEBIAN_ROOT_LABEL: &str = "org.plinth.debian.root";
/// Label naming the archive state (`suite@sha256:… date` per source, `, `-separated).
pub const DEBIAN_ARCHIVE_LABEL: &str = "org.plinth.debian.archive";

/// `mmdebstrap --version`, part of the cache key: another bootstrapper may lay files out
/// differently.
pub(crate) fn mmdebstrap_version() -> Result<String> {
    let out = Command::new("mmdebstrap")
        .arg("--version")
        .output()
        .map_err(|e| Error::Bootstrap {
            root: "mmdebstrap".into(),
            platform: String::new(),
            reason: format!("cannot run `mmdebstrap` ({e}); install it with `apt-get install mmdebstrap` (and `arch-test` for arm64)"),
        })?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Bootstraps `root` for `platform` from `sources` into the store; `None` when the archive moved
/// away from the `checked` state meanwhile.
pub(crate) fn bootstrap(
    context: &DebianContext<'_>,
    root: &DebianRoot,
    platform: &Platform,
    sources: &[AptSource],
    checked: &[ReleaseState],
    work: &Path,
) -> Result<Option<Bootstrapped>> {
    let fail = |reason: String| Error::Bootstrap {
        root: root.address(),
        platform: platform.to_string(),
        reason,
    };
    // The newest archive date: the same archive state always gives the same epoch.
    let epoch = checked.iter().map(|s| s.date_epoch).max().unwrap_or(0);
    let rootfs = work.join("rootfs");
    let lists = work.join("lists");
    std::fs::create_dir_all(&lists).map_err(|e| Error::io("create", &lists, e))?;
    let keyring = &context.settings.keyring;
    let cmd = mmdebstrap_command(root, platform, sources, keyring, epoch, &rootfs, &lists)?;
    tracing::info!(root = %root, %platform, epoch, "bootstrapping a Debian root with mmdebstrap");
    run_mmdebstrap(cmd).map_err(fail)?;

    let archive = archive_used(sources, &lists, keyring, work, fail)?;
    if archive != checked {
        // Made from another state than the one checked (and with its epoch): not the root the
        // cache key names. The caller checks again and starts over.
        tracing::warn!(root = %root, %platform, "the archive changed during the bootstrap");
        return Ok(None);
    }

    // Root mode leaves the device nodes dpkg needed; an image's /dev is empty (the runtime
    // mounts its own), as in Debian's official images.
    empty_dir(&rootfs.join("dev"))?;
    let packages = installed_packages(&rootfs.join("var/lib/dpkg/status"))?;
    let manifest = store_root_image(context, root, platform, &rootfs, epoch, &archive)?;
    Ok(Some(Bootstrapped {
        manifest,
        archive,
        packages,
    }))
}

/// The mmdebstrap call making `root` in `rootfs` from `sources`, with apt's `InRelease` files
/// copied to `lists` for [`archive_used`].
fn mmdebstrap_command(
    root: &DebianRoot,
    platform: &Platform,
    sources: &[AptSource],
    keyring: &Path,
    epoch: u64,
    rootfs: &Path,
    lists: &Path,
) -> Result<Command> {
    // In a namespace of its own, so that a killed bootstrap leaves no mounts behind.
    let mut cmd = super::work::guarded_command("mmdebstrap");
    cmd.env("SOURCE_DATE_EPOCH", epoch.to_string())
        .arg(format!("--variant={}", root.variant()))
        .arg(format!("--architectures={}", debian_arch(platform)?))
        .arg(format!("--components={}", root.components().join(",")))
        .arg(format!("--keyring={}", keyring.display()))
        .arg(format!(
            "--customize-hook=cp \"$1\"/var/lib/apt/lists/*_InRelease '{}'/",
            lists.display()
        ));
    if !root.packages().is_empty() {
        cmd.arg(format!("--include={}", root.packages().join(",")));
    }
    cmd.arg(root.suite()).arg(rootfs);
    for s in sources {
        cmd.arg(format!(
            "deb [signed-by={}] {} {} {}",
            keyring.display(),
            s.uri,
            s.suite,
            root.components().join(" ")
        ));
    }
    Ok(cmd)
}

/// Runs mmdebstrap; a failure is the reason with the last lines it wrote.
fn run_mmdebstrap(mut cmd: Command) -> std::result::Result<(), String> {
    let out = cmd.output().map_err(|e| {
        format!("cannot run `mmdebstrap` ({e}); install it with `apt-get install mmdebstrap`")
    })?;
    if out.status.success() {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(15)..].join("\n");
    Err(format!("mmdebstrap exited with {}:\n{tail}", out.status))
}

/// The archive state apt actually used, from the `InRelease` files the bootstrap kept in
/// `lists`: the archive may have moved between the check and apt's own download, so what apt
/// used is verified again, the same way, and recorded instead of what was checked.
fn archive_used(
    sources: &[AptSource],
    lists: &Path,
    keyring: &Path,
    work: &Path,
    fail: impl Fn(String) -> Error,
) -> Result<Vec<ReleaseState>> {
    let mut archive = Vec::new();
    for s in sources {
        let name = list_file_name(s);
        let bytes = std::fs::read(lists.join(&name)).map_err(|_| {
            fail(format!(
                "apt kept no `{name}`: the bootstrap did not use `{} {}`",
                s.uri, s.suite
            ))
        })?;
        let url = format!("{}/dists/{}/InRelease", s.uri, s.suite);
        archive.push(verify_in_release(s, &url, &bytes, keyring, work)?);
    }
    Ok(archive)
}

/// Writes `rootfs` as one layer with an image config like Debian's official images (plus the
/// root's labels and history) and returns the stored manifest.
fn store_root_image(
    context: &DebianContext<'_>,
    root: &DebianRoot,
    platform: &Platform,
    rootfs: &Path,
    epoch: u64,
    archive: &[ReleaseState],
) -> Result<Descriptor> {
    let options = WriteOptions::new()
        .with_compression(context.compression)
        .with_source_date_epoch(Some(epoch));
    let layer = store_dir_layer(context.store, rootfs, &options)?;
    let mut config = root_config(root, platform, epoch, archive);
    config.rootfs.diff_ids.push(layer.diff_id.clone());
    let config = context
        .store
        .write_config(context.media_types.config(), &config)?;
    let layer = Descriptor::new(
        context.media_types.layer(layer.compression),
        layer.digest,
        layer.size,
    );
    let manifest = ImageManifest::new(context.media_types.manifest(), config, vec![layer]);
    Ok(context.store.write_manifest(&manifest)?)
}

/// The image config of a root (without its layer's diff_id): Debian's `PATH` and `bash`, the
/// root and archive labels, and a history line naming the mmdebstrap call.
fn root_config(
    root: &DebianRoot,
    platform: &Platform,
    epoch: u64,
    archive: &[ReleaseState],
) -> ImageConfig {
    let created = crate::time::rfc3339(epoch);
    let mut config = ImageConfig::for_platform(platform);
    config.created = Some(created.clone());
    config.set_env("PATH", DEBIAN_PATH);
    let runtime = config.runtime_mut();
    runtime.cmd = Some(vec!["bash".into()]);
    let labels = runtime.labels.get_or_insert_with(BTreeMap::new);
    labels.insert(DEBIAN_ROOT_LABEL.into(), root.address());
    labels.insert(DEBIAN_ARCHIVE_LABEL.into(), archive_label(archive));
    let include = if root.packages().is_empty() {
        String::new()
    } else {
        format!(" --include={}", root.packages().join(","))
    };
    config.history.push(History {
        created: Some(created),
        created_by: Some(format!(
            "mmdebstrap --variant={} --components={}{include} {} ({})",
            root.variant(),
            root.components().join(","),
            root.suite(),
            archive_label(archive)
        )),
        comment: Some("plinth: a root from Debian's archive".into()),
        ..History::default()
    });
    config
}

fn empty_dir(dir: &Path) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io("list", dir, e))?;
    for entry in entries {
        let path = entry.map_err(|e| Error::io("list", dir, e))?.path();
        let meta = std::fs::symlink_metadata(&path).map_err(|e| Error::io("inspect", &path, e))?;
        if meta.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        }
        .map_err(|e| Error::io("remove", &path, e))?;
    }
    Ok(())
}

/// `suite@sha256:… (date)` per source.
pub(crate) fn archive_label(archive: &[ReleaseState]) -> String {
    archive
        .iter()
        .map(|s| format!("{}@{} ({})", s.suite, s.in_release, s.date))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Debian's name for the platform's architecture.
fn debian_arch(platform: &Platform) -> Result<&'static str> {
    match (platform.os.as_str(), platform.architecture.as_str()) {
        ("linux", "amd64") => Ok("amd64"),
        ("linux", "arm64") => Ok("arm64"),
        _ => Err(Error::Image(format!(
            "Debian roots are made for linux/amd64 and linux/arm64, not {platform}"
        ))),
    }
}

/// The file name apt gives a source's `InRelease` in `/var/lib/apt/lists` (the URI without its
/// scheme, `/` as `_`).
fn list_file_name(source: &AptSource) -> String {
    let uri = source
        .uri
        .split_once("://")
        .map_or(source.uri.as_str(), |(_, r)| r);
    format!("{uri}/dists/{}/InRelease", source.suite).replace('/', "_")
}

/// `name[:arch]` → version of every installed package in a dpkg status file.
fn installed_packages(status: &Path) -> Result<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(status).map_err(|e| Error::io("read", status, e))?;
    let mut out = BTreeMap::new();
    for stanza in text.split("\n\n") {
        let field = |name: &str| {
            stanza.lines().find_map(|l| {
                l.strip_prefix(name)
                    .and_then(|r| r.strip_prefix(": "))
                    .map(str::trim)
            })
        };
        let (Some(name), Some(version)) = (field("Package"), field("Version")) else {
            continue;
        };
        if field("Status") != Some("install ok installed") {
            continue;
        }
        let key = match field("Architecture") {
            Some(arch) if arch != "all" => format!("{name}:{arch}"),
            _ => name.to_owned(),
        };
        out.insert(key, version.to_owned());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apt_list_names_and_dpkg_status() {
        let s = AptSource {
            uri: "http://deb.debian.org/debian".into(),
            suite: "bookworm-updates".into(),
        };
        assert_eq!(
            list_file_name(&s),
            "deb.debian.org_debian_dists_bookworm-updates_InRelease"
        );
        let dir = tempfile::tempdir().unwrap();
        let status = dir.path().join("status");
        std::fs::write(
            &status,
            "Package: bash\nStatus: install ok installed\nArchitecture: amd64\nVersion: 5.2.15-2+b7\n\n\
             Package: tzdata\nStatus: install ok installed\nArchitecture: all\nVersion: 2024a-0+deb12u1\n\n\
             Package: gone\nStatus: deinstall ok config-files\nArchitecture: amd64\nVersion: 1\n",
        )
        .unwrap();
        let got = installed_packages(&status).unwrap();
        assert_eq!(
            got.into_iter().collect::<Vec<_>>(),
            [
                ("bash:amd64".to_owned(), "5.2.15-2+b7".to_owned()),
                ("tzdata".to_owned(), "2024a-0+deb12u1".to_owned())
            ]
        );
    }
}
