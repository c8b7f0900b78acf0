//! The session's states, numbered and named as the deployed peer logs them.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where a session stands (doc/protocol.md "The session").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum State {
    /// host-gw only: silent, waiting for a client's first authentic PEER_INFO.
    HostWait,
    /// Static key; PEER_INFO sent every 5 s until the election.
    Init,
    /// Master: KEY_SWITCH_START sent, waiting for KEY_SWITCH_ACK.
    MasterKeyStale,
    /// Slave: KEY_SWITCH_ACK sent, waiting for KEY_READY.
    SlaveKeySwitching,
    /// Master: switched to the new key, waiting for the slave to use it.
    MasterKeyReady,
    /// Master with an ephemeral key in use.
    ActiveMaster,
    /// Slave with an ephemeral key in use.
    ActiveSlave,
}

impl State {
    /// The deployed peer's state number (it appears in its logs).
    pub const fn number(self) -> u8 {
        match self {
            State::HostWait => 0,
            State::Init => 1,
            State::MasterKeyStale => 2,
            State::SlaveKeySwitching => 3,
            State::MasterKeyReady => 4,
            State::ActiveMaster => 5,
            State::ActiveSlave => 6,
        }
    }

    /// The name the deployed peer's state dump prints.
    pub const fn name(self) -> &'static str {
        match self {
            State::HostWait => "HOST WAIT",
            State::Init => "INIT",
            State::MasterKeyStale => "MASTER KEY STALE",
            State::SlaveKeySwitching => "SLAVE KEY SWITCHING",
            State::MasterKeyReady => "MASTER KEY READY",
            State::ActiveMaster => "ACTIVE (MASTER)",
            State::ActiveSlave => "ACTIVE (SLAVE)",
        }
    }

    /// True in the states where tunnel traffic is written to the tun.
    pub const fn delivers_data(self) -> bool {
        !matches!(self, State::HostWait | State::Init)
    }

    /// True in the two active states.
    pub const fn is_active(self) -> bool {
        matches!(self, State::ActiveMaster | State::ActiveSlave)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
