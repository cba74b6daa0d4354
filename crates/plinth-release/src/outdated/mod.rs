//! `outdated`: before any build, what in a recipe no longer holds — the root image's tag moved
//! away from its pinned digest, apt pins the root's Debian suite no longer carries (with the
//! versions it does carry), pip pins PyPI no longer serves or has newer releases of.
//!
//! The suite is the root's own: `VERSION_CODENAME` of its `/etc/os-release`, read from its
//! layers (pulled into the store), unless [`OutdatedOptions::suite`] gives it. The archive's
//! package indexes are read as apt reads them (see [`apt`]); PyPI through its JSON API.
//!
//! [`OutdatedReport::cannot_install`] counts the pins that cannot install: an apt version the
//! suite does not carry, a pip release PyPI does not serve. A moved tag or a newer pip release
//! is worth knowing but installs as pinned.

pub mod apt;
mod debian_version;
pub mod pypi;
pub mod root;

use std::collections::BTreeMap;
use std::path::PathBuf;

use plinth_oci::Platform;
use plinth_recipe::Container;
use plinth_recipe::pins::{PinManager, package_pins};
use plinth_registry::Client;
use serde::Serialize;

use crate::error::{Error, Result};
pub use root::RootTagStatus;

/// Where `outdated` asks.
#[derive(Clone, Debug)]
pub struct OutdatedOptions {
    /// The Debian archive to read instead of Debian's (`SUITE` only, no companions).
    pub apt_mirror: Option<String>,
    /// The suite, instead of the root's `/etc/os-release`.
    pub suite: Option<String>,
    /// The Python package index (its JSON API).
    pub pypi: String,
    /// The keyring the archive's `InRelease` files must be signed with.
    pub keyring: PathBuf,
}

impl Default for OutdatedOptions {
    fn default() -> Self {
        Self {
            apt_mirror: None,
            suite: None,
            pypi: pypi::PYPI.to_owned(),
            keyring: PathBuf::from(plinth_engine::DEBIAN_ARCHIVE_KEYRING),
        }
    }
}

/// An apt pin on one platform.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AptPinStatus {
    /// `name=version`.
    pub pin: String,
    /// The package.
    pub name: String,
    /// The pinned version.
    pub version: String,
    /// The step (1-based) holding it.
    pub step: usize,
    /// The platform.
    pub platform: String,
    /// The suite asked.
    pub suite: String,
    /// Whether a suite carries the pinned version.
    pub installable: bool,
    /// The versions the suite and its companions carry, newest first.
    pub available: Vec<AvailableVersion>,
}

/// A version the archive carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AvailableVersion {
    /// The version.
    pub version: String,
    /// The suite carrying it (`bookworm`, `bookworm-security`, …).
    pub suite: String,
}

/// A pip pin.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PipPinStatus {
    /// `name==version`.
    pub pin: String,
    /// The package.
    pub name: String,
    /// The pinned version.
    pub version: String,
    /// The step (1-based) holding it.
    pub step: usize,
    /// Whether the index serves the pinned release (with a file that is not yanked).
    pub installable: bool,
    /// The index's latest release, when it knows the package.
    pub latest: Option<String>,
    /// Whether `latest` is newer than the pin.
    pub newer: bool,
}

/// A pinned root whose tag could not be compared.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RootNotCompared {
    /// The root as the recipe writes it.
    pub address: String,
    /// Why, with its causes.
    pub error: String,
}

/// The suite of one platform's root, and where it came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PlatformSuite {
    /// The platform.
    pub platform: String,
    /// The Debian suite (`bookworm`).
    pub suite: String,
    /// `os-release` (read from the root), `debian-root` (a root made from Debian's archive) or
    /// `given` (`--suite`).
    pub from: &'static str,
}

/// Everything `outdated` found for one recipe.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OutdatedReport {
    /// What was examined (`repo:version` or the Dockerfile).
    pub subject: String,
    /// Pinned roots whose tag was compared (one per distinct root).
    pub roots: Vec<RootTagStatus>,
    /// Pinned roots whose tag could not be compared, with why (an unreachable registry).
    pub roots_not_compared: Vec<RootNotCompared>,
    /// The suite of each platform's root (when the recipe has apt pins).
    pub suites: Vec<PlatformSuite>,
    /// Every apt pin, per platform.
    pub apt: Vec<AptPinStatus>,
    /// Every pip pin.
    pub pip: Vec<PipPinStatus>,
    /// The package indexes read.
    pub indexes: Vec<String>,
}

impl OutdatedReport {
    /// The pins that cannot install (apt versions no suite carries, pip releases not served).
    pub fn cannot_install(&self) -> usize {
        self.apt.iter().filter(|p| !p.installable).count()
            + self.pip.iter().filter(|p| !p.installable).count()
    }

    /// The root tags that moved.
    pub fn moved_roots(&self) -> usize {
        self.roots.iter().filter(|r| r.moved()).count()
    }
}

/// Examines the recipe of each platform (`containers`, one per platform).
pub async fn examine(
    subject: &str,
    client: &Client,
    http: &reqwest::Client,
    containers: &[(Platform, Container)],
    options: &OutdatedOptions,
) -> Result<OutdatedReport> {
    let mut report = OutdatedReport {
        subject: subject.to_owned(),
        roots: Vec::new(),
        roots_not_compared: Vec::new(),
        suites: Vec::new(),
        apt: Vec::new(),
        pip: Vec::new(),
        indexes: Vec::new(),
    };
    let platforms: Vec<Platform> = containers.iter().map(|(p, _)| p.clone()).collect();
    // Roots: one comparison per distinct pinned root.
    let mut roots_seen = Vec::new();
    for (_, container) in containers {
        if let Some(root) = root_reference(container)
            && !roots_seen.contains(&root)
        {
            roots_seen.push(root.clone());
            // A registry that cannot be reached must not hide what the archive and PyPI say.
            match root::root_tag_status(client, &root, &platforms).await {
                Ok(Some(status)) => report.roots.push(status),
                Ok(None) => {}
                Err(e) => report.roots_not_compared.push(RootNotCompared {
                    address: root.to_string(),
                    error: error_chain(&e),
                }),
            }
        }
    }
    // apt: per platform, against the suite of that platform's root.
    let mut indexes: BTreeMap<(String, String), apt::PackageIndex> = BTreeMap::new();
    for (platform, container) in containers {
        let pins: Vec<_> = package_pins(container)
            .into_iter()
            .filter(|p| p.manager == PinManager::Apt)
            .collect();
        if pins.is_empty() {
            continue;
        }
        let (suite, from) = match (&options.suite, debian_root(container)) {
            (Some(s), _) => (s.clone(), "given"),
            // A root made from Debian's archive records its own suite.
            (None, Some(root)) => (root.suite().to_owned(), "debian-root"),
            (None, None) => (root_suite(client, container, platform).await?, "os-release"),
        };
        report.suites.push(PlatformSuite {
            platform: platform.to_string(),
            suite: suite.clone(),
            from,
        });
        let arch = debian_arch(platform);
        let key = (suite.clone(), arch.clone());
        if !indexes.contains_key(&key) {
            let sources = apt::sources_for(&suite, options.apt_mirror.as_deref());
            let index = apt::read_index(client.store(), &options.keyring, &sources, &arch).await?;
            report.indexes.extend(index.read.iter().cloned());
            indexes.insert(key.clone(), index);
        }
        let index = &indexes[&key];
        for pin in pins {
            report.apt.push(AptPinStatus {
                pin: pin.to_string(),
                installable: index.carries(&pin.name, &pin.version),
                available: index
                    .versions(&pin.name)
                    .into_iter()
                    .map(|(version, suite)| AvailableVersion { version, suite })
                    .collect(),
                name: pin.name,
                version: pin.version,
                step: pin.step,
                platform: platform.to_string(),
                suite: suite.clone(),
            });
        }
    }
    // pip: once per pin (PyPI serves every platform).
    let mut asked: BTreeMap<(String, String), Option<pypi::PypiPackage>> = BTreeMap::new();
    if let Some((_, container)) = containers.first() {
        for pin in package_pins(container)
            .into_iter()
            .filter(|p| p.manager == PinManager::Pip)
        {
            let key = (pin.name.clone(), pin.version.clone());
            if !asked.contains_key(&key) {
                let answer =
                    pypi::read_package(http, &options.pypi, &pin.name, &pin.version).await?;
                asked.insert(key.clone(), answer);
            }
            let answer = &asked[&key];
            report.pip.push(PipPinStatus {
                pin: pin.to_string(),
                installable: answer.as_ref().is_some_and(|a| a.pinned_installable),
                latest: answer.as_ref().map(|a| a.latest.clone()),
                newer: answer
                    .as_ref()
                    .is_some_and(|a| pypi::is_newer(&a.latest, &pin.version)),
                name: pin.name,
                version: pin.version,
                step: pin.step,
            });
        }
    }
    Ok(report)
}

/// The apt pins a build's output says are gone: apt's `E: Version 'V' for 'N' was not found`,
/// as `name=version`, in order.
///
/// ```
/// let output = "Reading package lists...\nE: Version '22.12.0-2+b1' for 'poppler-utils' was not found\n";
/// assert_eq!(plinth_release::outdated::vanished_apt_pins(output), ["poppler-utils=22.12.0-2+b1"]);
/// ```
pub fn vanished_apt_pins(output: &str) -> Vec<String> {
    output
        .lines()
        .filter_map(|line| {
            let rest = line.trim().strip_prefix("E: Version '")?;
            let (version, rest) = rest.split_once("' for '")?;
            let (name, _) = rest.split_once("' was not found")?;
            Some(format!("{name}={version}"))
        })
        .collect()
}

/// The HTTP client for PyPI's JSON API (nothing here is installed; this only reads what is
/// offered). The archive's indexes are read and verified by `plinth_engine::read_package_index`.
pub fn http_client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .user_agent(concat!("plinth/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(std::time::Duration::from_secs(15))
        .timeout(std::time::Duration::from_secs(300))
        .build()
        .map_err(Error::HttpClient)
}

/// The Debian root the recipe's last `from` makes, when it makes one.
fn debian_root(container: &Container) -> Option<&plinth_recipe::debian::DebianRoot> {
    container.ops().iter().rev().find_map(|op| match op {
        plinth_recipe::Op::From { source } => match source.kind() {
            plinth_recipe::SourceKind::Debian(root) => Some(root),
            _ => None,
        },
        _ => None,
    })
}

/// The registry reference the recipe's last `from` names, when it names one.
fn root_reference(container: &Container) -> Option<plinth_oci::Reference> {
    container.ops().iter().rev().find_map(|op| match op {
        plinth_recipe::Op::From { source } => source.reference().cloned(),
        _ => None,
    })
}

async fn root_suite(client: &Client, container: &Container, platform: &Platform) -> Result<String> {
    let Some(root) = root_reference(container) else {
        return Err(Error::RootSuite {
            image: "the recipe's root".to_owned(),
            reason: "it is not a registry image".to_owned(),
        });
    };
    let fields = root::os_release(client, &root, platform).await?;
    fields
        .get("VERSION_CODENAME")
        .filter(|s| !s.is_empty())
        .cloned()
        .ok_or_else(|| Error::RootSuite {
            image: root.to_string(),
            reason: format!(
                "its os-release names no VERSION_CODENAME (ID={})",
                fields.get("ID").map_or("unknown", String::as_str)
            ),
        })
}

fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Debian's name of `platform`'s architecture (`amd64`, `arm64`, `armhf`, …).
fn debian_arch(platform: &Platform) -> String {
    match (platform.architecture.as_str(), platform.variant.as_deref()) {
        ("arm", Some("v7")) => "armhf".to_owned(),
        ("arm", _) => "armel".to_owned(),
        ("386", _) => "i386".to_owned(),
        ("ppc64le", _) => "ppc64el".to_owned(),
        (arch, _) => arch.to_owned(),
    }
}
