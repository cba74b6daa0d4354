//! The release workflow end to end: the example families (`examples/my-family` in code,
//! `examples/file-family` as files) on busybox roots
//! in the loopback registry, built and checked on amd64 and arm64 by the embedded engine.
//! Needs root (builds) and binfmt for arm64; the BuildKit case needs a running dockerd.

mod attestations;
mod build_push;
mod buildkit;
mod changelog_draft;
mod concurrent;
mod e2e;
mod file_family;
mod file_family_buildkit;
mod file_family_debian_buildkit;
mod file_family_errors;
mod file_family_reading;
mod fixture;
mod interactive;
mod verify;

fn require_root() -> bool {
    plinth_test::require_external(plinth_test::External::Root)
}
