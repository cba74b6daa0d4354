//! Self-tests of the fixtures against the real registry process.

mod client;
mod proxy;
mod registry;
