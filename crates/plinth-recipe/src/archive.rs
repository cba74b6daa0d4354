//! Local archives a Dockerfile `ADD` extracts: a tar stream, plain or compressed with gzip,
//! bzip2, xz or zstd, told by its content (never its name), as BuildKit tells it. Archives are
//! read as streams: nothing here holds more than a decoder's window in memory.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

/// How an archive is compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArchiveCompression {
    /// A plain tar.
    None,
    /// gzip.
    Gzip,
    /// xz.
    Xz,
    /// zstd.
    Zstd,
    /// bzip2.
    Bzip2,
}

fn compression_of(head: &[u8]) -> ArchiveCompression {
    if head.starts_with(&[0x1f, 0x8b]) {
        ArchiveCompression::Gzip
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        ArchiveCompression::Xz
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        ArchiveCompression::Zstd
    } else if head.starts_with(b"BZh") {
        ArchiveCompression::Bzip2
    } else {
        ArchiveCompression::None
    }
}

/// The decompressed stream of the file at `path`.
pub fn open_archive(path: &Path) -> io::Result<Box<dyn Read>> {
    let mut head = [0u8; 6];
    let n = File::open(path)?.read(&mut head)?;
    let file = BufReader::new(File::open(path)?);
    Ok(match compression_of(&head[..n]) {
        ArchiveCompression::None => Box::new(file),
        ArchiveCompression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(file)),
        ArchiveCompression::Xz => Box::new(liblzma::read::XzDecoder::new_multi_decoder(file)),
        ArchiveCompression::Zstd => Box::new(zstd::stream::read::Decoder::new(file)?),
        ArchiveCompression::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(file)),
    })
}

/// Whether the file at `path` is an archive `ADD` extracts, and its compression: its
/// (decompressed) first block is a tar header.
pub fn sniff_archive(path: &Path) -> io::Result<Option<ArchiveCompression>> {
    let mut head = [0u8; 6];
    let n = File::open(path)?.read(&mut head)?;
    let compression = compression_of(&head[..n]);
    let mut block = Vec::with_capacity(512);
    // A compressed file that is not valid stops here: BuildKit copies it as it is.
    let Ok(stream) = open_archive(path) else {
        return Ok(None);
    };
    if stream.take(512).read_to_end(&mut block).is_err() || block.len() < 512 {
        return Ok(None);
    }
    Ok(is_tar_header(&block).then_some(compression))
}

/// A ustar/GNU header with a valid checksum.
fn is_tar_header(block: &[u8]) -> bool {
    let magic = &block[257..262] == b"ustar";
    let stored = std::str::from_utf8(&block[148..156])
        .ok()
        .and_then(|s| u32::from_str_radix(s.trim_matches(|c: char| c == '\0' || c == ' '), 8).ok());
    let sum: u32 = block
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if (148..156).contains(&i) {
                32
            } else {
                u32::from(*b)
            }
        })
        .sum();
    magic && stored == Some(sum)
}
