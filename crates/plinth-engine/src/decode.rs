//! Decompressing a layer blob on a second thread while the unpacker writes files.
//!
//! Unpacking a base image is the bulk of a cold build: inflating ~60 MB of gzip costs about as
//! much CPU as creating the ~8,000 files it holds. Done in one thread the two add up; here the
//! blob is decompressed on its own thread and handed over in 256 KiB chunks through a small
//! bounded channel, so the unpacker (which still hashes the tar stream for the diff_id) only
//! reads memory.

use std::io::{self, Read};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use plinth_oci::layer::Compression;

/// Size of one chunk handed from the decoder thread to the reader.
const CHUNK_BYTES: usize = 256 * 1024;
/// Chunks in flight (bounds the memory used to `CHUNK_BYTES * DEPTH`).
const DEPTH: usize = 8;

/// The decompressed stream of a blob, produced by a background thread.
pub(crate) struct ThreadedDecoder {
    rx: Receiver<Vec<u8>>,
    current: Vec<u8>,
    pos: usize,
    handle: Option<JoinHandle<io::Result<()>>>,
}

impl ThreadedDecoder {
    /// Starts decompressing `blob` (`compression` as detected from its media type; `None`
    /// passes it through).
    pub(crate) fn spawn<R: Read + Send + 'static>(
        blob: R,
        compression: Compression,
    ) -> io::Result<Self> {
        let (tx, rx) = sync_channel(DEPTH);
        let handle = std::thread::Builder::new()
            .name("layer-decode".into())
            .spawn(move || -> io::Result<()> {
                match compression {
                    Compression::None => pump(blob, &tx),
                    Compression::Gzip => pump(flate2::read::MultiGzDecoder::new(blob), &tx),
                    Compression::Zstd => pump(zstd::stream::read::Decoder::new(blob)?, &tx),
                }
            })?;
        Ok(Self {
            rx,
            current: Vec::new(),
            pos: 0,
            handle: Some(handle),
        })
    }

    /// Waits for the decoder thread; its error, if it had one (a corrupt stream), explains a
    /// failed or short unpack better than the unpacker's own error.
    pub(crate) fn finish(mut self) -> io::Result<()> {
        // Unblock the thread if the reader stopped early.
        drop(std::mem::replace(&mut self.rx, sync_channel(0).1));
        match self.handle.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(io::Error::other("the layer decoder thread panicked")),
            None => Ok(()),
        }
    }
}

/// Reads `reader` to the end in chunks and sends them; stops quietly when the receiver is gone.
fn pump<R: Read>(mut reader: R, tx: &SyncSender<Vec<u8>>) -> io::Result<()> {
    loop {
        let mut chunk = vec![0u8; CHUNK_BYTES];
        let mut filled = 0;
        while filled < CHUNK_BYTES {
            match reader.read(&mut chunk[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if filled == 0 {
            return Ok(());
        }
        chunk.truncate(filled);
        if tx.send(chunk).is_err() {
            return Ok(());
        }
    }
}

impl Read for ThreadedDecoder {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.current.len() {
            match self.rx.recv() {
                Ok(chunk) => {
                    self.current = chunk;
                    self.pos = 0;
                }
                // The sender is gone: the end of the stream, or a decoder error that `finish`
                // reports.
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len() - self.pos);
        buf[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    #[test]
    fn decodes_gzip_across_many_chunks_and_reports_corruption() {
        let data: Vec<u8> = (0..3 * CHUNK_BYTES + 17).map(|i| (i % 251) as u8).collect();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&data).unwrap();
        let packed = gz.finish().unwrap();

        let mut decoder =
            ThreadedDecoder::spawn(io::Cursor::new(packed.clone()), Compression::Gzip).unwrap();
        let mut out = Vec::new();
        decoder.read_to_end(&mut out).unwrap();
        decoder.finish().unwrap();
        assert_eq!(out, data);

        let mut broken = packed;
        let mid = broken.len() / 2;
        broken[mid] ^= 0xff;
        broken.truncate(broken.len() - 4);
        let mut decoder =
            ThreadedDecoder::spawn(io::Cursor::new(broken), Compression::Gzip).unwrap();
        let mut out = Vec::new();
        decoder.read_to_end(&mut out).unwrap();
        assert!(
            decoder.finish().is_err(),
            "a corrupt gzip stream must be reported"
        );
    }

    #[test]
    fn a_reader_that_stops_early_does_not_hang_the_thread() {
        let data = vec![7u8; 40 * CHUNK_BYTES];
        let mut decoder = ThreadedDecoder::spawn(io::Cursor::new(data), Compression::None).unwrap();
        let mut first = [0u8; 10];
        decoder.read_exact(&mut first).unwrap();
        decoder.finish().unwrap();
    }
}
