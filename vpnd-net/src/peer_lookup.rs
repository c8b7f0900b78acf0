//! When the network process asks the parent to look the peer's name up
//! again (`ResolvePeer`): at once when the peer is declared dead, then
//! every [`RETRY_EVERY`] while no session comes up, so that a gateway
//! whose dynamic DNS name follows its new address some time after the
//! move is still found. The parent resolves its own configured name; the
//! network process only asks, and never as often as the parent's limit
//! ([`vpnd_proto::ipc::RESOLVE_INTERVAL`]).

use std::time::Duration;

use vpnd_proto::Timestamp;

/// How often the name is looked up again while the peer stays silent.
pub const RETRY_EVERY: Duration = Duration::from_secs(60);

/// The next request, if one is due.
#[derive(Debug, Default)]
pub struct PeerLookup {
    next: Option<Timestamp>,
}

impl PeerLookup {
    /// Nothing to ask.
    pub fn new() -> Self {
        PeerLookup::default()
    }

    /// The peer was declared dead at `now`: ask at once.
    pub fn peer_died(&mut self, now: Timestamp) {
        self.next = Some(now);
    }

    /// True when a request is to go at `now` (the next is then due
    /// [`RETRY_EVERY`] later); a session that is up ends the retries.
    pub fn due(&mut self, now: Timestamp, session_up: bool) -> bool {
        match self.next {
            _ if session_up => {
                self.next = None;
                false
            }
            Some(t) if now >= t => {
                self.next = Some(now + RETRY_EVERY);
                true
            }
            _ => false,
        }
    }

    /// When the next request is due.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        self.next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asked_when_the_peer_dies_then_each_minute_until_a_session_is_up() {
        let t0 = Timestamp::ZERO + Duration::from_secs(100);
        let mut l = PeerLookup::new();
        assert!(!l.due(t0, false), "nothing before a death");
        assert_eq!(l.next_deadline(), None);
        l.peer_died(t0);
        assert!(l.due(t0, false));
        assert!(!l.due(t0 + Duration::from_secs(59), false));
        assert_eq!(l.next_deadline(), Some(t0 + RETRY_EVERY));
        assert!(l.due(t0 + RETRY_EVERY, false));
        // A session came up: no more, until the next death.
        assert!(!l.due(t0 + RETRY_EVERY * 3, true));
        assert_eq!(l.next_deadline(), None);
        assert!(!l.due(t0 + RETRY_EVERY * 4, false));
        // Never as often as the parent allows.
        const { assert!(RETRY_EVERY.as_secs() > vpnd_proto::ipc::RESOLVE_INTERVAL.as_secs()) };
    }
}
