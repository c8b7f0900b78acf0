//! Keys, the precomputed crypto_box, 24-byte nonces and the replay window.
//!
//! Everything vpnd needs from NaCl, and nothing else: no I/O, no clock, no
//! allocation on the packet path. The wire layout these types serve is
//! `doc/protocol.md` "Datagrams": nonce (24) ‖ MAC (16) ‖ sealed type and body.

mod hex;
mod keys;
mod nonce;
mod replay;
mod shared;

pub use keys::{KeyError, KeyPair, PublicKey, SecretKey};
pub use nonce::Nonce;
pub use replay::{Freshness, ReplayRule, ReplayWindow, Stale};
pub use shared::{OpenError, SharedKey};

/// Bytes in a Curve25519 public or secret key.
pub const KEY_BYTES: usize = 32;
/// Bytes in a crypto_box nonce.
pub const NONCE_BYTES: usize = 24;
/// Bytes in a Poly1305 tag.
pub const MAC_BYTES: usize = 16;
