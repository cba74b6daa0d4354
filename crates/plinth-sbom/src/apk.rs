//! apk: `lib/apk/db/installed`, one block per package (`P:` name, `V:` version, `A:` arch,
//! `L:` license, `o:` origin).

use crate::files::ImageFiles;
use crate::license::License;
use crate::model::{OsRelease, Package, PackageKind};
use crate::purl::purl;

const INSTALLED: &str = "lib/apk/db/installed";

/// The apk packages of the image.
pub fn packages(files: &ImageFiles, os: Option<&OsRelease>) -> Vec<Package> {
    let Some(bytes) = files.read(INSTALLED) else {
        return Vec::new();
    };
    let text = String::from_utf8_lossy(bytes);
    let mut out = Vec::new();
    for block in text.split("\n\n") {
        let value = |key: &str| {
            block
                .lines()
                .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix(':')))
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        let (Some(name), Some(version)) = (value("P"), value("V")) else {
            continue;
        };
        let arch = value("A").map(str::to_owned);
        let source = value("o").filter(|o| *o != name).map(str::to_owned);
        let namespace = os.map_or("alpine", |o| o.id.as_str());
        let distro = os.map(OsRelease::distro);
        out.push(Package {
            kind: PackageKind::Apk,
            name: name.to_owned(),
            version: version.to_owned(),
            epoch: None,
            purl: purl(
                "apk",
                Some(namespace),
                name,
                version,
                &[
                    ("arch", arch.as_deref()),
                    ("distro", distro.as_deref()),
                    ("upstream", source.as_deref()),
                ],
            ),
            arch,
            source,
            licenses: value("L").map(License::parse).into_iter().collect(),
            found_in: format!("/{INSTALLED}"),
        });
    }
    out
}
