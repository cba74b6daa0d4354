//! BuildKit integration tests.
