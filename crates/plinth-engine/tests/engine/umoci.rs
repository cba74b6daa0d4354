//! Images made by umoci, the OCI reference tool: its layers name the root `/`, which is applied
//! as the root of the image, as containerd and docker apply it.

use std::path::Path;
use std::process::Command;

use plinth_engine::{BuildOptions, DiscardOutput, RunOptions};
use plinth_oci::Platform;
use plinth_recipe::Container;
use plinth_test::{External, require_external};

use crate::common::{TestEngine, busybox_rootfs, ok, require_root};

fn umoci(args: &[&str]) {
    let out = Command::new("umoci").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "umoci {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The names of a gzip layer's entries, as GNU tar lists them (without its leading-`/` rewrite).
fn layer_names(blob: &Path) -> Vec<String> {
    let out = Command::new("sh")
        .arg("-c")
        .arg(r#"gzip -dc "$1" | tar -t -P -f - 2>/dev/null; true"#)
        .arg("sh")
        .arg(blob)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn builds_from_an_image_made_by_umoci_insert() {
    if !require_root() {
        return;
    }
    require_external!(External::Tool("umoci"));
    let t = TestEngine::new(None);
    let rootfs = t.path("rootfs");
    busybox_rootfs(&rootfs, Path::new("/bin/busybox"));
    std::fs::write(rootfs.join("etc/marker"), "from the rootfs\n").unwrap();
    let extra = t.path("extra");
    std::fs::write(&extra, "inserted at an absolute path\n").unwrap();
    let layout = t.path("layout");
    let image = format!("{}:latest", layout.display());
    umoci(&["init", "--layout", layout.to_str().unwrap()]);
    umoci(&["new", "--image", &image]);
    umoci(&["insert", "--image", &image, rootfs.to_str().unwrap(), "/"]);
    umoci(&[
        "insert",
        "--image",
        &image,
        extra.to_str().unwrap(),
        "/etc/extra",
    ]);

    // The fixture is what the issue describes: the rootfs layer names the root `/` (umoci 0.4
    // writes the file inserted at `/etc/extra` as `etc/extra`; absolute file names are covered by
    // plinth-oci's layer tests).
    let mut names = Vec::new();
    for blob in std::fs::read_dir(layout.join("blobs/sha256")).unwrap() {
        names.extend(layer_names(&blob.unwrap().path()));
    }
    assert!(names.iter().any(|n| n == "/"), "{names:?}");
    assert!(names.iter().any(|n| n == "etc/extra"), "{names:?}");

    let recipe = Container::from_address(&format!("oci:{image}"))
        .unwrap()
        .with_exec(["sh", "-c", "cat /etc/marker /etc/extra > /out"]);
    let amd64 = Platform::linux_amd64();
    let result = ok(t.engine.build(&recipe, &BuildOptions::new([amd64.clone()])));
    let out = ok(t.engine.run(
        &result.root,
        &amd64,
        &["cat".to_owned(), "/out".to_owned()],
        &RunOptions {
            capture: true,
            ..RunOptions::default()
        },
        &mut DiscardOutput,
    ));
    assert!(out.success(), "{}", out.stderr_text());
    assert_eq!(
        out.stdout_text(),
        "from the rootfs\ninserted at an absolute path\n"
    );
}
