//! README and registry JSON rendered from a fixture rebuilt from the original README's tables.

mod file_family;
mod fixture;
mod readme;
mod registry_json;
