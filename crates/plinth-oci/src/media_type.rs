//! Media types of manifests, indexes, configs and layers, OCI and Docker schema 2 alike.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::compression::Compression;

/// A media type. Unknown values are kept verbatim so that foreign content round-trips.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MediaType {
    /// `application/vnd.oci.image.index.v1+json`
    OciIndex,
    /// `application/vnd.oci.image.manifest.v1+json`
    OciManifest,
    /// `application/vnd.oci.image.config.v1+json`
    OciConfig,
    /// `application/vnd.oci.image.layer.v1.tar`
    OciLayer,
    /// `application/vnd.oci.image.layer.v1.tar+gzip`
    OciLayerGzip,
    /// `application/vnd.oci.image.layer.v1.tar+zstd`
    OciLayerZstd,
    /// `application/vnd.docker.distribution.manifest.list.v2+json`
    DockerManifestList,
    /// `application/vnd.docker.distribution.manifest.v2+json`
    DockerManifest,
    /// `application/vnd.docker.container.image.v1+json`
    DockerConfig,
    /// `application/vnd.docker.image.rootfs.diff.tar.gzip`
    DockerLayerGzip,
    /// `application/vnd.docker.image.rootfs.foreign.diff.tar.gzip` (Windows base layers; never pushed by plinth)
    DockerForeignLayerGzip,
    /// Any other media type, kept as written.
    Other(String),
}

impl MediaType {
    /// The wire string.
    pub fn as_str(&self) -> &str {
        match self {
            Self::OciIndex => "application/vnd.oci.image.index.v1+json",
            Self::OciManifest => "application/vnd.oci.image.manifest.v1+json",
            Self::OciConfig => "application/vnd.oci.image.config.v1+json",
            Self::OciLayer => "application/vnd.oci.image.layer.v1.tar",
            Self::OciLayerGzip => "application/vnd.oci.image.layer.v1.tar+gzip",
            Self::OciLayerZstd => "application/vnd.oci.image.layer.v1.tar+zstd",
            Self::DockerManifestList => "application/vnd.docker.distribution.manifest.list.v2+json",
            Self::DockerManifest => "application/vnd.docker.distribution.manifest.v2+json",
            Self::DockerConfig => "application/vnd.docker.container.image.v1+json",
            Self::DockerLayerGzip => "application/vnd.docker.image.rootfs.diff.tar.gzip",
            Self::DockerForeignLayerGzip => {
                "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
            }
            Self::Other(s) => s,
        }
    }

    /// Parses a wire string; never fails.
    pub fn parse(s: &str) -> Self {
        // Registries sometimes append parameters (`; charset=utf-8`); they never change the type.
        let s = s.split(';').next().unwrap_or("").trim();
        match s {
            "application/vnd.oci.image.index.v1+json" => Self::OciIndex,
            "application/vnd.oci.image.manifest.v1+json" => Self::OciManifest,
            "application/vnd.oci.image.config.v1+json" => Self::OciConfig,
            "application/vnd.oci.image.layer.v1.tar" => Self::OciLayer,
            "application/vnd.oci.image.layer.v1.tar+gzip" => Self::OciLayerGzip,
            "application/vnd.oci.image.layer.v1.tar+zstd" => Self::OciLayerZstd,
            "application/vnd.docker.distribution.manifest.list.v2+json" => Self::DockerManifestList,
            "application/vnd.docker.distribution.manifest.v2+json" => Self::DockerManifest,
            "application/vnd.docker.container.image.v1+json" => Self::DockerConfig,
            "application/vnd.docker.image.rootfs.diff.tar.gzip" => Self::DockerLayerGzip,
            "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip" => {
                Self::DockerForeignLayerGzip
            }
            other => Self::Other(other.to_owned()),
        }
    }

    /// An index or manifest list.
    pub fn is_index(&self) -> bool {
        matches!(self, Self::OciIndex | Self::DockerManifestList)
    }

    /// A single-platform image manifest.
    pub fn is_manifest(&self) -> bool {
        matches!(self, Self::OciManifest | Self::DockerManifest)
    }

    /// Either kind of manifest document.
    pub fn is_manifest_or_index(&self) -> bool {
        self.is_index() || self.is_manifest()
    }

    /// How a layer of this type is compressed, if it is a layer type plinth can read.
    pub fn layer_compression(&self) -> Option<Compression> {
        match self {
            Self::OciLayer => Some(Compression::None),
            Self::OciLayerGzip | Self::DockerLayerGzip | Self::DockerForeignLayerGzip => {
                Some(Compression::Gzip)
            }
            Self::OciLayerZstd => Some(Compression::Zstd),
            Self::Other(s) if s.ends_with(".tar") => Some(Compression::None),
            Self::Other(s) if s.ends_with("+gzip") || s.ends_with(".tar.gzip") => {
                Some(Compression::Gzip)
            }
            Self::Other(s) if s.ends_with("+zstd") => Some(Compression::Zstd),
            _ => None,
        }
    }

    /// The `Accept` header value for pulling any manifest or index.
    pub const MANIFEST_ACCEPT: &'static str = "application/vnd.oci.image.index.v1+json, \
        application/vnd.docker.distribution.manifest.list.v2+json, \
        application/vnd.oci.image.manifest.v1+json, \
        application/vnd.docker.distribution.manifest.v2+json";
}

/// Which family of media types plinth writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum MediaTypeFlavor {
    /// OCI image-spec types (default).
    #[default]
    Oci,
    /// Docker schema 2 types, for old docker clients.
    Docker,
}

impl MediaTypeFlavor {
    /// The index type of this flavor.
    pub fn index(self) -> MediaType {
        match self {
            Self::Oci => MediaType::OciIndex,
            Self::Docker => MediaType::DockerManifestList,
        }
    }

    /// The manifest type of this flavor.
    pub fn manifest(self) -> MediaType {
        match self {
            Self::Oci => MediaType::OciManifest,
            Self::Docker => MediaType::DockerManifest,
        }
    }

    /// The config type of this flavor.
    pub fn config(self) -> MediaType {
        match self {
            Self::Oci => MediaType::OciConfig,
            Self::Docker => MediaType::DockerConfig,
        }
    }

    /// The layer type of this flavor for a compression. Docker schema 2 has no zstd type.
    pub fn layer(self, compression: Compression) -> MediaType {
        match (self, compression) {
            (Self::Oci, Compression::None) => MediaType::OciLayer,
            (Self::Oci, Compression::Gzip) => MediaType::OciLayerGzip,
            (Self::Oci, Compression::Zstd) => MediaType::OciLayerZstd,
            (Self::Docker, Compression::Gzip) => MediaType::DockerLayerGzip,
            // Docker clients that read schema 2 only know gzip; fall back to OCI names, which newer
            // dockers accept inside a schema 2 manifest.
            (Self::Docker, Compression::None) => MediaType::OciLayer,
            (Self::Docker, Compression::Zstd) => MediaType::OciLayerZstd,
        }
    }
}

impl fmt::Display for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for MediaType {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for MediaType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Ok(Self::parse(&s))
    }
}
