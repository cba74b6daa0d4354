//! Layers: deterministic tar writing, safe unpacking, compression.

mod compression;

pub use compression::Compression;
