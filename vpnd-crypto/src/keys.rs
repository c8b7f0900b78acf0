//! Curve25519 public and secret keys: hex text in and out, secrets zeroized.

use std::fmt;

use dryoc::classic::crypto_core::crypto_scalarmult_base;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::KEY_BYTES;
use crate::hex::{self, HexError};

/// What is wrong with a key string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// A key is exactly 64 hex digits (32 bytes); this one had another count.
    #[error("a key is 64 hex digits, this one has {0}")]
    Length(usize),
    /// A character that is not a hex digit, at this 1-based position.
    #[error("character {0} is not a hex digit")]
    Digit(usize),
    /// The public key is of low order: it would give an all-zero shared key.
    #[error("the public key is a low-order point (an all-zero shared key)")]
    LowOrder,
}

impl From<HexError> for KeyError {
    fn from(e: HexError) -> Self {
        match e {
            HexError::Length(n) => KeyError::Length(n),
            HexError::Digit(pos) => KeyError::Digit(pos + 1),
        }
    }
}

/// A Curve25519 public key. Not secret: `Debug` and `Display` show its hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PublicKey([u8; KEY_BYTES]);

impl PublicKey {
    /// The key from its 32 bytes.
    pub const fn from_bytes(bytes: [u8; KEY_BYTES]) -> Self {
        PublicKey(bytes)
    }

    /// Parses 64 hex digits (either case).
    pub fn from_hex(text: &str) -> Result<Self, KeyError> {
        Ok(PublicKey(hex::decode(text)?))
    }

    /// The 32 bytes.
    pub const fn as_bytes(&self) -> &[u8; KEY_BYTES] {
        &self.0
    }

    /// 64 lower-case hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(&self.0)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_hex())
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// A Curve25519 secret key: zeroized on drop; `Debug` never shows it.
/// Serializable because the parent hands it to the network process once, in
/// the start message; nothing else serializes it.
///
/// The bytes live in one heap allocation: a configuration or start message
/// that holds the key is moved from function to function, and each move of
/// an inline array would leave a copy of the secret behind on the stack,
/// which no destructor wipes. Moving the box moves only its pointer.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretKey(Box<[u8; KEY_BYTES]>);

impl SecretKey {
    /// The key from its 32 bytes (any 32 bytes are a valid Curve25519 secret:
    /// libsodium's `crypto_box_keypair` draws them at random).
    pub fn from_bytes(bytes: [u8; KEY_BYTES]) -> Self {
        SecretKey(Box::new(bytes))
    }

    /// Parses 64 hex digits (either case).
    pub fn from_hex(text: &str) -> Result<Self, KeyError> {
        let mut bytes = hex::decode(text)?;
        let key = SecretKey::from_bytes(bytes);
        bytes.zeroize();
        Ok(key)
    }

    /// The 32 secret bytes, for the few places that must serialize them
    /// (the configuration handed to the network process).
    pub fn expose_bytes(&self) -> &[u8; KEY_BYTES] {
        &self.0
    }

    /// 64 lower-case hex digits. The caller owns a copy of the secret: only
    /// `vpnd-keygen` needs this.
    pub fn expose_hex(&self) -> String {
        hex::encode(&*self.0)
    }

    /// The matching public key (`crypto_scalarmult_base`).
    pub fn public_key(&self) -> PublicKey {
        let mut pk = [0u8; KEY_BYTES];
        crypto_scalarmult_base(&mut pk, &self.0);
        PublicKey(pk)
    }
}

impl Zeroize for SecretKey {
    fn zeroize(&mut self) {
        self.0.zeroize();
    }
}

impl Drop for SecretKey {
    fn drop(&mut self) {
        self.zeroize();
    }
}

impl ZeroizeOnDrop for SecretKey {}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

/// A key pair, as `crypto_box_keypair` makes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPair {
    /// The public half, sent to the peer.
    pub public: PublicKey,
    /// The secret half.
    pub secret: SecretKey,
}

impl KeyPair {
    /// The pair whose secret is `secret`. With 32 uniformly random bytes this
    /// is exactly libsodium's `crypto_box_keypair`; the session draws them
    /// from its injected random source so that simulations are repeatable.
    pub fn from_secret(secret: SecretKey) -> Self {
        KeyPair {
            public: secret.public_key(),
            secret,
        }
    }

    /// A fresh pair from the operating system's random source.
    pub fn generate() -> Self {
        let (public, mut secret) = dryoc::classic::crypto_box::crypto_box_keypair();
        let pair = KeyPair::from_secret(SecretKey::from_bytes(secret));
        secret.zeroize();
        pair.check_public(public)
    }

    fn check_public(self, public: [u8; KEY_BYTES]) -> Self {
        debug_assert_eq!(self.public.0, public);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_both_cases() {
        let text = "845B920BDA4CD49D251D3329144A0CF8BDAAA07502626FA87F08E80FAEDAB11F";
        let sk = SecretKey::from_hex(text).unwrap();
        assert_eq!(sk.expose_hex(), text.to_lowercase());
        let pk = PublicKey::from_hex(&text.to_lowercase()).unwrap();
        assert_eq!(pk.to_hex(), text.to_lowercase());
    }

    #[test]
    fn errors_say_what_is_wrong() {
        assert_eq!(SecretKey::from_hex("abcd"), Err(KeyError::Length(4)));
        assert_eq!(
            PublicKey::from_hex(&"0".repeat(66)),
            Err(KeyError::Length(66))
        );
        let mut bad = "0".repeat(64);
        bad.replace_range(9..10, ":");
        assert_eq!(PublicKey::from_hex(&bad), Err(KeyError::Digit(10)));
        assert_eq!(
            KeyError::Length(4).to_string(),
            "a key is 64 hex digits, this one has 4"
        );
    }

    #[test]
    fn debug_redacts_the_secret() {
        let sk = SecretKey::from_bytes([0x42; 32]);
        let shown = format!("{sk:?} {:?}", KeyPair::from_secret(sk.clone()));
        assert!(!shown.contains(&"42".repeat(32)), "{shown}");
        assert!(shown.contains("redacted"));
    }

    #[test]
    fn moving_a_secret_key_leaves_its_bytes_where_they_are() {
        let sk = SecretKey::from_bytes([0x42; 32]);
        let at = sk.expose_bytes().as_ptr();
        // Into a struct on the heap: a move that copies an inline array.
        let moved = Box::new(KeyPair::from_secret(sk));
        assert_eq!(moved.secret.expose_bytes().as_ptr(), at);
    }

    #[test]
    fn a_secret_key_wipes_its_bytes_and_does_so_on_drop() {
        fn wiped_on_drop<T: ZeroizeOnDrop>(_: &T) {}
        let mut sk = SecretKey::from_bytes([0x42; 32]);
        wiped_on_drop(&sk);
        sk.zeroize();
        assert_eq!(sk.expose_bytes(), &[0; 32]);
    }

    #[test]
    fn public_key_matches_libsodium_vector() {
        // a = crypto_box_seed_keypair(0x11 x32), from shared/vectors/wire.json.
        let sk =
            SecretKey::from_hex("845b920bda4cd49d251d3329144a0cf8bdaaa07502626fa87f08e80faedab11f")
                .unwrap();
        assert_eq!(
            sk.public_key().to_hex(),
            "7a46e129fd805047448437e4744f1f1576be8c449fdf57e0c580d36c5cfc6668"
        );
    }

    #[test]
    fn generated_pairs_differ_and_match() {
        let a = KeyPair::generate();
        let b = KeyPair::generate();
        assert_ne!(a.public, b.public);
        assert_eq!(a.secret.public_key(), a.public);
    }
}
