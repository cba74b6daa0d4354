//! Self-tests of the fixtures against the real registry process.

mod client;
mod docker;
mod fixtures;
mod proxy;
mod registry;
