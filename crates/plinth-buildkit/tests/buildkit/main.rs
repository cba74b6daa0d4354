//! BuildKit integration tests: a real dockerd with its built-in BuildKit, a real loopback
//! registry, arm64 through binfmt/qemu, and the embedded engine as the reference.

mod cache;
mod common;
mod compare;
mod context_links;
mod errors;
mod mirrors;
