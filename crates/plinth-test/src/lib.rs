//! Test support for plinth: a real registry process on loopback and a fault-injecting proxy
