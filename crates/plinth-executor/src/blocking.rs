//! Running async HTTP and registry clients from the synchronous executors.

use std::future::Future;

/// Runs `future` to completion on a fresh current-thread runtime in a scoped thread, so it works
/// whether or not the caller is itself inside a tokio runtime. Returns `None` when the runtime
/// could not start or the future panicked.
pub fn block_on<F>(future: F) -> Option<F::Output>
where
    F: Future + Send,
    F::Output: Send,
{
    std::thread::scope(|s| {
        s.spawn(|| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            Some(runtime.block_on(future))
        })
        .join()
        .ok()
        .flatten()
    })
}
