//! Layer compression formats: a leaf module, so media types (`media_type`) and layer writing
//! and reading (`layer`) both name it without depending on each other.

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// How a layer blob is compressed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Compression {
    /// Plain tar.
    None,
    /// gzip (default: every client can read it).
    #[default]
    Gzip,
    /// zstd (smaller and faster; old docker cannot pull it).
    Zstd,
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::None => "none",
            Self::Gzip => "gzip",
            Self::Zstd => "zstd",
        })
    }
}

impl FromStr for Compression {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "none" | "uncompressed" => Ok(Self::None),
            "gzip" => Ok(Self::Gzip),
            "zstd" => Ok(Self::Zstd),
            other => Err(Error::Layer(format!(
                "unknown compression `{other}`: use gzip, zstd or none"
            ))),
        }
    }
}
