//! The relay's decisions: the sessions' seeded SplitMix64, with the few
//! draws the relay needs, so that a failing run repeats with its seed (the
//! tests print it).

use vpnd_proto::session::{Entropy, SeededEntropy};

/// The generator.
#[derive(Debug, Clone)]
pub struct Rng(SeededEntropy);

impl Rng {
    /// Seeded.
    pub fn new(seed: u64) -> Rng {
        Rng(SeededEntropy::new(seed))
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        let unit = (self.0.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        p > 0.0 && unit < p
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.0.next_u64() % (hi - lo + 1)
    }

    /// Random bytes.
    pub fn fill(&mut self, buf: &mut [u8]) {
        self.0.fill(buf);
    }
}
