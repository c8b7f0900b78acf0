//! The session's timers: one enum, one deadline each, the earliest wins.

use std::time::Duration;

use crate::Timestamp;

/// PEER_INFO retransmission while in INIT.
pub const PEER_INFO_INTERVAL: Duration = Duration::from_secs(5);
/// Retransmission of KEY_SWITCH_START, KEY_SWITCH_ACK and KEY_READY.
pub const HANDSHAKE_INTERVAL: Duration = Duration::from_millis(500);
/// PEER_INFO heartbeat while active.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(10);
/// The peer is dead after this long without an authenticated datagram.
pub const DEAD_AFTER: Duration = Duration::from_secs(20);
/// A host-gw back in INIT this long forgets its client (HOST_WAIT).
pub const HOST_GIVE_UP: Duration = Duration::from_secs(120);
/// How long the previous key still opens datagrams after a switch (W18).
pub const PREVIOUS_KEY_GRACE: Duration = Duration::from_secs(2);
/// At most one PEER_INFO answer per this interval while in INIT.
pub const PEER_INFO_ANSWER_INTERVAL: Duration = Duration::from_secs(1);

/// Every timer a session runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    /// INIT: send PEER_INFO again.
    PeerInfo,
    /// A handshake state: send its message again.
    Handshake,
    /// Active: send PEER_INFO as heartbeat.
    Heartbeat,
    /// Out of INIT: the peer is dead when this passes unrenewed.
    Liveness,
    /// Active master: the key is `max_key_age` old, rotate.
    KeyAge,
    /// The previous key stops opening datagrams.
    PreviousKey,
    /// host-gw in INIT: forget the client.
    HostGiveUp,
}

impl Timer {
    const ALL: [Timer; 7] = [
        Timer::PeerInfo,
        Timer::Handshake,
        Timer::Heartbeat,
        Timer::Liveness,
        Timer::KeyAge,
        Timer::PreviousKey,
        Timer::HostGiveUp,
    ];

    const fn index(self) -> usize {
        match self {
            Timer::PeerInfo => 0,
            Timer::Handshake => 1,
            Timer::Heartbeat => 2,
            Timer::Liveness => 3,
            Timer::KeyAge => 4,
            Timer::PreviousKey => 5,
            Timer::HostGiveUp => 6,
        }
    }
}

/// The deadline table: arming replaces a timer's deadline.
#[derive(Debug, Clone, Default)]
pub struct Timers {
    deadlines: [Option<Timestamp>; Timer::ALL.len()],
}

impl Timers {
    /// Arms `timer` to fire at `at`.
    pub fn set(&mut self, timer: Timer, at: Timestamp) {
        self.deadlines[timer.index()] = Some(at);
    }

    /// Disarms `timer`.
    pub fn stop(&mut self, timer: Timer) {
        self.deadlines[timer.index()] = None;
    }

    /// Disarms every timer.
    pub fn stop_all(&mut self) {
        self.deadlines = Default::default();
    }

    /// The deadline of `timer`, if armed.
    pub fn get(&self, timer: Timer) -> Option<Timestamp> {
        self.deadlines[timer.index()]
    }

    /// The earliest deadline of all.
    pub fn next(&self) -> Option<Timestamp> {
        self.deadlines.iter().flatten().min().copied()
    }

    /// Disarms and returns the timers whose deadline is at or before `now`,
    /// in a fixed order (liveness first: a dead peer is not retransmitted to).
    pub fn expire(&mut self, now: Timestamp) -> impl Iterator<Item = Timer> + use<> {
        let mut fired = [None; Timer::ALL.len()];
        let order = [
            Timer::Liveness,
            Timer::PreviousKey,
            Timer::HostGiveUp,
            Timer::PeerInfo,
            Timer::Handshake,
            Timer::KeyAge,
            Timer::Heartbeat,
        ];
        for (slot, timer) in fired.iter_mut().zip(order) {
            if self.get(timer).is_some_and(|at| at <= now) {
                self.stop(timer);
                *slot = Some(timer);
            }
        }
        fired.into_iter().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_deadline_and_expiry_order() {
        let mut t = Timers::default();
        assert_eq!(t.next(), None);
        t.set(Timer::Heartbeat, Timestamp::from_nanos(5));
        t.set(Timer::Liveness, Timestamp::from_nanos(5));
        t.set(Timer::PeerInfo, Timestamp::from_nanos(9));
        assert_eq!(t.next(), Some(Timestamp::from_nanos(5)));
        let fired: Vec<_> = t.expire(Timestamp::from_nanos(6)).collect();
        assert_eq!(fired, vec![Timer::Liveness, Timer::Heartbeat]);
        assert_eq!(t.next(), Some(Timestamp::from_nanos(9)));
        t.set(Timer::PeerInfo, Timestamp::from_nanos(20));
        assert_eq!(t.next(), Some(Timestamp::from_nanos(20)));
        t.stop_all();
        assert_eq!(t.next(), None);
    }
}
