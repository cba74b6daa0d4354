//! The store lock: writers share it, garbage collection takes it alone.
//!
//! `flock(2)` locks on `<root>/lock` are released by the kernel when the holder exits or
//! crashes, so a killed process never leaves the store locked.

use std::fs::{File, OpenOptions};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// A held store lock; dropping it releases the lock.
///
/// Hold a shared guard ([`Store::lock_shared`](super::Store::lock_shared)) across a whole
/// operation that writes blobs and then points a ref at them (a pull, a build, an import), so
/// that garbage collection in another process cannot remove the blobs in between.
#[derive(Debug)]
pub struct StoreLock {
    _file: File,
    exclusive: bool,
}

impl StoreLock {
    /// Whether this is the exclusive (garbage collection) lock.
    pub fn is_exclusive(&self) -> bool {
        self.exclusive
    }
}

fn open_lock_file(path: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| Error::io("open lock file", path, e))
}

/// Takes a shared lock, waiting for a running garbage collection to finish.
pub(super) fn lock_shared(path: &Path) -> Result<StoreLock> {
    let file = open_lock_file(path)?;
    file.lock_shared()
        .map_err(|e| Error::io("take shared lock on", path, e))?;
    Ok(StoreLock {
        _file: file,
        exclusive: false,
    })
}

/// Takes the exclusive lock, polling until `timeout` passes.
///
/// Polling rather than blocking: a process that holds a shared guard and then collects
/// garbage itself would otherwise wait for itself forever.
pub(super) fn lock_exclusive(path: &Path, timeout: Duration) -> Result<StoreLock> {
    let file = open_lock_file(path)?;
    let start = Instant::now();
    let mut pause = Duration::from_millis(5);
    loop {
        match file.try_lock() {
            Ok(()) => {
                return Ok(StoreLock {
                    _file: file,
                    exclusive: true,
                });
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                if start.elapsed() >= timeout {
                    let busy = std::io::Error::new(
                        std::io::ErrorKind::WouldBlock,
                        format!(
                            "the store is in use by another plinth operation (waited {:.1}s); retry when pulls, builds and exports have finished",
                            timeout.as_secs_f64()
                        ),
                    );
                    return Err(Error::io("take exclusive lock on", path, busy));
                }
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(200));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(Error::io("take exclusive lock on", path, e));
            }
        }
    }
}
