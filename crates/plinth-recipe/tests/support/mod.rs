//! The reader as the operation tests see it: without the history entries, which
//! `src/history/tests.rs` and `tests/reader_history.rs` check on their own.

#![allow(dead_code, reason = "each test file uses some of these")]

use std::path::Path;

use plinth_recipe::{Container, ReaderOptions, Result};

pub fn parse_dockerfile(text: &str, context_dir: impl AsRef<Path>) -> Result<Container> {
    plinth_recipe::parse_dockerfile(text, context_dir).map(|c| c.without_history())
}

pub fn parse_dockerfile_with(text: &str, options: &ReaderOptions) -> Result<Container> {
    plinth_recipe::parse_dockerfile_with(text, options).map(|c| c.without_history())
}
