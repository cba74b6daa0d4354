//! Pure renderers over the plinth catalog.
#![deny(missing_docs)]
