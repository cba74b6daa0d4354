//! What ends up in the upper directory, mounts that stay out of it, and rootfs reading.

use std::os::unix::fs::{FileTypeExt, MetadataExt};

use plinth_sandbox::{MountSpec, OverlayRootfs, Rootfs, RunSpec, read_rootfs_file};

use crate::common::{Fixture, busybox_rootfs, require_root};

#[test]
fn writes_land_in_upper_only_and_mount_points_do_not() {
    if !require_root() {
        return;
    }
    let f = Fixture::new();
    f.ok(&f.sh("touch /new-file; echo data > /tmp/f; mkdir -p /opt/app; ls /proc/self /dev/null /sys/kernel >/dev/null"));
    assert_eq!(
        f.upper_entries(),
        ["new-file", "opt", "opt/app", "tmp", "tmp/f"]
    );
    assert_eq!(
        std::fs::read_to_string(f.path("upper/tmp/f")).unwrap(),
        "data\n"
    );
    assert!(!f.path("lower/new-file").exists());
    assert!(
        !f.path("lower/proc").exists(),
        "the image had no /proc and still has none"
    );
}

#[test]
fn a_deleted_lower_file_becomes_a_whiteout() {
    if !require_root() {
        return;
    }
    let f = Fixture::new();
    f.ok(&f.sh("rm /etc/lower-file && test ! -e /etc/lower-file"));
    let meta = std::fs::symlink_metadata(f.path("upper/etc/lower-file")).unwrap();
    assert!(
        meta.file_type().is_char_device() && meta.rdev() == 0,
        "whiteout is a 0:0 char device"
    );
    assert!(f.path("lower/etc/lower-file").exists());
    // The next step, with this upper as a lower layer, no longer sees the file.
    std::fs::create_dir(f.path("upper2")).unwrap();
    std::fs::create_dir(f.path("work2")).unwrap();
    let stacked = Rootfs::Overlay(OverlayRootfs::new(
        [f.path("upper"), f.path("lower")],
        f.path("upper2"),
        f.path("work2"),
    ));
    let out = f.ok(&RunSpec::new(stacked.clone(), ["sh", "-c", "ls /etc"]));
    assert!(
        !out.contains("lower-file") && out.contains("passwd"),
        "{out}"
    );
    assert_eq!(read_rootfs_file(&stacked, "/etc/lower-file").unwrap(), None);
    assert!(read_rootfs_file(&stacked, "/etc/passwd").unwrap().is_some());
}

#[test]
fn opaque_directories_hide_lower_files_when_reading_users() {
    if !require_root() {
        return;
    }
    let f = Fixture::new();
    std::fs::create_dir_all(f.path("lower/opt/data")).unwrap();
    std::fs::write(f.path("lower/opt/data/a"), "old a\n").unwrap();
    std::fs::write(f.path("lower/opt/data/b"), "old b\n").unwrap();
    // A step that replaces a directory wholesale makes it opaque in its upper dir.
    f.ok(&f.sh("rm -rf /opt/data && mkdir /opt/data && echo 'new a' > /opt/data/a"));
    let stacked = Rootfs::Overlay(OverlayRootfs::new(
        [f.path("upper"), f.path("lower")],
        f.path("u2"),
        f.path("w2"),
    ));
    assert_eq!(
        read_rootfs_file(&stacked, "/opt/data/a").unwrap().unwrap(),
        b"new a\n"
    );
    assert_eq!(read_rootfs_file(&stacked, "/opt/data/b").unwrap(), None);
    assert_eq!(
        read_rootfs_file(&stacked, "opt/data/../data/a")
            .map_err(|e| e.to_string())
            .unwrap_err(),
        "failed to read `opt/data/../data/a` from the rootfs: path is not normalized"
    );
}

#[test]
fn cache_mounts_persist_across_runs_and_stay_out_of_upper() {
    if !require_root() {
        return;
    }
    let f = Fixture::new();
    let cache = f.path("caches/pip");
    let spec = |script: &str| {
        f.sh(script)
            .with_user("airbyte".parse().unwrap())
            .with_mount(MountSpec::cache(
                &cache,
                "/home/airbyte/.cache/pip",
                1000,
                1000,
            ))
    };
    f.ok(&spec("echo one > /home/airbyte/.cache/pip/entry"));
    let meta = std::fs::metadata(&cache).unwrap();
    assert_eq!(
        (meta.uid(), meta.gid()),
        (1000, 1000),
        "owner applied on first use"
    );
    let out = f.ok(&spec("cat /home/airbyte/.cache/pip/entry"));
    assert_eq!(out, "one\n");
    assert_eq!(
        f.upper_entries(),
        Vec::<String>::new(),
        "neither the cache nor its mount point is in the layer"
    );
    assert_eq!(
        std::fs::read_to_string(cache.join("entry")).unwrap(),
        "one\n"
    );
}

#[test]
fn read_only_binds_cannot_be_written() {
    if !require_root() {
        return;
    }
    let f = Fixture::new();
    std::fs::create_dir(f.path("src")).unwrap();
    std::fs::write(f.path("src/input.txt"), "input\n").unwrap();
    let spec = f
        .sh("cat /src/input.txt; echo x > /src/other 2>/dev/null && echo WROTE; true")
        .with_mount(MountSpec::bind(f.path("src"), "/src").with_readonly(true));
    assert_eq!(f.ok(&spec), "input\n");
    assert!(!f.path("src/other").exists());
}

#[test]
fn a_plain_directory_rootfs_is_used_in_place() {
    if !require_root() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("root");
    busybox_rootfs(&root, std::path::Path::new("/bin/busybox"));
    let sandbox = plinth_sandbox::Sandbox::new(t.path().join("state")).unwrap();
    let spec = RunSpec::new(
        Rootfs::Directory(root.clone()),
        ["sh", "-c", "echo $$ > /pid; cat /etc/passwd | head -1"],
    );
    let mut out = Vec::new();
    let outcome = sandbox
        .run(&spec, &mut |_: plinth_sandbox::OutputStream, c: &[u8]| {
            out.extend_from_slice(c)
        })
        .unwrap();
    assert!(outcome.status.success());
    assert_eq!(out, b"root:x:0:0:root:/root:/bin/sh\n");
    assert_eq!(std::fs::read_to_string(root.join("pid")).unwrap(), "1\n");
    for p in spec.scaffold_paths() {
        assert!(
            root.join(&p).exists(),
            "mount point {} created in place",
            p.display()
        );
    }
}

#[test]
fn missing_lower_layers_are_reported_before_cloning() {
    if !require_root() {
        return;
    }
    let f = Fixture::new();
    let rootfs = Rootfs::Overlay(OverlayRootfs::new(
        [f.path("nope")],
        f.path("upper"),
        f.path("work"),
    ));
    let err = f
        .sandbox
        .run(
            &RunSpec::new(rootfs, ["true"]),
            &mut plinth_sandbox::DiscardOutput,
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "invalid sandbox spec: overlay lower directory `{}` does not exist",
            f.path("nope").display()
        )
    );
}

#[test]
fn concurrent_runs_on_one_upper_are_refused() {
    if !require_root() {
        return;
    }
    let f = Fixture::new();
    std::thread::scope(|scope| {
        let slow = scope.spawn(|| f.run(&f.sh("touch /started; sleep 3")));
        // The slow run holds the upper once its command has written there, however loaded the
        // machine is; a fixed pause could try before it started.
        let start = std::time::Instant::now();
        while !f.path("upper/started").exists() {
            assert!(
                start.elapsed().as_secs() < 120,
                "the slow run never started"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let err = f
            .sandbox
            .run(&f.sh("true"), &mut plinth_sandbox::DiscardOutput)
            .unwrap_err();
        assert!(
            err.to_string().contains("is in use by another sandbox run"),
            "{err}"
        );
        assert!(slow.join().unwrap().0.status.success());
    });
}

/// Runs mount their overlay `volatile` (no sync of the whole upper filesystem at unmount), and
/// the work directory is usable again by the next run; one still marked by a run that never
/// finished is refused with a message saying so, not overlayfs's bare `EINVAL`.
#[test]
fn the_work_directory_serves_run_after_run_and_an_unfinished_one_is_named() {
    if !require_root() {
        return;
    }
    let f = Fixture::new();
    for i in 0..3 {
        assert_eq!(
            f.ok(&f.sh(&format!(
                "grep ' / overlay ' /proc/self/mounts | grep -c volatile; echo {i} > /n{i}"
            ))),
            "1\n"
        );
    }
    for i in 0..3 {
        assert_eq!(
            std::fs::read_to_string(f.path("upper").join(format!("n{i}"))).unwrap(),
            format!("{i}\n")
        );
    }
    assert!(!f.path("work").join("work/incompat/volatile").exists());
    // Between runs the state directory holds the shared mount point and scaffold, no run files.
    let mut state: Vec<String> = std::fs::read_dir(f.path("state"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    state.sort();
    assert_eq!(state, ["root", "scaffolds"]);
    // What a host crash during a run leaves behind.
    std::fs::create_dir_all(f.path("work").join("work/incompat/volatile")).unwrap();
    let err = f
        .sandbox
        .run(&f.sh("true"), &mut plinth_sandbox::DiscardOutput)
        .unwrap_err()
        .to_string();
    assert!(err.contains("did not finish"), "{err}");
    assert!(err.contains(&f.path("work").display().to_string()), "{err}");
}
