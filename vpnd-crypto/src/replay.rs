//! The receive-side replay window: the highest authenticated nonce and a
//! bitmap of the nonces just below it (RFC 6479, as WireGuard keeps it).
//!
//! It is consulted only after the MAC verified (W2), so a forger cannot
//! move it; it has a fixed size (W2: the deployed peer's late set grows
//! without bound); and in-order nonces are recorded too, so nothing is
//! accepted twice (W5).

use crate::Nonce;

/// Which rule applies to a received nonce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayRule {
    /// Under the static key: only a nonce strictly above the highest.
    StrictlyAbove,
    /// Under an ephemeral key: above the highest, or a not-yet-seen nonce
    /// inside the window (a late packet).
    Window,
}

/// An accepted nonce: in order, or late (below the highest, first time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// Above the highest received.
    InOrder,
    /// Below the highest, inside the window, not seen before.
    Late,
}

/// A refused nonce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stale {
    /// Equal to one already received (the highest, or a late one seen).
    Replayed,
    /// Not above the highest, under the static-key rule.
    NotAbove,
    /// Further below the highest than the window reaches.
    TooOld,
}

const WORDS: usize = 128;
const BITS: u64 = (WORDS * 64) as u64;

/// The highest authenticated nonce and a bitmap of the ones below it.
#[derive(Clone)]
pub struct ReplayWindow {
    highest: Nonce,
    /// Bit `n % BITS` is set when nonce `n` (its low 64 bits) was seen,
    /// for `n` in `highest - WINDOW < n <= highest`.
    bitmap: [u64; WORDS],
}

impl std::fmt::Debug for ReplayWindow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplayWindow")
            .field("highest", &self.highest)
            .finish_non_exhaustive()
    }
}

impl ReplayWindow {
    /// How far below the highest a late nonce may be: a few thousand
    /// packets of reordering. One word of the ring is kept clear so a jump
    /// never lands on stale bits.
    pub const WINDOW: u64 = BITS - 64;

    /// A window whose highest received nonce is `highest` (the remote
    /// nonce file, or zero); nothing below it counts as seen, so nothing
    /// below it is accepted either (it is all "too old" or refused).
    pub fn new(highest: Nonce) -> Self {
        let mut w = ReplayWindow {
            highest,
            bitmap: [0; WORDS],
        };
        // Everything at or below the starting point is taken as seen; the
        // bits above it in its word are not (they are the future).
        w.bitmap = [u64::MAX; WORDS];
        let (word, bit) = Self::slot(&highest);
        w.bitmap[word] = bit | (bit - 1);
        w
    }

    /// The highest nonce accepted so far.
    pub fn highest(&self) -> &Nonce {
        &self.highest
    }

    /// Checks `nonce` under `rule` and, if accepted, records it. Call only
    /// after the MAC verified.
    pub fn accept(&mut self, nonce: &Nonce, rule: ReplayRule) -> Result<Freshness, Stale> {
        if *nonce > self.highest {
            self.advance_to(nonce);
            return Ok(Freshness::InOrder);
        }
        if rule == ReplayRule::StrictlyAbove {
            return Err(Stale::NotAbove);
        }
        let behind = self.highest.distance_above(nonce).ok_or(Stale::TooOld)?;
        if behind == 0 {
            return Err(Stale::Replayed);
        }
        if behind >= Self::WINDOW {
            return Err(Stale::TooOld);
        }
        let (word, bit) = Self::slot(nonce);
        if self.bitmap[word] & bit != 0 {
            return Err(Stale::Replayed);
        }
        self.bitmap[word] |= bit;
        Ok(Freshness::Late)
    }

    /// Moves the highest to `nonce`, clearing the words it passes.
    fn advance_to(&mut self, nonce: &Nonce) {
        let (old_word, _) = Self::slot(&self.highest);
        match nonce.distance_above(&self.highest) {
            Some(ahead) if ahead < BITS => {
                // Words entered on the way up hold bits of the previous lap.
                let crossed = (Self::low(&self.highest) % 64 + ahead) / 64;
                for i in 1..=crossed as usize {
                    self.bitmap[(old_word + i) % WORDS] = 0;
                }
            }
            // A jump past the whole window: nothing in it was seen.
            _ => self.bitmap = [0; WORDS],
        }
        self.highest = *nonce;
        let (word, bit) = Self::slot(nonce);
        self.bitmap[word] |= bit;
    }

    fn low(nonce: &Nonce) -> u64 {
        let mut b = [0u8; 8];
        b.copy_from_slice(&nonce.as_bytes()[..8]);
        u64::from_le_bytes(b)
    }

    fn slot(nonce: &Nonce) -> (usize, u64) {
        let n = Self::low(nonce);
        (((n / 64) % WORDS as u64) as usize, 1u64 << (n % 64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn n(x: u64) -> Nonce {
        Nonce::from_u64(x)
    }

    #[test]
    fn in_order_late_duplicate_and_too_old() {
        let mut w = ReplayWindow::new(n(100));
        assert_eq!(w.accept(&n(100), ReplayRule::Window), Err(Stale::Replayed));
        assert_eq!(w.accept(&n(99), ReplayRule::Window), Err(Stale::Replayed));
        assert_eq!(
            w.accept(&n(105), ReplayRule::Window),
            Ok(Freshness::InOrder)
        );
        assert_eq!(w.accept(&n(105), ReplayRule::Window), Err(Stale::Replayed));
        assert_eq!(w.accept(&n(103), ReplayRule::Window), Ok(Freshness::Late));
        assert_eq!(w.accept(&n(103), ReplayRule::Window), Err(Stale::Replayed));
        assert_eq!(w.accept(&n(101), ReplayRule::Window), Ok(Freshness::Late));
        let far = 105 + ReplayWindow::WINDOW + 10;
        assert_eq!(
            w.accept(&n(far), ReplayRule::Window),
            Ok(Freshness::InOrder)
        );
        assert_eq!(w.accept(&n(104), ReplayRule::Window), Err(Stale::TooOld));
        assert_eq!(
            w.accept(&n(far - ReplayWindow::WINDOW + 1), ReplayRule::Window),
            Ok(Freshness::Late)
        );
        assert_eq!(
            w.accept(&n(far - ReplayWindow::WINDOW), ReplayRule::Window),
            Err(Stale::TooOld)
        );
    }

    #[test]
    fn static_rule_only_takes_higher() {
        let mut w = ReplayWindow::new(n(10));
        assert_eq!(
            w.accept(&n(10), ReplayRule::StrictlyAbove),
            Err(Stale::NotAbove)
        );
        assert_eq!(
            w.accept(&n(12), ReplayRule::StrictlyAbove),
            Ok(Freshness::InOrder)
        );
        assert_eq!(
            w.accept(&n(11), ReplayRule::StrictlyAbove),
            Err(Stale::NotAbove)
        );
        // The window still remembers what the static rule let through.
        assert_eq!(w.accept(&n(12), ReplayRule::Window), Err(Stale::Replayed));
        assert_eq!(w.accept(&n(11), ReplayRule::Window), Ok(Freshness::Late));
    }

    #[test]
    fn huge_jumps_and_high_bytes() {
        let mut w = ReplayWindow::new(Nonce::default());
        let mut big = Nonce::from_time_and_random(1_800_000_000, [0xff; 16]);
        assert_eq!(w.accept(&big, ReplayRule::Window), Ok(Freshness::InOrder));
        assert_eq!(w.accept(&big, ReplayRule::Window), Err(Stale::Replayed));
        let before = big;
        big.increment(); // carries into the upper bytes
        assert_eq!(w.accept(&big, ReplayRule::Window), Ok(Freshness::InOrder));
        assert_eq!(w.accept(&before, ReplayRule::Window), Err(Stale::Replayed));
        assert_eq!(w.accept(&n(5), ReplayRule::Window), Err(Stale::TooOld));
    }

    /// The bitmap against a set with the same rules, over random operations.
    #[test]
    fn matches_a_reference_model() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut rnd = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut w = ReplayWindow::new(n(1000));
        let mut highest = 1000u64;
        let mut seen: BTreeSet<u64> = BTreeSet::new();
        for _ in 0..100_000 {
            let r = rnd();
            let candidate = match r % 10 {
                0 => highest + 1 + rnd() % 20_000,
                1..=3 => highest + 1 + rnd() % 3,
                _ => highest.saturating_sub(rnd() % 9000),
            };
            let rule = if r % 17 == 0 {
                ReplayRule::StrictlyAbove
            } else {
                ReplayRule::Window
            };
            let expected = if candidate > highest {
                Ok(Freshness::InOrder)
            } else if rule == ReplayRule::StrictlyAbove {
                Err(Stale::NotAbove)
            } else if candidate <= 1000 || seen.contains(&candidate) || candidate == highest {
                if highest - candidate >= ReplayWindow::WINDOW {
                    Err(Stale::TooOld)
                } else {
                    Err(Stale::Replayed)
                }
            } else if highest - candidate >= ReplayWindow::WINDOW {
                Err(Stale::TooOld)
            } else {
                Ok(Freshness::Late)
            };
            let got = w.accept(&n(candidate), rule);
            assert_eq!(got, expected, "nonce {candidate}, highest {highest}");
            if got.is_ok() {
                seen.insert(candidate);
                highest = highest.max(candidate);
            }
        }
    }
}
