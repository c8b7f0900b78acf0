//! The session's counters: what doc/protocol.md "Statistics" prints, and every
//! reason a datagram or packet was dropped.

use serde::{Deserialize, Serialize};

/// Why a received datagram or a tun packet was not used. Each variant is a
/// counter; nothing is logged per packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DropReason {
    /// Shorter than the 41-byte header (W1).
    TooShort,
    /// Longer than 1541 bytes.
    TooLong,
    /// No key we hold verifies the MAC.
    DecryptFailure,
    /// Authenticated, but the nonce was seen already (a replay, W5).
    Replayed,
    /// Under the static key, a nonce not above the highest received.
    NonceNotAbove,
    /// Further below the highest nonce than the replay window reaches.
    NonceTooOld,
    /// Authenticated, but the type byte is unknown.
    UnknownType,
    /// Authenticated, but the body has the wrong length for its type.
    BadBody,
    /// A message the current state does not expect.
    Unexpected,
    /// DATA sealed with the static key: it has no forward secrecy, so it is
    /// not delivered (W6).
    StaticKeyData,
    /// From an address that is not the peer's, and not an authentic,
    /// in-order datagram that could move it.
    WrongSource,
    /// A tun packet while no ephemeral key is in use (W6).
    NoSession,
    /// A tun packet of 0 or more than 1500 bytes.
    BadPacketSize,
    /// A tun packet while the parent has not yet confirmed the reset point
    /// it needs on disk (the nonce file is written too slowly for the
    /// rate, or the parent is busy).
    NonceWait,
}

impl DropReason {
    /// Every reason, in counter order.
    pub const ALL: [DropReason; 14] = [
        DropReason::TooShort,
        DropReason::TooLong,
        DropReason::DecryptFailure,
        DropReason::Replayed,
        DropReason::NonceNotAbove,
        DropReason::NonceTooOld,
        DropReason::UnknownType,
        DropReason::BadBody,
        DropReason::Unexpected,
        DropReason::StaticKeyData,
        DropReason::WrongSource,
        DropReason::NoSession,
        DropReason::BadPacketSize,
        DropReason::NonceWait,
    ];

    /// The metric name (`drops.NAME` in the Graphite output).
    pub const fn name(self) -> &'static str {
        match self {
            DropReason::TooShort => "too_short",
            DropReason::TooLong => "too_long",
            DropReason::DecryptFailure => "decrypt_failure",
            DropReason::Replayed => "replayed",
            DropReason::NonceNotAbove => "nonce_not_above",
            DropReason::NonceTooOld => "nonce_too_old",
            DropReason::UnknownType => "unknown_type",
            DropReason::BadBody => "bad_body",
            DropReason::Unexpected => "unexpected",
            DropReason::StaticKeyData => "static_key_data",
            DropReason::WrongSource => "wrong_source",
            DropReason::NoSession => "no_session",
            DropReason::BadPacketSize => "bad_packet_size",
            DropReason::NonceWait => "nonce_wait",
        }
    }

    const fn index(self) -> usize {
        self as usize
    }
}

/// The counters. 64-bit: the deployed peer's 32-bit ones wrap (W17).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Ephemeral keys taken into use.
    pub keys: u64,
    /// Sessions started (first active state since start or a death).
    pub sessions: u64,
    /// DATA payload and DEBUG_STRING text received, in bytes.
    pub rx_data_bytes: u64,
    /// DATA payload and DEBUG_STRING text sent, in bytes.
    pub tx_data_bytes: u64,
    /// Datagrams authenticated and accepted.
    pub rx_packets: u64,
    /// Datagrams sealed for sending.
    pub tx_packets: u64,
    /// Late datagrams accepted (below the highest nonce, first time seen).
    pub rx_late: u64,
    /// Late datagrams accepted under the current key.
    pub rx_cur_key_late: u64,
    /// Datagrams refused for their nonce (replayed, not above, too old).
    pub bad_nonces: u64,
    /// Datagrams no key could open.
    pub decrypt_failures: u64,
    /// PEER_INFO retransmissions in INIT.
    pub peer_info_retransmits: u64,
    /// KEY_SWITCH_START retransmissions.
    pub key_switch_start_retransmits: u64,
    /// KEY_SWITCH_ACK retransmissions.
    pub key_ack_retransmits: u64,
    /// KEY_READY retransmissions.
    pub key_ready_retransmits: u64,
    /// Times the peer was found dead.
    pub peer_deaths: u64,
    /// Times a restarted peer was recognised by its static-key PEER_INFO.
    pub peer_restarts: u64,
    /// Drops by reason, indexed as [`DropReason::ALL`].
    pub drops: [u64; DropReason::ALL.len()],
}

impl Stats {
    /// Counts one drop.
    pub fn count_drop(&mut self, reason: DropReason) {
        self.drops[reason.index()] += 1;
        match reason {
            DropReason::DecryptFailure => self.decrypt_failures += 1,
            DropReason::Replayed | DropReason::NonceNotAbove | DropReason::NonceTooOld => {
                self.bad_nonces += 1
            }
            _ => {}
        }
    }

    /// How many drops of `reason` there were.
    pub fn drops_of(&self, reason: DropReason) -> u64 {
        self.drops[reason.index()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drop_counters_feed_the_protocol_counters() {
        let mut s = Stats::default();
        for r in DropReason::ALL {
            s.count_drop(r);
        }
        assert!(s.drops.iter().all(|&n| n == 1));
        assert_eq!(s.decrypt_failures, 1);
        assert_eq!(s.bad_nonces, 3);
        assert_eq!(s.drops_of(DropReason::TooShort), 1);
        let names: std::collections::HashSet<_> =
            DropReason::ALL.iter().map(|r| r.name()).collect();
        assert_eq!(names.len(), DropReason::ALL.len());
    }
}
