//! What the relay (or a test's own socket) injects: datagrams no key of
//! the daemons opens, each kind landing in one drop counter.

use vpnd_crypto::{KeyPair, Nonce, SharedKey};
use vpnd_proto::wire::{self, MessageType};

use super::rng::Rng;

/// A kind of forged datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Forgery {
    /// Random bytes, 0 to 40 long: shorter than the header (too_short).
    Short,
    /// Random bytes, 1542 to 2000 long (too_long).
    Oversize,
    /// Random bytes of a plausible length, 41 to 1541 (decrypt_failure).
    Random,
    /// A DATA datagram's framing with a random MAC (decrypt_failure).
    BadMac,
    /// A copy of a genuine datagram with its nonce moved far ahead: the
    /// MAC no longer verifies (decrypt_failure), and the window must not
    /// move (genuine traffic goes on).
    ForgedNonce,
    /// Properly sealed, with a static key the daemons do not hold
    /// (decrypt_failure).
    WrongKey,
}

impl Forgery {
    /// Every kind.
    pub const ALL: [Forgery; 6] = [
        Forgery::Short,
        Forgery::Oversize,
        Forgery::Random,
        Forgery::BadMac,
        Forgery::ForgedNonce,
        Forgery::WrongKey,
    ];

    /// The drop counter (vpnd(8)'s `drops.NAME`) it lands in.
    pub fn drop_counter(self) -> &'static str {
        match self {
            Forgery::Short => "drops.too_short",
            Forgery::Oversize => "drops.too_long",
            _ => "drops.decrypt_failure",
        }
    }
}

/// Makes forged datagrams.
#[derive(Debug)]
pub struct Forger {
    rng: Rng,
    stranger: SharedKey,
}

impl Forger {
    /// Seeded; the wrong key is made fresh.
    pub fn new(seed: u64) -> Forger {
        let (a, b) = (KeyPair::generate(), KeyPair::generate());
        Forger {
            rng: Rng::new(seed),
            stranger: SharedKey::precompute(&b.public, &a.secret).expect("fresh keys"),
        }
    }

    /// One datagram of `kind`; `genuine` is a recent real datagram (for
    /// `ForgedNonce`; any 41+ bytes will do).
    pub fn forge(&mut self, kind: Forgery, genuine: &[u8]) -> Vec<u8> {
        let random = |rng: &mut Rng, lo: u64, hi: u64| {
            let mut v = vec![0u8; rng.range(lo, hi) as usize];
            rng.fill(&mut v);
            v
        };
        match kind {
            Forgery::Short => random(&mut self.rng, 0, (wire::OVERHEAD - 1) as u64),
            Forgery::Oversize => random(&mut self.rng, wire::MAX_DATAGRAM as u64 + 1, 2000),
            Forgery::Random => random(
                &mut self.rng,
                wire::OVERHEAD as u64,
                wire::MAX_DATAGRAM as u64,
            ),
            Forgery::BadMac => {
                let mut d = random(&mut self.rng, 61, 1441);
                d[wire::TYPE_OFFSET] = MessageType::Data.to_byte();
                // An IPv4 header's first byte, as a DATA body starts.
                d[wire::BODY_OFFSET] = 0x45;
                d
            }
            Forgery::ForgedNonce => {
                let mut d = if genuine.len() >= wire::OVERHEAD {
                    genuine.to_vec()
                } else {
                    random(&mut self.rng, 100, 200)
                };
                let mut far = [0xffu8; 24];
                self.rng.fill(&mut far[16..]);
                far[0] = 0xfe;
                d[..wire::NONCE_LEN].copy_from_slice(&far);
                d
            }
            Forgery::WrongKey => {
                let mut nonce = [0u8; 24];
                self.rng.fill(&mut nonce);
                let nonce = Nonce::from_slice(&nonce).expect("24 bytes");
                let body = random(&mut self.rng, 20, 1400);
                let mut out = vec![0u8; wire::OVERHEAD + body.len()];
                let n = wire::seal(&self.stranger, &nonce, MessageType::Data, &body, &mut out)
                    .expect("fits");
                out.truncate(n);
                out
            }
        }
    }
}
