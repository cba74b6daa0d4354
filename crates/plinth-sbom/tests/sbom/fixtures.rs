//! Layers holding package databases as each package manager writes them.

use std::process::Command;

use plinth_oci::layer::{LayerEntry, WriteOptions, write_entries_layer};
use plinth_test::{External, require_external};

pub fn file(path: &str, text: &str) -> LayerEntry {
    LayerEntry::file(path, text.as_bytes().to_vec())
}

pub fn layer(entries: &[LayerEntry]) -> Vec<u8> {
    write_entries_layer(
        entries,
        Vec::new(),
        &WriteOptions::new().with_source_date_epoch(Some(0)),
    )
    .unwrap()
    .0
}

const DEBIAN_OS_RELEASE: &str = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\n";

const SOCAT_COPYRIGHT: &str = "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\nUpstream-Name: socat\n\nFiles: *\nCopyright: 2001-2022 Gerhard Rieger\nLicense: GPL-2\n\nFiles: debian/*\nCopyright: 2004 Someone\nLicense: GPL-2\n\nLicense: GPL-2\n This program is free software.\n";

/// A Debian root: os-release behind its usual symlink, a status file, copyright files.
pub fn debian_layer() -> Vec<u8> {
    layer(&[
        file("usr/lib/os-release", DEBIAN_OS_RELEASE),
        LayerEntry::symlink("etc/os-release", "../usr/lib/os-release"),
        file(
            "var/lib/dpkg/status",
            "Package: libc6\nStatus: install ok installed\nPriority: optional\nArchitecture: amd64\nSource: glibc\nVersion: 2.36-9+deb12u3\nDescription: GNU C Library\n multi-line\n\n\
             Package: socat\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.7.4.4-2\nDescription: multipurpose relay\n\n\
             Package: removed-pkg\nStatus: deinstall ok config-files\nArchitecture: amd64\nVersion: 1.0\n",
        ),
        file("usr/share/doc/socat/copyright", SOCAT_COPYRIGHT),
        file(
            "usr/share/doc/libc6/copyright",
            "This is the Debian prepackaged version of the GNU C Library.\n",
        ),
        file(
            "var/lib/dpkg/status.d/base-files",
            "Package: base-files\nVersion: 12.4+deb12u5\nArchitecture: amd64\n",
        ),
    ])
}

/// A later layer that upgrades libc6 (dpkg rewrites the whole status file).
pub fn dpkg_update_layer() -> Vec<u8> {
    layer(&[file(
        "var/lib/dpkg/status",
        "Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nSource: glibc\nVersion: 2.36-9+deb12u4\n\n\
         Package: socat\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.7.4.4-2\n",
    )])
}

pub fn busybox_like_layer() -> Vec<u8> {
    layer(&[
        file("etc/os-release", "NAME=BusyBox\nID=busybox\n"),
        LayerEntry::symlink("bin/sh", "busybox"),
    ])
}

/// pip and setuptools installs: a dist-info (a License field), one with only classifiers, an
/// egg-info file, and a dist-info removed by a later whiteout.
pub fn python_layer() -> Vec<u8> {
    let site = "usr/local/lib/python3.11/site-packages";
    layer(&[
        file(
            &format!("{site}/requests-2.31.0.dist-info/METADATA"),
            "Metadata-Version: 2.1\nName: requests\nVersion: 2.31.0\nSummary: HTTP\nLicense: Apache 2.0\nClassifier: License :: OSI Approved :: Apache Software License\n\nLicense: not a header, the body\n",
        ),
        file(
            &format!("{site}/requests-2.31.0.dist-info/RECORD"),
            "requests/__init__.py,,\n",
        ),
        file(
            &format!("{site}/typing_extensions-4.9.0.dist-info/METADATA"),
            "Metadata-Version: 2.1\nName: typing_extensions\nVersion: 4.9.0\nClassifier: Development Status :: 5 - Production/Stable\nClassifier: License :: OSI Approved :: Python Software Foundation License\n",
        ),
        file(
            "usr/lib/python3/dist-packages/legacy_egg-0.3.egg-info",
            "Metadata-Version: 1.0\nName: legacy-egg\nVersion: 0.3\nLicense: Custom Terms\n",
        ),
    ])
}

pub fn alpine_layer() -> Vec<u8> {
    layer(&[
        file(
            "etc/os-release",
            "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME=\"Alpine Linux v3.19\"\n",
        ),
        file(
            "lib/apk/db/installed",
            "C:Q1abc=\nP:musl\nV:1.2.4_git20230717-r4\nA:x86_64\nS:407562\nI:667648\nT:the musl c library\nU:https://musl.libc.org/\nL:MIT\no:musl\nm:Someone\nF:lib\nR:ld-musl-x86_64.so.1\n\n\
             C:Q1def=\nP:libssl3\nV:3.1.4-r5\nA:x86_64\nL:Apache-2.0\no:openssl\n\n",
        ),
    ])
}

const SPEC: &str = "Name: NAME\nVersion: VERSION\nRelease: RELEASE\nEPOCH_LINE\nSummary: a test package\nLicense: LICENSE\nBuildArch: noarch\n%description\nDESCRIPTION\n%files\n";

/// An Amazon Linux 2023-like root whose rpm sqlite database the real `rpm` made: two packages
/// built with `rpmbuild` and recorded with `rpm -i --justdb`. `None` when rpm is missing and
/// skipping is allowed.
pub fn rpm_layer() -> Option<Vec<u8>> {
    let bytes = rpm_sqlite_database()?;
    Some(rpm_root_layer("var/lib/rpm/rpmdb.sqlite", bytes))
}

/// A root with `os-release` and the rpm database `bytes` at `path`.
pub fn rpm_root_layer(path: &str, bytes: Vec<u8>) -> Vec<u8> {
    write_entries_layer(
        &[
            file("etc/os-release", "NAME=\"Amazon Linux\"\nVERSION_ID=\"2023\"\nID=\"amzn\"\nPRETTY_NAME=\"Amazon Linux 2023\"\n"),
            LayerEntry::file(path, bytes),
        ],
        Vec::new(),
        &WriteOptions::new(),
    )
    .unwrap()
    .0
}

/// The package headers (`hnum`, blob) rpm wrote into the sqlite database of [`rpm_layer`]:
/// the real headers the other database formats are filled with.
pub fn rpm_headers() -> Option<Vec<(u32, Vec<u8>)>> {
    Some(sqlite_headers(&rpm_sqlite_database()?))
}

/// The headers of `count` + 1 small packages (`plinth-many` and its subpackages
/// `plinth-many-sub00`…, built from one spec) as rpm records them: enough records to fill
/// several pages and hash buckets of a Berkeley DB. `None` when rpm is missing and skipping is
/// allowed.
pub fn many_rpm_headers(count: usize) -> Option<Vec<(u32, Vec<u8>)>> {
    let mut spec = "Name: plinth-many\nVersion: 3.1\nRelease: 7\nSummary: many packages\n\
                    License: MIT\nBuildArch: noarch\n%description\nMany packages.\n%files\n"
        .to_owned();
    for i in 0..count {
        spec.push_str(&format!(
            "%package sub{i:02}\nSummary: subpackage {i}\n%description sub{i:02}\n\
             Subpackage {i}.\n%files sub{i:02}\n"
        ));
    }
    let db = recorded_by_rpm(&[("plinth-many".to_owned(), spec)])?;
    Some(sqlite_headers(&db))
}

/// The (`hnum`, blob) rows of an rpm sqlite database.
fn sqlite_headers(bytes: &[u8]) -> Vec<(u32, Vec<u8>)> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rpmdb.sqlite");
    std::fs::write(&path, bytes).unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    let mut statement = conn
        .prepare("SELECT hnum, blob FROM Packages ORDER BY hnum")
        .unwrap();
    let rows = statement
        .query_map([], |row| {
            Ok((row.get::<_, u32>(0)?, row.get::<_, Vec<u8>>(1)?))
        })
        .unwrap();
    rows.map(Result::unwrap).collect()
}

/// The sqlite database `rpm` makes for the two test packages (one with a description long
/// enough that a Berkeley DB stores its header on overflow pages).
fn rpm_sqlite_database() -> Option<Vec<u8>> {
    let packages = [
        (
            "plinth-hello",
            "1.2.3",
            "4.amzn2023",
            "Epoch: 2",
            "MIT AND (Apache-2.0 OR BSD-3-Clause)",
        ),
        (
            "plinth-other",
            "0.1",
            "1.amzn2023",
            "",
            "Some Custom License",
        ),
    ];
    let specs: Vec<(String, String)> = packages
        .into_iter()
        .map(|(name, version, release, epoch, license)| {
            let description = if name == "plinth-other" {
                "A long description. ".repeat(600)
            } else {
                "A test package.".to_owned()
            };
            let text = SPEC
                .replace("NAME", name)
                .replace("VERSION", version)
                .replace("RELEASE", release)
                .replace("EPOCH_LINE", epoch)
                .replace("LICENSE", license)
                .replace("DESCRIPTION", &description);
            (name.to_owned(), text)
        })
        .collect();
    recorded_by_rpm(&specs)
}

/// Builds each (name, spec) with `rpmbuild` and records every package built with
/// `rpm -i --justdb` into a new database; returns that `rpmdb.sqlite`. `None` when rpm is
/// missing and skipping is allowed.
fn recorded_by_rpm(specs: &[(String, String)]) -> Option<Vec<u8>> {
    if !require_external(External::Tool("rpmbuild")) || !require_external(External::Tool("rpm")) {
        return None;
    }
    let dir = tempfile::Builder::new()
        .prefix("plinth-sbom-rpm-")
        .tempdir()
        .unwrap();
    let top = dir.path().join("top");
    let db = dir.path().join("db");
    std::fs::create_dir_all(top.join("SPECS")).unwrap();
    let run = |cmd: &mut Command| {
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{cmd:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(Command::new("rpm").arg("--initdb").arg("--dbpath").arg(&db));
    for (name, text) in specs {
        let spec = top.join("SPECS").join(format!("{name}.spec"));
        std::fs::write(&spec, text).unwrap();
        run(Command::new("rpmbuild")
            .arg("--define")
            .arg(format!("_topdir {}", top.display()))
            .arg("-bb")
            .arg(&spec));
    }
    let mut built: Vec<_> = std::fs::read_dir(top.join("RPMS/noarch"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    built.sort();
    run(Command::new("rpm")
        .args([
            "-i",
            "--justdb",
            "--nodeps",
            "--ignorearch",
            "--ignoreos",
            "--dbpath",
        ])
        .arg(&db)
        .args(&built));
    Some(std::fs::read(db.join("rpmdb.sqlite")).unwrap())
}
