//! Test images built from the host's static busybox, written straight into a store.

#![allow(dead_code)]

use std::io::Write;
use std::path::Path;
use std::process::Command;

use plinth_oci::config::RuntimeConfig;
use plinth_oci::{
    Descriptor, Digest, ImageConfig, ImageIndex, ImageManifest, MediaType, Platform, Store,
};

/// Where the static busybox lives on the test machines (Debian's busybox-static).
pub const BUSYBOX: &str = "/bin/busybox";

/// A layer tar (uncompressed) holding `files` (path, mode, bytes) and `links` (path → target),
/// with fixed metadata.
pub fn layer_tar(files: &[(&str, u32, &[u8])], links: &[(&str, &str)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut dirs = std::collections::BTreeSet::new();
    for (path, _, _) in files
        .iter()
        .map(|f| (f.0, f.1, f.2))
        .chain(links.iter().map(|l| (l.0, 0, &[][..])))
    {
        if let Some((dir, _)) = path.rsplit_once('/') {
            dirs.insert(dir.to_owned());
        }
    }
    for dir in dirs {
        let mut h = tar::Header::new_ustar();
        h.set_path(format!("{dir}/")).unwrap();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o755);
        h.set_size(0);
        h.set_mtime(0);
        h.set_cksum();
        builder.append(&h, std::io::empty()).unwrap();
    }
    for (path, mode, bytes) in files {
        let mut h = tar::Header::new_ustar();
        h.set_path(path).unwrap();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(*mode);
        h.set_size(bytes.len() as u64);
        h.set_mtime(0);
        h.set_cksum();
        builder.append(&h, *bytes).unwrap();
    }
    for (path, target) in links {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_mode(0o777);
        h.set_size(0);
        h.set_mtime(0);
        builder.append_link(&mut h, path, target).unwrap();
    }
    builder.into_inner().unwrap()
}

/// gzip with fixed settings.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::new(6));
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// A small image: layer 1 = busybox + `/bin/sh` link (gzip), layer 2 = `/etc/motd` with
/// `motd` (uncompressed when `plain_second_layer`). Returns the manifest descriptor.
pub fn store_image(
    store: &Store,
    platform: &Platform,
    motd: &str,
    plain_second_layer: bool,
) -> Descriptor {
    let busybox = std::fs::read(BUSYBOX).expect("busybox-static must be installed at /bin/busybox");
    let tar1 = layer_tar(
        &[("bin/busybox", 0o755, &busybox)],
        &[("bin/sh", "busybox")],
    );
    let tar2 = layer_tar(&[("etc/motd", 0o644, motd.as_bytes())], &[]);
    let gz1 = gzip(&tar1);
    let l1 = Descriptor::new(
        MediaType::OciLayerGzip,
        store.write_blob(&gz1).unwrap(),
        gz1.len() as u64,
    );
    let l2 = if plain_second_layer {
        Descriptor::new(
            MediaType::OciLayer,
            store.write_blob(&tar2).unwrap(),
            tar2.len() as u64,
        )
    } else {
        let gz2 = gzip(&tar2);
        Descriptor::new(
            MediaType::OciLayerGzip,
            store.write_blob(&gz2).unwrap(),
            gz2.len() as u64,
        )
    };
    let mut config = ImageConfig::for_platform(platform);
    config.rootfs.diff_ids = vec![Digest::of(&tar1), Digest::of(&tar2)];
    config.config = Some(RuntimeConfig {
        cmd: Some(vec!["/bin/sh".into()]),
        env: Some(vec!["PATH=/bin".into()]),
        ..RuntimeConfig::default()
    });
    let config_desc = store.write_config(MediaType::OciConfig, &config).unwrap();
    store
        .write_manifest(&ImageManifest::new(
            MediaType::OciManifest,
            config_desc,
            vec![l1, l2],
        ))
        .unwrap()
}

/// An index over one image per platform.
pub fn store_index(store: &Store, platforms: &[Platform]) -> Descriptor {
    let manifests = platforms
        .iter()
        .map(|p| {
            store_image(store, p, &format!("hello from {p}\n"), false).with_platform(p.clone())
        })
        .collect();
    store
        .write_index(&ImageIndex::new(MediaType::OciIndex, manifests))
        .unwrap()
}

/// Runs a command, panicking with its output when it fails; returns stdout.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `skopeo` with flags that keep it off the network and away from the user's policy.
pub fn skopeo(dir: &Path) -> Command {
    let policy = dir.join("policy.json");
    std::fs::write(
        &policy,
        r#"{"default":[{"type":"insecureAcceptAnything"}]}"#,
    )
    .unwrap();
    let mut cmd = Command::new("skopeo");
    cmd.arg("--policy").arg(policy);
    cmd
}

/// Files in a directory (non-recursive).
pub fn count_files(dir: &Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}
