//! SBOMs of images made of real layers: dpkg, rpm (a database made by the real `rpm`), Python
//! and apk fixtures, checked for content and validated against the official SPDX 2.3 and
//! CycloneDX 1.5 schemas.

mod fixtures;
mod rpmdb_files;
mod schema;

use plinth_oci::{Digest, Platform};
use plinth_sbom::{Format, ImageFiles, Package, PackageKind, Sbom, Subject, generate};

use fixtures::*;
use rpmdb_files::BdbLayout;

fn subject() -> Subject {
    Subject {
        name: "registry.example/base/fixture:1".to_owned(),
        digest: Digest::of(b"fixture manifest"),
        platform: Platform::linux_amd64(),
    }
}

fn sbom_of(layers: &[Vec<u8>]) -> Sbom {
    let mut files = ImageFiles::default();
    for layer in layers {
        files.apply_layer(&layer[..]).unwrap();
    }
    generate(&files, subject(), 1_700_000_000).unwrap()
}

/// The SBOM of `layers`, or the error making it.
fn try_sbom_of(layers: &[Vec<u8>]) -> plinth_sbom::Result<Sbom> {
    let mut files = ImageFiles::default();
    for layer in layers {
        files.apply_layer(&layer[..]).unwrap();
    }
    generate(&files, subject(), 1_700_000_000)
}

fn find<'a>(sbom: &'a Sbom, kind: PackageKind, name: &str) -> &'a Package {
    sbom.packages
        .iter()
        .find(|p| p.kind == kind && p.name == name)
        .unwrap_or_else(|| panic!("no {kind:?} package {name} in {:#?}", sbom.packages))
}

/// Both documents validate against their official schemas.
fn assert_valid(sbom: &Sbom) {
    let spdx = sbom.to_spdx_json().unwrap();
    let problems = schema::violations(schema::SPDX_2_3, &spdx);
    assert!(
        problems.is_empty(),
        "SPDX 2.3: {problems:#?}\n{}",
        String::from_utf8_lossy(&spdx)
    );
    let cdx = sbom.to_cyclonedx_json().unwrap();
    let problems = schema::violations(schema::CYCLONEDX_1_5, &cdx);
    assert!(
        problems.is_empty(),
        "CycloneDX 1.5: {problems:#?}\n{}",
        String::from_utf8_lossy(&cdx)
    );
}

#[test]
fn dpkg_packages_with_versions_purls_and_copyright_licenses() {
    let sbom = sbom_of(&[debian_layer(), dpkg_update_layer()]);
    let os = sbom.os.as_ref().expect("os-release");
    assert_eq!(
        (os.id.as_str(), os.version_id.as_deref()),
        ("debian", Some("12"))
    );
    let socat = find(&sbom, PackageKind::Deb, "socat");
    assert_eq!(socat.version, "1.7.4.4-2");
    assert_eq!(
        socat.purl,
        "pkg:deb/debian/socat@1.7.4.4-2?arch=amd64&distro=debian-12"
    );
    assert_eq!(
        socat.licenses,
        [plinth_sbom::License::Spdx("GPL-2.0-only".to_owned())],
        "from its machine-readable copyright file"
    );
    let libc = find(&sbom, PackageKind::Deb, "libc6");
    assert_eq!(
        libc.version, "2.36-9+deb12u4",
        "the upper layer's status file wins"
    );
    assert_eq!(
        libc.purl,
        "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12&upstream=glibc"
    );
    assert!(
        libc.licenses.is_empty(),
        "a free-form copyright file declares nothing readable"
    );
    assert!(
        !sbom.packages.iter().any(|p| p.name == "removed-pkg"),
        "deinstalled packages are not listed"
    );
    let distroless = find(&sbom, PackageKind::Deb, "base-files");
    assert_eq!(distroless.found_in, "/var/lib/dpkg/status.d/base-files");
    assert_valid(&sbom);
}

#[test]
fn python_distributions_from_dist_info_and_egg_info() {
    let sbom = sbom_of(&[busybox_like_layer(), python_layer()]);
    let requests = find(&sbom, PackageKind::Python, "requests");
    assert_eq!(requests.version, "2.31.0");
    assert_eq!(requests.purl, "pkg:pypi/requests@2.31.0");
    assert_eq!(
        requests.licenses,
        [plinth_sbom::License::Spdx("Apache-2.0".to_owned())]
    );
    let typing = find(&sbom, PackageKind::Python, "typing_extensions");
    assert_eq!(typing.purl, "pkg:pypi/typing-extensions@4.9.0");
    assert_eq!(
        typing.licenses,
        [plinth_sbom::License::Spdx("PSF-2.0".to_owned())],
        "from its classifier"
    );
    let legacy = find(&sbom, PackageKind::Python, "legacy-egg");
    assert_eq!(legacy.version, "0.3");
    assert_eq!(
        legacy.licenses,
        [plinth_sbom::License::Named("Custom Terms".to_owned())]
    );
    assert_eq!(sbom.os.as_ref().map(|o| o.id.as_str()), Some("busybox"));
    assert_valid(&sbom);
}

#[test]
fn apk_packages() {
    let sbom = sbom_of(&[alpine_layer()]);
    let musl = find(&sbom, PackageKind::Apk, "musl");
    assert_eq!(musl.version, "1.2.4_git20230717-r4");
    assert_eq!(
        musl.purl,
        "pkg:apk/alpine/musl@1.2.4_git20230717-r4?arch=x86_64&distro=alpine-3.19.1"
    );
    assert_eq!(
        musl.licenses,
        [plinth_sbom::License::Spdx("MIT".to_owned())]
    );
    let ssl = find(&sbom, PackageKind::Apk, "libssl3");
    assert_eq!(ssl.source.as_deref(), Some("openssl"));
    assert_valid(&sbom);
}

#[test]
fn rpm_sqlite_database_made_by_rpm() {
    let Some(layer) = rpm_layer() else {
        return;
    };
    let sbom = sbom_of(&[layer]);
    let hello = find(&sbom, PackageKind::Rpm, "plinth-hello");
    assert_eq!(hello.version, "1.2.3-4.amzn2023");
    assert_eq!(hello.epoch, Some(2));
    assert_eq!(hello.arch.as_deref(), Some("noarch"));
    assert_eq!(
        hello.purl,
        "pkg:rpm/amzn/plinth-hello@1.2.3-4.amzn2023?arch=noarch&distro=amzn-2023&epoch=2"
    );
    assert_eq!(
        hello.licenses,
        [plinth_sbom::License::Spdx(
            "MIT AND (Apache-2.0 OR BSD-3-Clause)".to_owned()
        )]
    );
    let other = find(&sbom, PackageKind::Rpm, "plinth-other");
    assert_eq!(other.version, "0.1-1.amzn2023");
    assert_eq!(
        other.licenses,
        [plinth_sbom::License::Named(
            "Some Custom License".to_owned()
        )]
    );
    assert_valid(&sbom);
}

/// The two test packages, as read from any of rpm's database formats.
fn assert_rpm_packages(sbom: &Sbom, found_in: &str) {
    let hello = find(sbom, PackageKind::Rpm, "plinth-hello");
    assert_eq!(
        hello.purl,
        "pkg:rpm/amzn/plinth-hello@1.2.3-4.amzn2023?arch=noarch&distro=amzn-2023&epoch=2"
    );
    assert_eq!(hello.found_in, found_in);
    let other = find(sbom, PackageKind::Rpm, "plinth-other");
    assert_eq!(other.version, "0.1-1.amzn2023");
    assert_eq!(
        sbom.packages
            .iter()
            .filter(|p| p.kind == PackageKind::Rpm)
            .count(),
        2
    );
    assert!(sbom.warnings.is_empty(), "{:?}", sbom.warnings);
    assert_valid(sbom);
}

/// Every rpm package of an SBOM as `NAME EPOCH:VERSION-RELEASE.ARCH`, sorted: what
/// [`rpmdb_files::rpm_lists`] gets from `rpm -qa` for the same database.
fn rpm_package_lines(sbom: &Sbom) -> Vec<String> {
    let mut lines: Vec<String> = sbom
        .packages
        .iter()
        .filter(|p| p.kind == PackageKind::Rpm)
        .map(|p| {
            format!(
                "{} {}:{}.{}",
                p.name,
                p.epoch.unwrap_or(0),
                p.version,
                p.arch.as_deref().unwrap_or("(none)")
            )
        })
        .collect();
    lines.sort();
    lines
}

/// A Berkeley DB `Packages` file made by Berkeley DB itself, holding headers rpm wrote, lists
/// the same packages in plinth's reader and in Debian's `rpm` (its `bdb_ro` reader).
#[test]
fn rpm_berkeley_db_reads_as_debian_rpm_reads_it() {
    let Some(headers) = rpm_headers() else {
        return;
    };
    assert!(
        headers.iter().any(|(_, h)| h.len() > 4096),
        "one header is bigger than a page, so it lies on overflow pages"
    );
    let Some(db) = rpmdb_files::berkeley_db(&headers, BdbLayout::default()) else {
        return;
    };
    let sbom = sbom_of(&[rpm_root_layer("var/lib/rpm/Packages", db.clone())]);
    assert_rpm_packages(&sbom, "/var/lib/rpm/Packages");
    let Some(listed) = rpmdb_files::rpm_lists(&db) else {
        return;
    };
    assert_eq!(
        listed,
        [
            "plinth-hello 2:1.2.3-4.amzn2023.noarch",
            "plinth-other 0:0.1-1.amzn2023.noarch"
        ]
    );
    assert_eq!(rpm_package_lines(&sbom), listed);
}

/// The layout of a database from another machine: big-endian, 512-byte pages, many packages
/// over many hash buckets (which rpm walks through the meta page) and overflow chains.
#[test]
fn a_big_endian_berkeley_db_of_many_packages_reads_as_debian_rpm_reads_it() {
    const SUBPACKAGES: usize = 60;
    let Some(headers) = many_rpm_headers(SUBPACKAGES) else {
        return;
    };
    let layout = BdbLayout {
        big_endian: true,
        page_size: 512,
        fill_factor: Some(4),
    };
    let Some(db) = rpmdb_files::berkeley_db(&headers, layout) else {
        return;
    };
    let stats = rpmdb_files::berkeley_db_stats(&db);
    assert_eq!(stats["Byte order"], "Big-endian", "{stats:#?}");
    assert_eq!(stats["Underlying database page size"], "512", "{stats:#?}");
    let buckets: usize = stats["Number of hash buckets"].parse().unwrap();
    assert!(buckets >= 8, "{stats:#?}");
    let sbom = sbom_of(&[rpm_root_layer("var/lib/rpm/Packages", db.clone())]);
    let found = rpm_package_lines(&sbom);
    assert_eq!(found.len(), SUBPACKAGES + 1, "{found:#?}");
    assert!(found.contains(&"plinth-many-sub59 0:3.1-7.noarch".to_owned()));
    let Some(listed) = rpmdb_files::rpm_lists(&db) else {
        return;
    };
    assert_eq!(found, listed);
}

#[test]
fn rpm_ndb_database_with_headers_made_by_rpm() {
    let Some(headers) = rpm_headers() else {
        return;
    };
    let db = rpmdb_files::ndb(&headers);
    let sbom = sbom_of(&[rpm_root_layer(
        "usr/lib/sysimage/rpm/Packages.db",
        db.clone(),
    )]);
    assert_rpm_packages(&sbom, "/usr/lib/sysimage/rpm/Packages.db");
    // A flipped byte inside a blob fails its checksum: an error naming the file, not a
    // shorter list.
    let mut corrupt = db;
    let at = corrupt.len() - 40;
    corrupt[at] ^= 0xff;
    let err = try_sbom_of(&[rpm_root_layer("var/lib/rpm/Packages.db", corrupt)])
        .unwrap_err()
        .to_string();
    assert!(err.contains("/var/lib/rpm/Packages.db"), "{err}");
}

#[test]
fn a_damaged_berkeley_db_is_an_error_naming_it() {
    let err = try_sbom_of(&[layer(&[
        file("etc/os-release", "ID=centos\nVERSION_ID=7\n"),
        file("var/lib/rpm/Packages", "\0\0\0\0berkeley"),
    ])])
    .unwrap_err()
    .to_string();
    assert!(err.contains("/var/lib/rpm/Packages"), "{err}");
}

#[test]
fn documents_are_canonical_deterministic_and_carry_the_subject() {
    let a = sbom_of(&[debian_layer(), python_layer()]);
    let b = sbom_of(&[debian_layer(), python_layer()]);
    for format in [Format::Spdx, Format::CycloneDx] {
        let (x, y) = (a.to_json(format).unwrap(), b.to_json(format).unwrap());
        assert_eq!(x, y, "{format}");
        let value: serde_json::Value = serde_json::from_slice(&x).unwrap();
        assert_eq!(
            plinth_oci::canonical::to_canonical_vec(&value).unwrap(),
            x,
            "canonical"
        );
        let text = String::from_utf8(x).unwrap();
        assert!(
            text.contains(&subject().digest.to_string()),
            "{format}: the subject digest"
        );
        assert!(
            text.contains("2023-11-14T22:13:20Z"),
            "{format}: the timestamp given"
        );
    }
    let spdx: serde_json::Value = serde_json::from_slice(&a.to_spdx_json().unwrap()).unwrap();
    assert_eq!(spdx["documentDescribes"][0], "SPDXRef-Image");
    assert_eq!(
        spdx["packages"][0]["checksums"][0]["checksumValue"],
        subject().digest.hex()
    );
    let cdx: serde_json::Value = serde_json::from_slice(&a.to_cyclonedx_json().unwrap()).unwrap();
    assert_eq!(cdx["metadata"]["component"]["type"], "container");
    assert_eq!(
        cdx["metadata"]["component"]["version"],
        subject().digest.to_string()
    );
    let names: Vec<&str> = cdx["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"socat") && names.contains(&"requests"),
        "{names:?}"
    );
}
