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
    /// The pin to write instead (`name=newest version carried`) when this one cannot install
    /// and the archive carries the package at all: what a next version declares.
    pub suggested: Option<String>,
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
    /// The pin to write instead (`name==latest`) when the index has a newer release or does not
    /// serve the pinned one: what a next version declares.
    pub suggested: Option<String>,
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
    examine_roots(&mut report, client, containers).await;
    examine_apt(&mut report, client, containers, options).await?;
    // pip: once per pin (PyPI serves every platform).
    if let Some((_, container)) = containers.first() {
        examine_pip(&mut report, http, container, options).await?;
    }
    Ok(report)
}

/// Roots: one tag comparison per distinct pinned root, on every platform.
async fn examine_roots(
    report: &mut OutdatedReport,
    client: &Client,
    containers: &[(Platform, Container)],
) {
    let platforms: Vec<Platform> = containers.iter().map(|(p, _)| p.clone()).collect();
    let mut roots_seen = Vec::new();
    for (_, container) in containers {
        let Some(root) = root_reference(container) else {
            continue;
        };
        if roots_seen.contains(&root) {
            continue;
        }
        roots_seen.push(root.clone());
        // A registry that cannot be reached must not hide what the archive and PyPI say.
        match root::root_tag_status(client, &root, &platforms).await {
            Ok(Some(status)) => report.roots.push(status),
            Ok(None) => {}
            Err(e) => report.roots_not_compared.push(RootNotCompared {
                address: root.to_string(),
                error: plinth_oci::error_chain(&e),
            }),
        }
    }
}

/// apt: per platform, against the suite of that platform's root (each suite's index read once
/// per architecture).
async fn examine_apt(
    report: &mut OutdatedReport,
    client: &Client,
    containers: &[(Platform, Container)],
    options: &OutdatedOptions,
) -> Result<()> {
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
            report.apt.push(apt_status(pin, index, platform, &suite));
        }
    }
    Ok(())
}

/// What `index` (the suite's and its companions') says of an apt pin.
fn apt_status(
    pin: plinth_recipe::pins::PackagePin,
    index: &apt::PackageIndex,
    platform: &Platform,
    suite: &str,
) -> AptPinStatus {
    let installable = index.carries(&pin.name, &pin.version);
    let available: Vec<AvailableVersion> = index
        .versions(&pin.name)
        .into_iter()
        .map(|(version, suite)| AvailableVersion { version, suite })
        .collect();
    AptPinStatus {
        pin: pin.to_string(),
        installable,
        suggested: available
            .first()
            .filter(|_| !installable)
            .map(|newest| format!("{}={}", pin.name, newest.version)),
        available,
        name: pin.name,
        version: pin.version,
        step: pin.step,
        platform: platform.to_string(),
        suite: suite.to_owned(),
    }
}

/// pip: each pin of `container` against the package index (each package asked once).
async fn examine_pip(
    report: &mut OutdatedReport,
    http: &reqwest::Client,
    container: &Container,
    options: &OutdatedOptions,
) -> Result<()> {
    let mut asked: BTreeMap<(String, String), Option<pypi::PypiPackage>> = BTreeMap::new();
    for pin in package_pins(container)
        .into_iter()
        .filter(|p| p.manager == PinManager::Pip)
    {
        let key = (pin.name.clone(), pin.version.clone());
        if !asked.contains_key(&key) {
            let answer = pypi::read_package(http, &options.pypi, &pin.name, &pin.version).await?;
            asked.insert(key.clone(), answer);
        }
        let answer = asked[&key].as_ref();
        let installable = answer.is_some_and(|a| a.pinned_installable);
        let newer = answer.is_some_and(|a| pypi::is_newer(&a.latest, &pin.version));
        report.pip.push(PipPinStatus {
            pin: pin.to_string(),
            installable,
            latest: answer.map(|a| a.latest.clone()),
            newer,
            suggested: answer
                .filter(|a| newer || (!installable && a.latest != pin.version))
                .map(|a| format!("{}=={}", pin.name, a.latest)),
            name: pin.name,
            version: pin.version,
            step: pin.step,
        });
    }
    Ok(())
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
