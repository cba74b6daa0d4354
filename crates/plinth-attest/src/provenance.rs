//! SLSA v1 provenance (<https://slsa.dev/spec/v1.0/provenance>) of one platform image: what
//! recipe, which inputs (each with its digest), which builder.
//!
//! Everything here comes from the build ([`PlatformBuild`]: its inputs and config) and the
//! recipe's description ([`RecipeParameters`]); the timestamps are the image's own reproducible
//! `created` time, so two builds of the same recipe from the same inputs attest the same bytes.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use plinth_executor::{BuildInput, InputKind, PlatformBuild};
use plinth_oci::{Digest, Platform};

use crate::statement::{ResourceDescriptor, Statement, digest_map};

/// The SLSA provenance v1 predicate type.
pub const SLSA_PROVENANCE_V1: &str = "https://slsa.dev/provenance/v1";

/// plinth's build type: the externalParameters are a [`RecipeParameters`], the
/// resolvedDependencies the build's inputs (`root-image`, `url`, `host-file`, `host-directory`,
/// `debian-archive` in each one's `annotations.kind`).
pub const BUILD_TYPE: &str = "https://example.invalid/plinth/build-types/image/v1";

/// The builder id; its version map names plinth's version and the engine.
pub const BUILDER_ID: &str = "https://example.invalid/plinth/builder";

/// The image config label the Debian root bootstrap writes the archive state into
/// (`suite@sha256:… (date)` per source, `, `-separated).
pub const DEBIAN_ARCHIVE_LABEL: &str = "org.plinth.debian.archive";

/// The recipe, as provenance's `externalParameters`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all_fields = "camelCase", tag = "source")]
pub enum RecipeParameters {
    /// A version of a catalog family.
    #[serde(rename = "family")]
    Family {
        /// The family's repository.
        repository: String,
        /// The version.
        version: String,
        /// The canonical digest of the recipe built for the platform.
        recipe_digest: String,
        /// The Dockerfile of a family kept as files: the recorded file the version was built
        /// from, so the recipe can be found and verified later.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dockerfile: Option<RecordedDockerfile>,
    },
    /// A Dockerfile (`plinth build -f`).
    #[serde(rename = "dockerfile")]
    Dockerfile {
        /// The Dockerfile's path, as given.
        path: String,
        /// The digest of its bytes.
        digest: String,
        /// `--build-arg` names, each with the digest of its value (an attestation is public and
        /// a build arg may be a secret); a `NAME` taken from the environment by the digest of
        /// the environment's value, and not at all when the environment lacks it (docker's rule).
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        build_args: BTreeMap<String, String>,
        /// `--target`, when given.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target: Option<String>,
    },
}

/// A recorded Dockerfile named by a provenance statement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedDockerfile {
    /// Its path from the catalog directory (`families/base/versions/1.0.0/Dockerfile`).
    pub path: String,
    /// The digest of its bytes.
    pub digest: String,
}

/// `buildDefinition`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildDefinition {
    /// [`BUILD_TYPE`].
    pub build_type: String,
    /// The recipe.
    pub external_parameters: ExternalParameters,
    /// Every input with its digest.
    pub resolved_dependencies: Vec<ResourceDescriptor>,
}

/// `externalParameters`: the recipe, the platform, and every other parameter that changes
/// the image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExternalParameters {
    /// What was built.
    pub recipe: RecipeParameters,
    /// The platform.
    pub platform: String,
    /// What else the image depends on.
    #[serde(flatten)]
    pub build: BuildParameters,
}

/// The parameters of a build that change its result besides the recipe, for a family version
/// and a Dockerfile alike: a rebuild given the same ones gives the same digests, so
/// `verify --rebuild` reads them back from here.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildParameters {
    /// Every platform built into the image (its index lists them all), sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub platforms: Vec<String>,
    /// `--label`s, by value: the image config shows them anyway, and a rebuild needs them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// The standard annotations the builder gave the image (`org.opencontainers.image.source`,
    /// `revision`, `version`, `base.name`; see [`crate::ImageAnnotations::to_map`]): they are
    /// in its manifests, so its digests depend on them. `created` and `base.digest` are left
    /// out, since they follow from the build itself.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// The `SOURCE_DATE_EPOCH` the build stamped its times with (plinth's default when it was
    /// not set), when the builder says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_date_epoch: Option<u64>,
    /// The images the build replaced with stand-ins (`--substitute-image`): the address the
    /// recipe names → the one built from.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub substitutions: BTreeMap<String, String>,
}

impl BuildParameters {
    /// The parameters of an image of `platforms` with `labels`, annotated with `annotations`.
    pub fn new<'a>(
        platforms: impl IntoIterator<Item = &'a Platform>,
        labels: BTreeMap<String, String>,
        annotations: &crate::ImageAnnotations,
    ) -> Self {
        let mut platforms: Vec<String> = platforms.into_iter().map(ToString::to_string).collect();
        platforms.sort();
        platforms.dedup();
        Self {
            platforms,
            labels,
            annotations: annotations.to_map(),
            source_date_epoch: None,
            substitutions: BTreeMap::new(),
        }
    }

    /// The same, recording the images replaced with stand-ins (recipe's address, stand-in's).
    pub fn with_substitutions(
        mut self,
        substitutions: impl IntoIterator<Item = (String, String)>,
    ) -> Self {
        self.substitutions.extend(substitutions);
        self
    }

    /// The same, stamped with `epoch` (`SOURCE_DATE_EPOCH`).
    pub fn with_source_date_epoch(mut self, epoch: Option<u64>) -> Self {
        self.source_date_epoch = epoch;
        self
    }

    /// The annotations to give a rebuild.
    pub fn image_annotations(&self) -> crate::ImageAnnotations {
        crate::ImageAnnotations::from_map(&self.annotations)
    }
}

/// `runDetails`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunDetails {
    /// Who built it.
    pub builder: Builder,
    /// When (the reproducible time).
    pub metadata: BuildMetadata,
}

/// `runDetails.builder`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Builder {
    /// [`BUILDER_ID`].
    pub id: String,
    /// `plinth` → its version, `engine` → the executor (`embedded`, `buildkit`).
    pub version: BTreeMap<String, String>,
}

/// `runDetails.metadata`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildMetadata {
    /// The image's `created` time (reproducible: `SOURCE_DATE_EPOCH` or plinth's default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_on: Option<String>,
    /// The same time: a reproducible build has no wall-clock duration to attest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_on: Option<String>,
}

/// The SLSA v1 provenance predicate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Provenance {
    /// What was built from what.
    pub build_definition: BuildDefinition,
    /// Who built it, when.
    pub run_details: RunDetails,
}

/// What a provenance statement needs besides the build.
#[derive(Clone, Debug)]
pub struct ProvenanceContext<'a> {
    /// The recipe.
    pub recipe: &'a RecipeParameters,
    /// The executor's name (`embedded`, `buildkit`).
    pub engine: &'a str,
    /// The image's name for the subject (`registry/repository:tag` or the repository).
    pub image_name: &'a str,
    /// The build's other parameters (the same for every platform).
    pub build: &'a BuildParameters,
}

/// The provenance statement of one platform image whose published manifest is `subject`.
pub fn provenance_statement(
    context: &ProvenanceContext<'_>,
    build: &PlatformBuild,
    subject: &Digest,
) -> Statement<Provenance> {
    let created = build.config.created.clone();
    let mut dependencies: Vec<ResourceDescriptor> =
        build.inputs.iter().map(input_descriptor).collect();
    if let Some(label) = build
        .config
        .config
        .as_ref()
        .and_then(|c| c.labels.as_ref()?.get(DEBIAN_ARCHIVE_LABEL))
    {
        dependencies.extend(debian_archive_state(label));
    }
    let predicate = Provenance {
        build_definition: BuildDefinition {
            build_type: BUILD_TYPE.to_owned(),
            external_parameters: ExternalParameters {
                recipe: context.recipe.clone(),
                platform: build.platform.to_string(),
                build: context.build.clone(),
            },
            resolved_dependencies: dependencies,
        },
        run_details: RunDetails {
            builder: Builder {
                id: BUILDER_ID.to_owned(),
                version: BTreeMap::from([
                    ("plinth".to_owned(), env!("CARGO_PKG_VERSION").to_owned()),
                    ("engine".to_owned(), context.engine.to_owned()),
                ]),
            },
            metadata: BuildMetadata {
                started_on: created.clone(),
                finished_on: created,
            },
        },
    };
    Statement::about(context.image_name, subject, SLSA_PROVENANCE_V1, predicate)
}

fn input_descriptor(input: &BuildInput) -> ResourceDescriptor {
    let mut descriptor = ResourceDescriptor::named(input.name.clone(), input.digest.as_ref());
    descriptor.uri = match input.kind {
        InputKind::Url => Some(input.name.clone()),
        // A root's name is an address as the recipe writes it (a registry reference, an
        // `oci:` layout, a Debian root plinth makes): no single URI scheme fits them all.
        InputKind::RootImage | InputKind::HostFile | InputKind::HostDirectory => None,
    };
    descriptor
        .annotations
        .insert("kind".to_owned(), input.kind.as_str().to_owned());
    if let Some(index) = &input.index_digest {
        descriptor
            .annotations
            .insert("indexDigest".to_owned(), index.to_string());
    }
    if input.digest.is_none() {
        descriptor.annotations.insert(
            "digest".to_owned(),
            "not reported by the executor".to_owned(),
        );
    }
    descriptor
}

/// The Debian archive state from the root's label: one dependency per source, the digest of
/// its `InRelease` file, its `Date:` as an annotation.
fn debian_archive_state(label: &str) -> Vec<ResourceDescriptor> {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        Regex::new(r"([^\s,@()]+)@(sha256:[0-9a-f]{64}) \(([^)]*)\)").expect("valid regex")
    });
    re.captures_iter(label)
        .filter_map(|c| {
            let digest: Digest = c[2].parse().ok()?;
            Some(ResourceDescriptor {
                uri: None,
                name: Some(format!("debian:{}/InRelease", &c[1])),
                digest: digest_map(&digest),
                annotations: BTreeMap::from([
                    ("kind".to_owned(), "debian-archive".to_owned()),
                    ("date".to_owned(), c[3].to_owned()),
                ]),
            })
        })
        .collect()
}

/// The recipe and the build parameters a provenance predicate records.
pub fn recorded_parameters(
    predicate: &serde_json::Value,
) -> Option<(RecipeParameters, BuildParameters)> {
    let external = predicate.pointer("/buildDefinition/externalParameters")?;
    let parameters: ExternalParameters = serde_json::from_value(external.clone()).ok()?;
    Some((parameters.recipe, parameters.build))
}

/// The platform a provenance statement is about, from its externalParameters.
pub fn statement_platform(predicate: &serde_json::Value) -> Option<Platform> {
    predicate
        .pointer("/buildDefinition/externalParameters/platform")?
        .as_str()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests;
