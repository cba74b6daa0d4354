//! Comparing images: what `plinth diff` and `plinth verify --rebuild` print, and the package
//! summary `generate-release` offers as a changelog draft.
//!
//! - [`files`]: a layer's entries as facts (path, type, mode, owner, size, mtime, content
//!   hash), streamed from the blob;
//! - [`layers`]: the file-level difference of two layers, each path marked when it is
//!   [`noise`] (apt/dpkg logs, the ldconfig aux-cache, `.pyc` files, `/var/log`), which is
//!   named as such and never dropped;
//! - [`config`]: the fields of two JSON documents (configs, manifests, indexes) that differ;
//! - [`packages`]: packages added, removed and upgraded between two SBOMs, and
//!   [`summarize`](packages::summarize) for a changelog line;
//! - [`pairing`]: which layer is compared with which (identical layers by diff_id wherever
//!   they sit, the rest by position);
//! - [`image`]: two images of one store compared root, platform, manifest, config and layer by
//!   layer ([`compare_images`]);
//! - [`render`]: the text form ([`render_text`]); the JSON form is the comparison serialized.

pub mod config;
mod error;
pub mod files;
pub mod image;
pub mod layers;
pub mod noise;
pub mod packages;
pub mod pairing;
pub mod render;

pub use error::{Error, Result};
pub use image::{
    CompareOptions, ImageComparison, Named, PlatformComparison, compare_images, image_packages,
};
pub use packages::{PackageChange, PackageSet, diff_packages, summarize};
pub use render::{TextOptions, render_text};
