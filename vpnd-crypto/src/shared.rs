//! The precomputed crypto_box key and in-place seal/open.

use std::fmt;

use dryoc::classic::crypto_box::{
    crypto_box_beforenm, crypto_box_detached_afternm_inplace,
    crypto_box_open_detached_afternm_inplace,
};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::{KEY_BYTES, KeyError, MAC_BYTES, Nonce, PublicKey, SecretKey};

/// The tag did not verify: wrong key, or the bytes were changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the MAC does not verify")]
pub struct OpenError;

/// `crypto_box_beforenm(peer_public, own_secret)`: the same value on both
/// ends of a session, used for both directions (only the nonces differ).
/// Zeroized on drop; `Debug` never shows it.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct SharedKey([u8; KEY_BYTES]);

impl SharedKey {
    /// Precomputes the key. Fails only for a low-order public key, which
    /// would give an all-zero (publicly known) key.
    pub fn precompute(peer: &PublicKey, own: &SecretKey) -> Result<Self, KeyError> {
        crypto_box_beforenm(peer.as_bytes(), own.expose_bytes())
            .map(SharedKey)
            .map_err(|_| KeyError::LowOrder)
    }

    /// Seals in place in the `crypto_box_easy` layout: `buf` is the MAC's
    /// 16 bytes (overwritten) followed by the plaintext, which becomes the
    /// ciphertext. A `buf` shorter than a MAC seals nothing; callers size it.
    pub fn seal_in_place(&self, nonce: &Nonce, buf: &mut [u8]) {
        if buf.len() < MAC_BYTES {
            return;
        }
        let (mac, text) = buf.split_at_mut(MAC_BYTES);
        let mut tag = [0u8; MAC_BYTES];
        crypto_box_detached_afternm_inplace(text, &mut tag, nonce.as_bytes(), &self.0);
        mac.copy_from_slice(&tag);
    }

    /// Opens in place: `buf` is MAC ‖ ciphertext; on success `buf[16..]` is
    /// the plaintext. The tag is verified before anything is decrypted, so on
    /// failure `buf` is unchanged and can be tried under another key.
    pub fn open_in_place(&self, nonce: &Nonce, buf: &mut [u8]) -> Result<(), OpenError> {
        if buf.len() < MAC_BYTES {
            return Err(OpenError);
        }
        let (mac, text) = buf.split_at_mut(MAC_BYTES);
        let mut tag = [0u8; MAC_BYTES];
        tag.copy_from_slice(mac);
        crypto_box_open_detached_afternm_inplace(text, &tag, nonce.as_bytes(), &self.0)
            .map_err(|_| OpenError)
    }

    /// The raw 32 bytes, for known-answer tests.
    pub const fn expose_bytes(&self) -> &[u8; KEY_BYTES] {
        &self.0
    }
}

impl fmt::Debug for SharedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SharedKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::KeyPair;

    #[test]
    fn both_ends_compute_the_same_key_and_round_trip() {
        let a = KeyPair::from_secret(SecretKey::from_bytes([1; 32]));
        let b = KeyPair::from_secret(SecretKey::from_bytes([2; 32]));
        let ab = SharedKey::precompute(&b.public, &a.secret).unwrap();
        let ba = SharedKey::precompute(&a.public, &b.secret).unwrap();
        assert_eq!(ab, ba);
        let nonce = Nonce::from_bytes([7; 24]);
        let mut buf = [0u8; 16 + 5];
        buf[16..].copy_from_slice(b"hello");
        ab.seal_in_place(&nonce, &mut buf);
        assert_ne!(&buf[16..], b"hello");
        ba.open_in_place(&nonce, &mut buf).unwrap();
        assert_eq!(&buf[16..], b"hello");
    }

    #[test]
    fn tampering_and_short_buffers_fail() {
        let a = KeyPair::from_secret(SecretKey::from_bytes([1; 32]));
        let k = SharedKey::precompute(&a.public, &a.secret).unwrap();
        let nonce = Nonce::default();
        let mut buf = [0u8; 16 + 3];
        k.seal_in_place(&nonce, &mut buf);
        buf[17] ^= 1;
        let before = buf;
        assert_eq!(k.open_in_place(&nonce, &mut buf), Err(OpenError));
        assert_eq!(buf, before, "a failed open must leave the buffer as it was");
        assert_eq!(k.open_in_place(&nonce, &mut [0u8; 15]), Err(OpenError));
        let mut empty_text = [0u8; 16];
        k.seal_in_place(&nonce, &mut empty_text);
        assert_eq!(k.open_in_place(&nonce, &mut empty_text), Ok(()));
    }

    #[test]
    fn low_order_public_key_is_refused() {
        let sk = SecretKey::from_bytes([3; 32]);
        let zero = PublicKey::from_bytes([0; 32]);
        assert_eq!(SharedKey::precompute(&zero, &sk), Err(KeyError::LowOrder));
    }

    #[test]
    fn debug_redacts() {
        let a = KeyPair::from_secret(SecretKey::from_bytes([1; 32]));
        let k = SharedKey::precompute(&a.public, &a.secret).unwrap();
        assert_eq!(format!("{k:?}"), "SharedKey(<redacted>)");
    }
}
