//! Canonical JSON: the one encoding plinth uses for every document it hashes.
//!
//! Keys are sorted bytewise at every level and there is no insignificant whitespace, so the same
//! value always gives the same bytes (and digest), whatever the process, struct field order or map
//! type. The encoding goes through [`serde_json::Value`], whose map is a `BTreeMap` as long as no
//! crate in the graph turns on serde_json's `preserve_order` feature; a test below fails if one does.

use serde::Serialize;

use crate::digest::Digest;
use crate::error::{Error, Result};

/// Encodes `value` as canonical JSON.
pub fn to_canonical_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>> {
    let value = serde_json::to_value(value).map_err(Error::EncodeJson)?;
    serde_json::to_vec(&value).map_err(Error::EncodeJson)
}

/// Encodes `value` as canonical JSON and returns the bytes with their digest.
pub fn to_canonical_with_digest<T: Serialize + ?Sized>(value: &T) -> Result<(Vec<u8>, Digest)> {
    let bytes = to_canonical_vec(value)?;
    let digest = Digest::of(&bytes);
    Ok((bytes, digest))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[derive(Serialize)]
    struct Unsorted {
        zeta: u8,
        alpha: BTreeMap<&'static str, u8>,
        mid: Vec<u8>,
    }

    #[test]
    fn keys_are_sorted_at_every_level_without_whitespace() {
        let v = Unsorted {
            zeta: 1,
            alpha: [("b", 2), ("a", 1)].into_iter().collect(),
            mid: vec![3, 2],
        };
        assert_eq!(
            String::from_utf8(to_canonical_vec(&v).unwrap()).unwrap(),
            r#"{"alpha":{"a":1,"b":2},"mid":[3,2],"zeta":1}"#
        );
    }

    #[test]
    fn serde_json_preserve_order_is_off() {
        // If any crate enables serde_json/preserve_order, Value keeps insertion order and every
        // digest plinth computes silently changes. This test is the tripwire.
        let v: serde_json::Value = serde_json::from_str(r#"{"b":1,"a":2}"#).unwrap();
        assert_eq!(serde_json::to_string(&v).unwrap(), r#"{"a":2,"b":1}"#);
    }
}
