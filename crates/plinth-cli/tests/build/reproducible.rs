//! Reproducible by default: the same recipe built from two empty stores, with no
//! `SOURCE_DATE_EPOCH` set, gives the same index, manifest, config and layer digests.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use plinth_test::{External, TestContext, require_external};

use super::{build_amd64, busybox_layout, stdout_ok};

/// The Dockerfile and its context (one file to `COPY`) in `dir`, the file's mtime set to
/// `mtime` so the two builds see different host timestamps.
fn write_recipe(dir: &Path, root: &str, mtime: std::time::SystemTime) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let dockerfile = dir.join("Dockerfile");
    std::fs::write(
        &dockerfile,
        format!(
            "FROM {root}\n\
             COPY greeting.txt /srv/greeting.txt\n\
             RUN mkdir -p /srv/made && echo made > /srv/made/file && cp /srv/greeting.txt /srv/made/copy\n\
             ENV MADE=/srv/made\n"
        ),
    )
    .unwrap();
    let file = dir.join("greeting.txt");
    std::fs::write(&file, "hello\n").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&file)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    dockerfile
}

/// Every file of an OCI layout, path → bytes (`index.json`, `oci-layout`, each blob).
fn layout_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let name = path.strip_prefix(dir).unwrap().display().to_string();
                files.insert(name, std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

/// Builds the recipe from two empty stores with `engine_args`, the context file's mtime a day
/// apart and "now" a second apart; each build's printed digest and OCI layout files.
fn build_twice(engine_args: &[&str]) -> [(String, BTreeMap<String, Vec<u8>>); 2] {
    let first = TestContext::new();
    let second = TestContext::new();
    // One root layout for both, so only the build can differ.
    let root = busybox_layout(first.temp_dir());
    let day = std::time::Duration::from_secs(86_400);
    let contexts = [
        (&first, std::time::SystemTime::now()),
        (&second, std::time::SystemTime::now() - day),
    ];
    let mut outputs = Vec::new();
    for (i, (ctx, mtime)) in contexts.into_iter().enumerate() {
        let dockerfile = write_recipe(&ctx.temp_dir().join("recipe"), &root, mtime);
        let out = ctx.temp_dir().join("out");
        let mut cmd = build_amd64(ctx, &dockerfile);
        cmd.env_remove("SOURCE_DATE_EPOCH")
            .args(engine_args)
            .args(["--output", &format!("oci:{}:v1", out.display())]);
        let digest = stdout_ok(ctx, &mut cmd);
        outputs.push((digest, layout_files(&out)));
        if i == 0 {
            // The second build starts a second later, so "now" differs between them.
            std::thread::sleep(std::time::Duration::from_millis(1100));
        }
    }
    outputs.try_into().unwrap()
}

#[test]
fn two_builds_from_two_empty_stores_without_variables_give_the_same_digests() {
    if !require_external(External::Root) {
        return;
    }
    assert_reproduced(build_twice(&[]));
}

/// The daemon's BuildKit stamps wall-clock times into configs and keeps real mtimes in layers;
/// plinth rewrites its result on import, so `--engine buildkit` is reproducible too, also
/// without `--no-cache` on a daemon that built the recipe before.
#[test]
fn buildkit_builds_from_two_empty_stores_without_variables_give_the_same_digests() {
    if !require_external(External::Root) || !require_external(External::Docker) {
        return;
    }
    let cold = build_twice(&["--engine", "buildkit", "--no-cache"]);
    let cold_digest = cold[0].0.clone();
    assert_reproduced(cold);
    let warm = build_twice(&["--engine", "buildkit"]);
    assert_eq!(warm[0].0, cold_digest, "a build the daemon had cached");
}

fn assert_reproduced(outputs: [(String, BTreeMap<String, Vec<u8>>); 2]) {
    let (a, b) = (&outputs[0].1, &outputs[1].1);
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "the same blobs (index, manifest, config, layers)"
    );
    for (name, bytes) in a {
        assert!(
            bytes == &b[name],
            "`{name}` differs between the builds:\n{}\n{}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(4096)]),
            String::from_utf8_lossy(&b[name][..b[name].len().min(4096)])
        );
    }
    assert_eq!(outputs[0].0, outputs[1].0, "the printed digests");
    // The root's layer, the COPY's and the RUN's, a manifest and a config (the layout's
    // `index.json`, compared above, is the index).
    let blobs = a.keys().filter(|k| k.starts_with("blobs/sha256/")).count();
    assert_eq!(blobs, 5, "{:?}", a.keys().collect::<Vec<_>>());

    // The config's timestamps are the default epoch, 1970-01-01.
    let index: serde_json::Value = serde_json::from_slice(&a["index.json"]).unwrap();
    let blob = |digest: &serde_json::Value| -> serde_json::Value {
        let name = format!(
            "blobs/sha256/{}",
            digest.as_str().unwrap().trim_start_matches("sha256:")
        );
        serde_json::from_slice(&a[&name]).unwrap()
    };
    let mut manifest = blob(&index["manifests"][0]["digest"]);
    if manifest.get("manifests").is_some() {
        manifest = blob(&manifest["manifests"][0]["digest"]);
    }
    let config = blob(&manifest["config"]["digest"]);
    assert_eq!(config["created"], "1970-01-01T00:00:00Z", "{config}");
}
