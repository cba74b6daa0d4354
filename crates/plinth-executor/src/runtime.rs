//! The one async runtime of a plinth process, and running futures on it from synchronous code.
//!
//! The executors, the release flow and the CLI are synchronous, while the registry and HTTP
//! clients are async. They all run their futures on [`shared_runtime`], created on first use and
//! kept for the life of the process, so a registry client's connections stay on the runtime
//! that opened them (a connection pool must not outlive its runtime) and no call pays for a
//! runtime of its own.

use std::future::Future;
use std::sync::OnceLock;

use tokio::runtime::{Handle, Runtime};

static SHARED: OnceLock<Result<Runtime, String>> = OnceLock::new();

/// The process's runtime (multi-threaded, I/O and timers enabled), started on first use.
pub fn shared_runtime() -> std::io::Result<Handle> {
    let runtime = SHARED.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .thread_name("plinth-io")
            .enable_all()
            .build()
            .map_err(|e| e.to_string())
    });
    match runtime {
        Ok(runtime) => Ok(runtime.handle().clone()),
        Err(e) => Err(std::io::Error::other(e.clone())),
    }
}

/// Runs `future` to completion on [`shared_runtime`] from synchronous code. Called from inside
/// an async context (where blocking the thread is not allowed), it blocks a scoped helper thread
/// instead. Returns `None` when the runtime could not start or the future panicked.
pub fn block_on<F>(future: F) -> Option<F::Output>
where
    F: Future + Send,
    F::Output: Send,
{
    let handle = shared_runtime().ok()?;
    if Handle::try_current().is_err() {
        return std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handle.block_on(future)))
            .ok();
    }
    std::thread::scope(|s| s.spawn(|| handle.block_on(future)).join().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_runtime_serves_sync_and_async_callers() {
        let id = || block_on(async { Handle::current().id() }).unwrap();
        let first = id();
        assert_eq!(id(), first, "the same runtime every time");
        assert_eq!(shared_runtime().unwrap().id(), first);
        // From inside another runtime's task, without panicking on a nested block_on.
        let other = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let inside = other.block_on(async { block_on(async { Handle::current().id() }) });
        assert_eq!(inside, Some(first));
        assert_eq!(block_on(async { panic!("boom") }), None::<()>);
    }
}
