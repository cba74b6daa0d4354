//! docker-archive: plinth writes what skopeo (and `docker load`) read, and reads what
//! skopeo, legacy `docker save` and Docker 25+ write.

#![allow(clippy::print_stderr)]

mod store_support;

use std::io::Read;
use std::path::Path;
use std::process::Command;

use plinth_oci::docker_archive::{
    ExistingFile, ExportImage, read_docker_archive, write_docker_archive_file,
};
use plinth_oci::layout::OciLayout;
use plinth_oci::store::Store;
use plinth_oci::{
    Descriptor, Digest, Error, ImageConfig, ManifestDocument, MediaType, Platform, Reference,
};
use store_support::{count_files, gzip, layer_tar, run, skopeo, store_image, store_index};

fn manifest_of(store: &Store, d: &Descriptor) -> plinth_oci::ImageManifest {
    match store.read_document(d).unwrap() {
        ManifestDocument::Image(m) => m,
        ManifestDocument::Index(_) => panic!("expected a manifest"),
    }
}

fn config_of(store: &Store, d: &Descriptor) -> ImageConfig {
    ImageConfig::parse(
        &store
            .read_blob(&manifest_of(store, d).config.digest)
            .unwrap(),
    )
    .unwrap()
}

/// (name, mtime, uid, data) of every entry.
fn tar_entries(path: &Path) -> Vec<(String, u64, u64, Vec<u8>)> {
    let mut archive = tar::Archive::new(std::fs::File::open(path).unwrap());
    archive
        .entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            let h = e.header();
            (
                e.path().unwrap().to_string_lossy().into_owned(),
                h.mtime().unwrap(),
                h.uid().unwrap(),
                data,
            )
        })
        .collect()
}

fn busybox_ref() -> Reference {
    "busybox:latest".parse().unwrap()
}

#[test]
fn writes_a_deterministic_archive_that_skopeo_reads() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("store")).unwrap();
    let image = store_image(&store, &Platform::linux_amd64(), "hello\n", true);
    let config = config_of(&store, &image);
    let export = [ExportImage::new(image.clone()).with_repo_tag(busybox_ref())];
    let a = dir.path().join("a.tar");
    let b = dir.path().join("b.tar");
    write_docker_archive_file(&store, &export, &a, ExistingFile::Refuse).unwrap();
    write_docker_archive_file(&store, &export, &b, ExistingFile::Refuse).unwrap();
    assert_eq!(
        std::fs::read(&a).unwrap(),
        std::fs::read(&b).unwrap(),
        "same image, same archive bytes"
    );

    let entries = tar_entries(&a);
    let names: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    let config_digest = manifest_of(&store, &image).config.digest;
    let mut expected: Vec<String> = config
        .rootfs
        .diff_ids
        .iter()
        .map(|d| format!("{}.tar", d.hex()))
        .collect();
    expected.push(format!("{}.json", config_digest.hex()));
    expected.push("manifest.json".to_owned());
    expected.sort();
    assert_eq!(names, expected);
    for (name, mtime, uid, data) in &entries {
        assert_eq!((*mtime, *uid), (0, 0), "{name}");
        if let Some(hex) = name.strip_suffix(".tar") {
            assert_eq!(
                Digest::of(data).hex(),
                hex,
                "layers are stored uncompressed under their diff_id"
            );
        }
    }
    let manifest: serde_json::Value = serde_json::from_slice(&entries.last().unwrap().3).unwrap();
    assert_eq!(
        manifest[0]["RepoTags"],
        serde_json::json!(["busybox:latest"])
    );
    assert_eq!(
        manifest[0]["Config"],
        format!("{}.json", config_digest.hex())
    );

    let inspect: serde_json::Value = serde_json::from_str(&run(skopeo(dir.path())
        .arg("inspect")
        .arg(format!("docker-archive:{}", a.display()))))
    .unwrap();
    assert_eq!(inspect["Architecture"], "amd64");
    let layers: Vec<String> = inspect["Layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().to_owned())
        .collect();
    let diff_ids: Vec<String> = config
        .rootfs
        .diff_ids
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(layers, diff_ids);
    assert_eq!(inspect["Env"], serde_json::json!(["PATH=/bin"]));

    let oci = dir.path().join("oci");
    run(skopeo(dir.path())
        .arg("copy")
        .arg(format!("docker-archive:{}", a.display()))
        .arg(format!("oci:{}:copied", oci.display())));
    let fresh = Store::open(dir.path().join("fresh")).unwrap();
    let copied = OciLayout::open(&oci)
        .unwrap()
        .import_to_store(&fresh, Some("copied"))
        .unwrap();
    // skopeo rewrites the config into OCI form; what matters survives.
    let theirs = config_of(&fresh, &copied);
    assert_eq!(theirs.rootfs.diff_ids, config.rootfs.diff_ids);
    assert_eq!(theirs.env(), config.env());
    assert_eq!(theirs.platform(), Platform::linux_amd64());
}

#[test]
fn reads_back_its_own_archives_and_skopeos() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("store")).unwrap();
    let image = store_image(&store, &Platform::linux_amd64(), "round trip\n", false);
    let config_digest = manifest_of(&store, &image).config.digest;
    let ours = dir.path().join("ours.tar");
    write_docker_archive_file(
        &store,
        &[ExportImage::new(image.clone()).with_repo_tag(busybox_ref())],
        &ours,
        ExistingFile::Refuse,
    )
    .unwrap();

    let fresh = Store::open(dir.path().join("fresh")).unwrap();
    let imported = read_docker_archive(&fresh, &ours).unwrap();
    assert_eq!(imported.len(), 1);
    assert_eq!(imported[0].repo_tags, ["busybox:latest"]);
    assert_eq!(imported[0].config.digest, config_digest);
    assert_eq!(imported[0].manifest.platform, Some(Platform::linux_amd64()));
    let manifest = manifest_of(&fresh, &imported[0].manifest);
    assert!(
        manifest
            .layers
            .iter()
            .all(|l| l.media_type == MediaType::OciLayerGzip)
    );
    // Recompression is deterministic and the archive carries the uncompressed tars, so the
    // re-exported archive is identical.
    let again = dir.path().join("again.tar");
    write_docker_archive_file(
        &fresh,
        &[ExportImage::new(imported[0].manifest.clone()).with_repo_tag(busybox_ref())],
        &again,
        ExistingFile::Refuse,
    )
    .unwrap();
    assert_eq!(
        std::fs::read(&ours).unwrap(),
        std::fs::read(&again).unwrap()
    );
    let twice = Store::open(dir.path().join("twice")).unwrap();
    assert_eq!(
        read_docker_archive(&twice, &again).unwrap()[0]
            .manifest
            .digest,
        imported[0].manifest.digest
    );

    // skopeo's docker-archive (with its legacy `<id>/layer.tar` symlinks).
    let layout = OciLayout::create(dir.path().join("layout")).unwrap();
    layout
        .export_from_store(&store, &image, Some("v1"))
        .unwrap();
    let theirs = dir.path().join("skopeo.tar");
    run(skopeo(dir.path())
        .arg("copy")
        .arg(format!("oci:{}:v1", layout.dir().display()))
        .arg(format!(
            "docker-archive:{}:example.com/team/image:1.0",
            theirs.display()
        )));
    let from_skopeo = read_docker_archive(&fresh, &theirs).unwrap();
    assert_eq!(from_skopeo[0].repo_tags, ["example.com/team/image:1.0"]);
    assert_eq!(from_skopeo[0].config.digest, config_digest);
    assert_eq!(
        from_skopeo[0].manifest.digest, imported[0].manifest.digest,
        "same layers, same config → same manifest"
    );
}

/// Hand-builds a tar from (name, content) and (name, symlink target).
fn build_tar(path: &Path, files: &[(String, Vec<u8>)], links: &[(&str, String)]) {
    let mut builder = tar::Builder::new(std::fs::File::create(path).unwrap());
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        builder.append_data(&mut h, name, data.as_slice()).unwrap();
    }
    for (name, target) in links {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        h.set_mode(0o777);
        builder.append_link(&mut h, name, target).unwrap();
    }
    builder.finish().unwrap();
}

#[test]
fn reads_the_docker_25_layout_with_compressed_and_linked_layers() {
    let dir = tempfile::tempdir().unwrap();
    let busybox = std::fs::read(store_support::BUSYBOX).unwrap();
    let tar1 = layer_tar(
        &[("bin/busybox", 0o755, &busybox)],
        &[("bin/sh", "busybox")],
    );
    let tar2 = layer_tar(&[("etc/motd", 0o644, b"docker 25\n")], &[]);
    let (d1, d2) = (Digest::of(&tar1), Digest::of(&tar2));
    let mut config = ImageConfig::for_platform(&Platform::linux_arm64());
    config.rootfs.diff_ids = vec![d1.clone(), d2.clone()];
    let (config_bytes, config_digest) = config.to_canonical().unwrap();
    let gz1 = gzip(&tar1);
    let manifest = serde_json::json!([{
        "Config": format!("blobs/sha256/{}", config_digest.hex()),
        "RepoTags": null,
        "Layers": [format!("blobs/sha256/{}", Digest::of(&gz1).hex()), "legacy/layer.tar"],
    }]);
    let archive = dir.path().join("docker25.tar");
    build_tar(
        &archive,
        &[
            (
                "oci-layout".into(),
                br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
            ),
            (
                format!("blobs/sha256/{}", config_digest.hex()),
                config_bytes,
            ),
            (
                format!("blobs/sha256/{}", Digest::of(&gz1).hex()),
                gz1.clone(),
            ),
            (format!("blobs/sha256/{}", d2.hex()), tar2),
            (
                "index.json".into(),
                br#"{"schemaVersion":2,"manifests":[]}"#.to_vec(),
            ),
            (
                "manifest.json".into(),
                serde_json::to_vec(&manifest).unwrap(),
            ),
        ],
        &[("legacy/layer.tar", format!("../blobs/sha256/{}", d2.hex()))],
    );
    let store = Store::open(dir.path().join("store")).unwrap();
    let imported = read_docker_archive(&store, &archive).unwrap();
    assert!(imported[0].repo_tags.is_empty());
    assert_eq!(imported[0].config.digest, config_digest);
    assert_eq!(imported[0].manifest.platform, Some(Platform::linux_arm64()));
    let layers = manifest_of(&store, &imported[0].manifest).layers;
    let mut unpacked = Vec::new();
    flate2::read::GzDecoder::new(store.open_blob(&layers[1].digest).unwrap())
        .read_to_end(&mut unpacked)
        .unwrap();
    assert_eq!(Digest::of(&unpacked), d2);
}

#[test]
fn rejects_archives_whose_layers_do_not_match_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let tar1 = layer_tar(&[("etc/motd", 0o644, b"real\n")], &[]);
    let mut config = ImageConfig::for_platform(&Platform::linux_amd64());
    config.rootfs.diff_ids = vec![Digest::of(b"something else")];
    let (config_bytes, config_digest) = config.to_canonical().unwrap();
    let manifest =
        serde_json::json!([{"Config": "c.json", "RepoTags": ["x:1"], "Layers": ["l.tar"]}]);
    let archive = dir.path().join("bad.tar");
    build_tar(
        &archive,
        &[
            ("c.json".into(), config_bytes),
            ("l.tar".into(), tar1),
            (
                "manifest.json".into(),
                serde_json::to_vec(&manifest).unwrap(),
            ),
        ],
        &[],
    );
    let store = Store::open(dir.path().join("store")).unwrap();
    let err = read_docker_archive(&store, &archive)
        .unwrap_err()
        .to_string();
    assert!(err.contains("diff_id"), "{err}");
    assert_eq!(count_files(&store.root().join("tmp")), 0);
    let garbage = store
        .gc(&plinth_oci::store::GcOptions::immediate())
        .unwrap();
    // The config is stored after its layers (a rewritten import changes it), so a layer
    // refused leaves nothing behind.
    assert_eq!(
        garbage.blobs_removed, 0,
        "nothing was stored, not even the config {config_digest}: {:?}",
        garbage.removed
    );

    let missing = dir.path().join("missing.tar");
    build_tar(
        &missing,
        &[(
            "manifest.json".into(),
            serde_json::to_vec(&manifest).unwrap(),
        )],
        &[],
    );
    let err = read_docker_archive(&store, &missing)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`c.json` is listed in manifest.json but missing"),
        "{err}"
    );
    let escape = dir.path().join("escape.tar");
    build_tar(
        &escape,
        &[(
            "manifest.json".into(),
            serde_json::to_vec(&manifest).unwrap(),
        )],
        &[("c.json", "../../etc/passwd".into())],
    );
    let err = read_docker_archive(&store, &escape)
        .unwrap_err()
        .to_string();
    assert!(err.contains("outside the archive"), "{err}");
}

#[test]
fn exporting_an_index_takes_one_platform() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("store")).unwrap();
    let index = store_index(&store, &[Platform::linux_amd64(), Platform::linux_arm64()]);
    let arm = dir.path().join("arm.tar");
    write_docker_archive_file(
        &store,
        &[ExportImage::new(index.clone()).with_platform(Platform::linux_arm64())],
        &arm,
        ExistingFile::Refuse,
    )
    .unwrap();
    let inspect: serde_json::Value = serde_json::from_str(&run(skopeo(dir.path())
        .arg("inspect")
        .arg(format!("docker-archive:{}", arm.display()))))
    .unwrap();
    assert_eq!(inspect["Architecture"], "arm64");

    let err = write_docker_archive_file(
        &store,
        &[ExportImage::new(index.clone()).with_platform("linux/s390x".parse().unwrap())],
        &dir.path().join("x.tar"),
        ExistingFile::Refuse,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("linux/s390x") && err.contains("linux/amd64, linux/arm64"),
        "{err}"
    );
    assert!(!dir.path().join("x.tar").exists());
    let digest_ref: Reference = format!("busybox@{}", index.digest).parse().unwrap();
    let err = write_docker_archive_file(
        &store,
        &[ExportImage::new(index).with_repo_tag(digest_ref)],
        &dir.path().join("y.tar"),
        ExistingFile::Refuse,
    )
    .unwrap_err();
    assert!(matches!(err, Error::InvalidReference { .. }), "{err}");
}

/// `docker load` of our archive, and our reader on `docker save`. Runs when `PLINTH_TEST_DOCKER=1`
/// (CI); there a missing dockerd fails the test.
#[test]
fn docker_loads_our_archive_and_we_read_docker_save() {
    if std::env::var("PLINTH_TEST_DOCKER").as_deref() != Ok("1") {
        eprintln!(
            "skipped: set PLINTH_TEST_DOCKER=1 with a reachable dockerd to run the docker load/save test"
        );
        return;
    }
    let ok = Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        ok,
        "PLINTH_TEST_DOCKER=1 but `docker version` cannot reach a daemon"
    );
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("store")).unwrap();
    let image = store_image(&store, &Platform::host(), "loaded by docker\n", false);
    let config_digest = manifest_of(&store, &image).config.digest;
    let name = format!("plinth-test/archive:{}", &config_digest.hex()[..12]);
    let archive = dir.path().join("load.tar");
    write_docker_archive_file(
        &store,
        &[ExportImage::new(image).with_repo_tag(name.parse().unwrap())],
        &archive,
        ExistingFile::Refuse,
    )
    .unwrap();
    run(Command::new("docker").arg("load").arg("-i").arg(&archive));
    let id = run(Command::new("docker").args(["image", "inspect", "--format", "{{.Id}}", &name]));
    assert_eq!(id.trim(), config_digest.to_string());
    let motd = run(Command::new("docker").args([
        "run",
        "--rm",
        "--network",
        "none",
        &name,
        "/bin/busybox",
        "cat",
        "/etc/motd",
    ]));
    assert_eq!(motd, "loaded by docker\n");
    let saved = dir.path().join("saved.tar");
    run(Command::new("docker")
        .args(["save", "-o"])
        .arg(&saved)
        .arg(&name));
    let fresh = Store::open(dir.path().join("fresh")).unwrap();
    let imported = read_docker_archive(&fresh, &saved).unwrap();
    assert_eq!(imported[0].config.digest, config_digest);
    run(Command::new("docker").args(["image", "rm", &name]));
}
