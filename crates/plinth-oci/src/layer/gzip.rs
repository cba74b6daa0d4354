//! The gzip stream of a layer: deflate at [`GZIP_LEVEL`] where it pays, stored blocks where the
//! data is already compressed or random.
//!
//! Deflating incompressible bytes costs as much as deflating text and saves nothing: a layer of
//! a 1 GiB archive of such data spent most of its build in the compressor. So the tar stream is
//! cut into [`CHUNK`]-byte pieces at fixed offsets and each is judged by its byte histogram: a
//! piece whose bytes are spread almost evenly over all 256 values (order-2 Rényi entropy of at
//! least about 7.91 bits a byte, an integer test, so every machine decides alike) is written as
//! stored blocks, the rest at [`GZIP_LEVEL`]. Where the kind changes, the stream is
//! sync-flushed and the level switched. The bytes depend only on the tar's bytes, never on how
//! they were handed to [`write`](std::io::Write::write), so the same layer always gets the same
//! digest. Bytes that repeat within deflate's 32 KiB window but are otherwise evenly spread
//! (the same random block twice in a row) are stored although deflate could shrink them: rare
//! in layers, and the price of a test that costs one pass over the histogram.
//!
//! The header has no name and mtime 0, and the OS byte 255 ("unknown"), as Go and Docker write
//! it; the trailer is the CRC-32 and length of the tar.

use std::io::{self, Write};

use flate2::{Compress, Crc, FlushCompress, Status};

/// The gzip level of compressible pieces: fixed, so the same tar always gives the same bytes.
pub const GZIP_LEVEL: u32 = 6;
/// How many tar bytes are judged at a time.
pub(crate) const CHUNK: usize = 64 * 1024;
/// The gzip header: magic, deflate, no flags, mtime 0, no extra flags, OS 255.
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];
/// Room for one call's output: a stored chunk is the chunk plus a few block headers.
const OUT_ROOM: usize = CHUNK + 4096;

/// A gzip encoder writing into `W`, choosing per piece between deflate and stored blocks.
pub(crate) struct LayerGzip<W: Write> {
    out: W,
    deflate: Compress,
    crc: Crc,
    /// Tar bytes not judged yet (fewer than [`CHUNK`]).
    pending: Vec<u8>,
    /// Whether the deflater is set to stored blocks (level 0).
    storing: bool,
    /// Compressed bytes of one call, written out after it.
    staged: Vec<u8>,
}

impl<W: Write> LayerGzip<W> {
    /// Starts the stream: writes the header into `out`.
    pub(crate) fn new(mut out: W) -> io::Result<Self> {
        out.write_all(&HEADER)?;
        Ok(Self {
            out,
            deflate: Compress::new(flate2::Compression::new(GZIP_LEVEL), false),
            crc: Crc::new(),
            pending: Vec::with_capacity(CHUNK),
            storing: false,
            staged: Vec::with_capacity(OUT_ROOM),
        })
    }

    /// Ends the deflate stream, writes the trailer and returns the inner writer.
    pub(crate) fn finish(mut self) -> io::Result<W> {
        let rest = std::mem::take(&mut self.pending);
        self.piece(&rest)?;
        self.drive(&[], FlushCompress::Finish)?;
        // The length is stored modulo 2^32, as gzip defines it.
        let trailer = [self.crc.sum(), self.crc.amount()];
        for word in trailer {
            self.out.write_all(&word.to_le_bytes())?;
        }
        Ok(self.out)
    }

    /// Deflates one piece (a whole [`CHUNK`] except at the end) with the level it calls for.
    fn piece(&mut self, bytes: &[u8]) -> io::Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        let store = looks_incompressible(bytes);
        if store != self.storing {
            // The level may change only once everything before is out of the deflater.
            if self.deflate.total_in() > 0 {
                self.drive(&[], FlushCompress::Sync)?;
            }
            let level = if store { 0 } else { GZIP_LEVEL };
            self.deflate
                .set_level(flate2::Compression::new(level))
                .map_err(io::Error::other)?;
            self.storing = store;
        }
        self.crc.update(bytes);
        self.drive(bytes, FlushCompress::None)
    }

    /// Feeds `input` with `flush` until the deflater took it all and has nothing more to give
    /// for it (for `Finish`: until the stream ended), writing the output as it comes.
    fn drive(&mut self, mut input: &[u8], flush: FlushCompress) -> io::Result<()> {
        loop {
            self.staged.clear();
            let before = self.deflate.total_in();
            let status = self
                .deflate
                .compress_vec(input, &mut self.staged, flush)
                .map_err(io::Error::other)?;
            let taken =
                usize::try_from(self.deflate.total_in() - before).map_err(io::Error::other)?;
            input = &input[taken..];
            self.out.write_all(&self.staged)?;
            let finishing = matches!(flush, FlushCompress::Finish);
            let room_left = self.staged.len() < self.staged.capacity();
            match status {
                Status::StreamEnd => return Ok(()),
                // Nothing to do: the input is in and a repeated flush has nothing to add.
                Status::BufError if !finishing => return Ok(()),
                Status::BufError => {
                    return Err(io::Error::other("the deflater stopped before the end"));
                }
                Status::Ok if !finishing && input.is_empty() && room_left => return Ok(()),
                Status::Ok => {}
            }
        }
    }
}

impl<W: Write> Write for LayerGzip<W> {
    fn write(&mut self, mut buf: &[u8]) -> io::Result<usize> {
        let n = buf.len();
        while !buf.is_empty() {
            if self.pending.is_empty() && buf.len() >= CHUNK {
                // Whole pieces straight from the caller's buffer, without a copy.
                let (piece, rest) = buf.split_at(CHUNK);
                self.piece(piece)?;
                buf = rest;
                continue;
            }
            let take = (CHUNK - self.pending.len()).min(buf.len());
            self.pending.extend_from_slice(&buf[..take]);
            buf = &buf[take..];
            if self.pending.len() == CHUNK {
                let piece = std::mem::take(&mut self.pending);
                self.piece(&piece)?;
                self.pending = piece;
                self.pending.clear();
            }
        }
        Ok(n)
    }

    /// Pushes what the deflater gave so far to the inner writer; it does not flush the
    /// deflater, so the bytes of the stream stay the same however often this is called.
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Whether `bytes` are spread so evenly over the 256 byte values that deflate would not shrink
/// them: `256 · Σ count² ≤ (17/16) · n²`, i.e. an order-2 Rényi entropy of at least
/// 8 − log2(17/16) ≈ 7.91 bits a byte. Random data of a full piece scores about 1.004 on the
/// left side's scale; text, code and binaries score far above 1.0625.
pub(crate) fn looks_incompressible(bytes: &[u8]) -> bool {
    // Four histograms, so consecutive equal bytes do not wait on one counter.
    let mut counts = [[0u32; 256]; 4];
    let mut quads = bytes.chunks_exact(4);
    for q in &mut quads {
        counts[0][usize::from(q[0])] += 1;
        counts[1][usize::from(q[1])] += 1;
        counts[2][usize::from(q[2])] += 1;
        counts[3][usize::from(q[3])] += 1;
    }
    for &b in quads.remainder() {
        counts[0][usize::from(b)] += 1;
    }
    let squares: u64 = (0..256)
        .map(|v| {
            let c = u64::from(counts[0][v] + counts[1][v] + counts[2][v] + counts[3][v]);
            c * c
        })
        .sum();
    let n = bytes.len() as u64;
    256 * 16 * squares <= 17 * n * n
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    use super::*;

    /// Deterministic bytes that look random (xorshift).
    fn noise(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    }

    fn text(len: usize) -> Vec<u8> {
        b"fn main() { println!(\"a layer of ordinary source text\"); }\n"
            .iter()
            .copied()
            .cycle()
            .take(len)
            .collect()
    }

    fn gzip_in(data: &[u8], write_size: usize) -> Vec<u8> {
        let mut gz = LayerGzip::new(Vec::new()).unwrap();
        for piece in data.chunks(write_size.max(1)) {
            gz.write_all(piece).unwrap();
        }
        gz.finish().unwrap()
    }

    fn gunzip(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn random_pieces_are_stored_and_text_is_deflated() {
        assert!(looks_incompressible(&noise(CHUNK, 7)));
        assert!(!looks_incompressible(&text(CHUNK)));
        // All 256 values, each equally often, but in runs: even, so judged incompressible by
        // the histogram alone (the documented price).
        let runs: Vec<u8> = (0..=255u8).flat_map(|b| [b; 256]).collect();
        assert!(looks_incompressible(&runs));
        assert!(!looks_incompressible(&[0u8; CHUNK]));
        assert!(!looks_incompressible(b"a"));

        let random = noise(4 * CHUNK, 3);
        let stored = gzip_in(&random, 8192);
        assert_eq!(gunzip(&stored), random);
        // Stored blocks: the data plus a few bytes of headers per 64 KiB block, and the frame.
        assert!(
            stored.len() <= random.len() + 4 * 16 + 18,
            "{}",
            stored.len()
        );
        let plain = text(4 * CHUNK);
        let deflated = gzip_in(&plain, 8192);
        assert_eq!(gunzip(&deflated), plain);
        assert!(deflated.len() < plain.len() / 50, "{}", deflated.len());
    }

    #[test]
    fn the_bytes_do_not_depend_on_how_the_input_was_split() {
        // Text, noise, text, noise and a short tail: four level switches.
        let mut data = text(CHUNK + 1000);
        data.extend(noise(2 * CHUNK + 17, 11));
        data.extend(text(3 * CHUNK));
        data.extend(noise(CHUNK - 5, 12));
        data.extend(text(333));
        let whole = gzip_in(&data, data.len());
        for size in [1, 511, 512, 4096, CHUNK - 1, CHUNK, CHUNK + 1, 200_000] {
            assert_eq!(gzip_in(&data, size), whole, "write size {size}");
        }
        assert_eq!(gunzip(&whole), data);
        assert_eq!(&whole[..10], &HEADER);
        let n = whole.len();
        assert_eq!(
            &whole[n - 4..],
            &(data.len() as u32).to_le_bytes(),
            "the trailer ends with the length"
        );
    }

    #[test]
    fn empty_input_is_a_valid_empty_stream() {
        let empty = gzip_in(&[], 1);
        assert_eq!(gunzip(&empty), b"");
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&empty[..])
            .read_to_end(&mut out)
            .unwrap();
        assert!(out.is_empty());
    }
}
