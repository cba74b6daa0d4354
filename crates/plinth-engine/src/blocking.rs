//! Running the async registry and HTTP clients from the synchronous engine.

use std::future::Future;

/// Runs `future` to completion on a fresh current-thread runtime in a scoped thread, so it works
/// whether or not the caller is itself inside a tokio runtime. Returns `None` when the runtime
/// could not start or the future panicked.
pub(crate) fn block_on<F>(future: F) -> Option<F::Output>
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
