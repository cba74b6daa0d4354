//! The docker environment CI provides: import, run, push to and pull from a local registry.

use std::process::{Command, Stdio};

use plinth_test::{External, LocalRegistry, busybox_rootfs_tempdir, require_external};

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("docker runs");
    assert!(
        out.status.success(),
        "docker {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn busybox_rootfs_imports_runs_pushes_and_pulls() {
    require_external!(External::Docker);
    let registry = LocalRegistry::start();
    let rootfs = busybox_rootfs_tempdir().unwrap();
    let image = registry.image(&format!("selftest/busybox:{}", registry.port()));

    let mut tar = Command::new("tar")
        .arg("-C")
        .arg(rootfs.path())
        .args(["-c", "."])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let import = Command::new("docker")
        .args(["import", "-", &image])
        .stdin(tar.stdout.take().unwrap())
        .output()
        .unwrap();
    assert!(tar.wait().unwrap().success(), "tar of the rootfs failed");
    assert!(
        import.status.success(),
        "docker import: {}",
        String::from_utf8_lossy(&import.stderr)
    );

    let out = docker(&[
        "run",
        "--rm",
        "--user",
        "1000",
        &image,
        "sh",
        "-c",
        "whoami; uname -s",
    ]);
    assert_eq!(out, "airbyte\nLinux\n");

    // 127.0.0.0/8 registries are insecure (plain HTTP) for dockerd by default.
    docker(&["push", &image]);
    docker(&["rmi", &image]);
    docker(&["pull", &image]);
    assert_eq!(
        docker(&["run", "--rm", &image, "echo", "pulled"]),
        "pulled\n"
    );
    docker(&["rmi", &image]);
}
