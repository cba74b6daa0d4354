//! The OCI core of plinth: the image model and the bytes behind it.
//!
//! - [`Digest`], [`Reference`], [`Platform`], [`MediaType`]: parsed newtypes with clear errors.
//! - [`ImageManifest`], [`ImageIndex`], [`ImageConfig`]: OCI and Docker schema 2 documents,
//!   written as [canonical JSON](canonical) so the same image always has the same digest.
//! - [`layer`]: deterministic tar writing, safe unpacking, gzip/zstd.
//!
//! Everything here is synchronous and free of network code; the registry client and the build
//! engine sit on top.
//!
//! ```
//! use plinth_oci::{Reference, Digest};
//! let r: Reference = "python:3.10".parse().unwrap();
//! assert_eq!(r.to_string(), "docker.io/library/python:3.10");
//! assert_eq!(Digest::of(b"").hex().len(), 64);
//! ```

#![deny(missing_docs)]

pub mod artifact;
pub mod canonical;
pub mod compression;
pub mod config;
pub mod descriptor;
pub mod digest;
pub mod docker_archive;
pub mod error;
pub mod fs;
pub mod image;
pub mod layer;
pub mod layout;
pub mod location;
pub mod manifest;
pub mod media_type;
pub mod platform;
pub mod reference;
pub mod rootfs;
pub mod store;
pub mod time;

pub use artifact::Artifact;
pub use config::{History, ImageConfig, RootFs, RuntimeConfig};
pub use descriptor::Descriptor;
pub use digest::Digest;
pub use error::{Error, Result, error_chain};
pub use location::{ArchiveImage, ImageLocation};
pub use manifest::{ImageIndex, ImageManifest, ManifestDocument};
pub use media_type::{MediaType, MediaTypeFlavor};
pub use platform::Platform;
pub use reference::Reference;
pub use store::Store;
