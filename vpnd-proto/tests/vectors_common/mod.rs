//! Loading the known-answer vectors in `vectors/` (shared by the tests that
//! use them).
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::disallowed_methods,
    dead_code
)]

use std::path::PathBuf;

use serde_json::Value;
use vpnd_crypto::{PublicKey, SecretKey, SharedKey};

/// The JSON of `vectors/NAME`.
pub fn vectors(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../vectors")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// The bytes of a hex string value.
pub fn bytes(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

/// The precomputed key of the file's keys `sk` and `pk`, checked against
/// the file's `shared`.
pub fn key(v: &Value, sk: &str, pk: &str) -> SharedKey {
    let sk = SecretKey::from_hex(v["keys"][sk].as_str().unwrap()).unwrap();
    let pk = PublicKey::from_hex(v["keys"][pk].as_str().unwrap()).unwrap();
    let k = SharedKey::precompute(&pk, &sk).unwrap();
    assert_eq!(
        hex::encode(k.expose_bytes()),
        v["keys"]["shared"].as_str().unwrap()
    );
    k
}
