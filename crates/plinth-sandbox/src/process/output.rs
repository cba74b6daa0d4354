//! What a run produces: output streamed to an [`OutputSink`], a bounded tail of it, and the
//! exit status.

use std::collections::VecDeque;
use std::time::Duration;

/// Which stream a chunk of output came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputStream {
    /// The command's stdout.
    Stdout,
    /// The command's stderr.
    Stderr,
}

/// Receives output while the command runs, in chunks as they arrive.
pub trait OutputSink {
    /// Called for each chunk read from `stream`.
    fn on_output(&mut self, stream: OutputStream, chunk: &[u8]);
}

impl<F: FnMut(OutputStream, &[u8])> OutputSink for F {
    fn on_output(&mut self, stream: OutputStream, chunk: &[u8]) {
        self(stream, chunk)
    }
}

/// A sink that drops everything (the tails in [`RunOutcome`] are still kept).
#[derive(Debug, Default, Clone, Copy)]
pub struct DiscardOutput;

impl OutputSink for DiscardOutput {
    fn on_output(&mut self, _stream: OutputStream, _chunk: &[u8]) {}
}

/// How the command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// It exited with this code.
    Exited(i32),
    /// It was killed by this signal.
    Signaled(i32),
}

impl ExitStatus {
    /// Exited with code 0.
    pub fn success(self) -> bool {
        self == ExitStatus::Exited(0)
    }

    /// The exit code, or `128 + signal` as a shell reports it.
    pub fn code(self) -> i32 {
        match self {
            ExitStatus::Exited(code) => code,
            ExitStatus::Signaled(signal) => 128 + signal,
        }
    }
}

impl std::fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExitStatus::Exited(code) => write!(f, "exit code {code}"),
            ExitStatus::Signaled(signal) => write!(f, "killed by signal {signal}"),
        }
    }
}

/// The result of a run that started.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// How the command ended.
    pub status: ExitStatus,
    /// The last bytes of stdout (at most the spec's tail size).
    pub stdout_tail: Vec<u8>,
    /// The last bytes of stderr (at most the spec's tail size).
    pub stderr_tail: Vec<u8>,
    /// Whether the sandbox was killed because the timeout passed.
    pub timed_out: bool,
    /// Wall time from clone to exit.
    pub duration: Duration,
}

/// The last `limit` bytes of a stream.
#[derive(Debug)]
pub(crate) struct Tail {
    limit: usize,
    bytes: VecDeque<u8>,
}

impl Tail {
    pub(crate) fn new(limit: usize) -> Self {
        Tail {
            limit,
            bytes: VecDeque::new(),
        }
    }

    pub(crate) fn push(&mut self, chunk: &[u8]) {
        let chunk = &chunk[chunk.len().saturating_sub(self.limit)..];
        let overflow = (self.bytes.len() + chunk.len()).saturating_sub(self.limit);
        self.bytes.drain(..overflow);
        self.bytes.extend(chunk);
    }

    pub(crate) fn into_vec(self) -> Vec<u8> {
        self.bytes.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_last_bytes() {
        let mut t = Tail::new(5);
        t.push(b"abc");
        t.push(b"defg");
        assert_eq!(t.into_vec(), b"cdefg");
        let mut t = Tail::new(3);
        t.push(b"0123456789");
        assert_eq!(t.into_vec(), b"789");
        let mut t = Tail::new(0);
        t.push(b"x");
        assert!(t.into_vec().is_empty());
    }

    #[test]
    fn exit_status_codes() {
        assert!(ExitStatus::Exited(0).success());
        assert_eq!(ExitStatus::Exited(7).code(), 7);
        assert_eq!(ExitStatus::Signaled(9).code(), 137);
    }
}
