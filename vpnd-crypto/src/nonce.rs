//! 24-byte nonces as 192-bit little-endian counters, as libsodium's
//! `sodium_increment`, `sodium_add` and `sodium_compare` treat them.

use std::cmp::Ordering;
use std::fmt;

use crate::NONCE_BYTES;
use crate::hex;

/// A crypto_box nonce. Ordered as a little-endian 192-bit integer (byte 0
/// least significant), which is how both ends compare them.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Nonce([u8; NONCE_BYTES]);

impl Nonce {
    /// The nonce from its 24 bytes, byte 0 least significant.
    pub const fn from_bytes(bytes: [u8; NONCE_BYTES]) -> Self {
        Nonce(bytes)
    }

    /// The nonce from a slice of exactly 24 bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        <[u8; NONCE_BYTES]>::try_from(bytes).ok().map(Nonce)
    }

    /// A small number as a nonce (the low 8 bytes).
    pub fn from_u64(n: u64) -> Self {
        let mut b = [0u8; NONCE_BYTES];
        b[..8].copy_from_slice(&n.to_le_bytes());
        Nonce(b)
    }

    /// The starting counter of a process that has no usable nonce file
    /// (doc/protocol.md "Nonces", W8): random low 16 bytes, the Unix time in seconds in
    /// the 8 most significant bytes, so a restart starts above what the
    /// previous run sent even without a file.
    pub fn from_time_and_random(unix_secs: u64, random: [u8; 16]) -> Self {
        let mut b = [0u8; NONCE_BYTES];
        b[..16].copy_from_slice(&random);
        b[16..].copy_from_slice(&unix_secs.to_le_bytes());
        Nonce(b)
    }

    /// The 24 bytes.
    pub const fn as_bytes(&self) -> &[u8; NONCE_BYTES] {
        &self.0
    }

    /// `sodium_increment`: +1 with carry, wrapping at 2^192.
    pub fn increment(&mut self) {
        for b in &mut self.0 {
            let (v, carry) = b.overflowing_add(1);
            *b = v;
            if !carry {
                return;
            }
        }
    }

    /// `sodium_add`: `self += other`, wrapping at 2^192.
    pub fn add(&mut self, other: &Nonce) {
        let mut carry = 0u16;
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            let sum = u16::from(*a) + u16::from(*b) + carry;
            *a = sum.to_le_bytes()[0];
            carry = sum >> 8;
        }
    }

    /// `self + n` (wrapping), for the nonce-file reset point.
    pub fn plus(&self, n: u64) -> Nonce {
        let mut out = *self;
        out.add(&Nonce::from_u64(n));
        out
    }

    /// `self - lower` when `lower <= self` and the difference fits in a u64,
    /// else `None`. The replay window measures how far behind a nonce is.
    pub fn distance_above(&self, lower: &Nonce) -> Option<u64> {
        if *self < *lower {
            return None;
        }
        let a = self.limbs();
        let b = lower.limbs();
        let (d0, borrow0) = a[0].overflowing_sub(b[0]);
        let (d1, borrow1a) = a[1].overflowing_sub(b[1]);
        let (d1, borrow1b) = d1.overflowing_sub(u64::from(borrow0));
        let d2 = a[2]
            .wrapping_sub(b[2])
            .wrapping_sub(u64::from(borrow1a || borrow1b));
        (d1 == 0 && d2 == 0).then_some(d0)
    }

    fn limbs(&self) -> [u64; 3] {
        let mut l = [0u64; 3];
        for (i, chunk) in self.0.chunks_exact(8).enumerate() {
            let mut w = [0u8; 8];
            w.copy_from_slice(chunk);
            l[i] = u64::from_le_bytes(w);
        }
        l
    }

    /// 48 hex digits, byte 0 first (as the state dump prints it).
    pub fn to_hex(&self) -> String {
        hex::encode(&self.0)
    }
}

impl Ord for Nonce {
    /// `sodium_compare`: the most significant byte (23) decides first.
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.iter().rev().cmp(other.0.iter().rev())
    }
}

impl PartialOrd for Nonce {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Debug for Nonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Nonce({})", self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(hex_text: &str) -> Nonce {
        Nonce(crate::hex::decode(hex_text).unwrap())
    }

    #[test]
    fn increment_carries_and_wraps() {
        let mut a = n("ff0000000000000000000000000000000000000000000000");
        a.increment();
        assert_eq!(a, n("000100000000000000000000000000000000000000000000"));
        let mut max = Nonce([0xff; 24]);
        max.increment();
        assert_eq!(max, Nonce::default());
    }

    #[test]
    fn add_carries_through_all_bytes() {
        let mut a = n("ffffffffffffffff00000000000000000000000000000000");
        a.add(&Nonce::from_u64(10000));
        assert_eq!(a, n("0f2700000000000001000000000000000000000000000000"));
    }

    #[test]
    fn compare_is_little_endian() {
        assert!(
            n("000100000000000000000000000000000000000000000000")
                > n("ff0000000000000000000000000000000000000000000000")
        );
        assert!(Nonce::from_u64(1) < Nonce::from_u64(2));
        assert!(
            Nonce::from_time_and_random(2, [0; 16]) > Nonce::from_time_and_random(1, [0xff; 16])
        );
    }

    #[test]
    fn distance() {
        let a = Nonce::from_u64(1000);
        assert_eq!(a.distance_above(&Nonce::from_u64(1)), Some(999));
        assert_eq!(Nonce::from_u64(1).distance_above(&a), None);
        let mut carry = Nonce::from_u64(u64::MAX);
        carry.increment();
        assert_eq!(carry.distance_above(&Nonce::from_u64(u64::MAX)), Some(1));
        assert_eq!(carry.distance_above(&Nonce::default()), None);
        assert_eq!(Nonce([0xff; 24]).distance_above(&Nonce::default()), None);
    }
}
