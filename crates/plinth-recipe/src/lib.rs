//! The declaration API of plinth: the immutable Container builder, Dockerfile views and reader
