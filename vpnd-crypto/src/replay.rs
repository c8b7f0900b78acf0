//! The receive-side replay window (to be completed: see the helper's task).

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

/// The highest authenticated nonce and a bitmap of the ones just below it.
#[derive(Debug, Clone)]
pub struct ReplayWindow {
    highest: Nonce,
}

impl ReplayWindow {
    /// A window whose highest received nonce is `highest` (from the remote
    /// nonce file, or zero). Nothing below it counts as seen... yet.
    pub fn new(highest: Nonce) -> Self {
        ReplayWindow { highest }
    }

    /// The highest nonce accepted so far.
    pub fn highest(&self) -> &Nonce {
        &self.highest
    }

    /// Checks `nonce` under `rule` and, if accepted, records it. Call only
    /// after the MAC verified (W2).
    pub fn accept(&mut self, nonce: &Nonce, rule: ReplayRule) -> Result<Freshness, Stale> {
        let _ = rule;
        if *nonce > self.highest {
            self.highest = *nonce;
            Ok(Freshness::InOrder)
        } else {
            Err(Stale::NotAbove)
        }
    }
}
