//! Real builds with the embedded engine (root, overlayfs, the sandbox), grouped by area.

mod add_archive;
mod arm64;
mod build;
mod common;
mod corrupt;
mod debian;
mod debian_root;
mod escape;
mod export;
mod gc;
mod ignore;
mod overhead;
mod umoci;
