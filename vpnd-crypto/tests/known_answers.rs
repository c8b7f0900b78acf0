//! Known answers from `shared/vectors/wire.json` (computed with libsodium):
//! keys, the precomputed key, seal and open, and the nonce arithmetic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::cmp::Ordering;
use std::path::PathBuf;

use serde_json::Value;
use vpnd_crypto::{Nonce, PublicKey, SecretKey, SharedKey};

fn vectors() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../vectors/wire.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn bytes(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

fn nonce(v: &Value) -> Nonce {
    Nonce::from_slice(&bytes(v)).unwrap()
}

#[test]
fn keys_and_the_shared_key() {
    let v = vectors();
    let k = &v["keys"];
    for (sk, pk) in [
        ("a_sk", "a_pk"),
        ("b_sk", "b_pk"),
        ("ephemeral_sk", "ephemeral_pk"),
    ] {
        let secret = SecretKey::from_hex(k[sk].as_str().unwrap()).unwrap();
        assert_eq!(
            secret.public_key().to_hex(),
            k[pk].as_str().unwrap(),
            "{pk}"
        );
    }
    let a = SecretKey::from_hex(k["a_sk"].as_str().unwrap()).unwrap();
    let b = SecretKey::from_hex(k["b_sk"].as_str().unwrap()).unwrap();
    let ab = SharedKey::precompute(&b.public_key(), &a).unwrap();
    let ba = SharedKey::precompute(&a.public_key(), &b).unwrap();
    assert_eq!(
        hex::encode(ab.expose_bytes()),
        k["shared"].as_str().unwrap()
    );
    assert_eq!(ab, ba);
    let pk = PublicKey::from_hex(k["b_pk"].as_str().unwrap()).unwrap();
    assert_eq!(pk, b.public_key());
}

#[test]
fn every_datagram_opens_and_reseals_byte_for_byte() {
    let v = vectors();
    let k = &v["keys"];
    let a = SecretKey::from_hex(k["a_sk"].as_str().unwrap()).unwrap();
    let b = SecretKey::from_hex(k["b_sk"].as_str().unwrap()).unwrap();
    let key = SharedKey::precompute(&b.public_key(), &a).unwrap();
    let datagrams = v["datagrams"].as_array().unwrap();
    assert_eq!(datagrams.len(), 9);
    for d in datagrams {
        let name = d["name"].as_str().unwrap();
        let wire = bytes(&d["datagram"]);
        assert_eq!(
            wire.len() as u64,
            d["datagram_len"].as_u64().unwrap(),
            "{name}"
        );
        let n = nonce(&d["nonce"]);
        assert_eq!(&wire[..24], n.as_bytes(), "{name}");
        let mut opened = wire.clone();
        key.open_in_place(&n, &mut opened[24..]).unwrap();
        assert_eq!(u64::from(opened[40]), d["type"].as_u64().unwrap(), "{name}");
        assert_eq!(opened[41..], bytes(&d["body"])[..], "{name}");
        // Seal the same plaintext again: the same bytes.
        let mut sealed = opened.clone();
        key.seal_in_place(&n, &mut sealed[24..]);
        assert_eq!(sealed, wire, "{name}");
    }
    let mut bad = bytes(&v["bad_mac_datagram"]);
    let n = Nonce::from_slice(&bad[..24]).unwrap();
    let before = bad.clone();
    assert!(key.open_in_place(&n, &mut bad[24..]).is_err());
    assert_eq!(bad, before);
}

#[test]
fn nonce_operations() {
    let v = vectors();
    let ops = v["nonce_ops"].as_array().unwrap();
    assert_eq!(ops.len(), 14);
    for op in ops {
        match op["op"].as_str().unwrap() {
            "increment" => {
                let mut n = nonce(&op["in"]);
                n.increment();
                assert_eq!(n, nonce(&op["out"]), "{op}");
            }
            "add" => {
                let mut n = nonce(&op["a"]);
                n.add(&nonce(&op["b"]));
                assert_eq!(n, nonce(&op["out"]), "{op}");
            }
            "compare" => {
                let expected = match op["out"].as_i64().unwrap() {
                    -1 => Ordering::Less,
                    0 => Ordering::Equal,
                    _ => Ordering::Greater,
                };
                assert_eq!(nonce(&op["a"]).cmp(&nonce(&op["b"])), expected, "{op}");
            }
            other => panic!("unknown op {other}"),
        }
    }
}

/// The copies in `vectors/` are the project's reference vectors, when those
/// are at hand (CI has them beside the checkout).
#[test]
fn the_vector_copies_match_the_reference() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let reference = root.join("../shared/vectors");
    if !reference.is_dir() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have shared/vectors beside the checkout"
        );
        return;
    }
    for name in ["wire.json", "captured-net-gw.json", "captured-host-gw.json"] {
        let ours = std::fs::read(root.join("vectors").join(name)).unwrap();
        let theirs = std::fs::read(reference.join(name)).unwrap();
        assert!(
            ours == theirs,
            "vectors/{name} differs from shared/vectors/{name}"
        );
    }
}
