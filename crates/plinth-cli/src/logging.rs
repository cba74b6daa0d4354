//! The tracing subscriber: only the binary installs one.

use tracing_subscriber::EnvFilter;

use crate::printer::Verbosity;

/// Installs a stderr subscriber whose default level follows `-v`/`-q`; `RUST_LOG` overrides it.
pub fn init(verbosity: Verbosity) {
    let default = match verbosity {
        Verbosity::Quiet => "error",
        Verbosity::Normal => "warn",
        Verbosity::Verbose => "info,plinth=debug",
    };
    let filter =
        EnvFilter::try_from_env(crate::env::RUST_LOG).unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
