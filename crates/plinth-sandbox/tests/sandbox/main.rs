//! Integration tests of the sandbox with real namespaces, overlayfs and a static busybox rootfs.
//! They need root; every mount happens in the sandbox's own namespaces, never in the test runner.

mod common;

mod arm64;
mod basics;
mod isolation;
mod layers;
mod overhead;
mod security;
