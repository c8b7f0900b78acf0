//! The configuration file model (the parser and printer follow).

use serde::{Deserialize, Serialize};

/// The three roles (PROTOCOL.md "Roles").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Role {
    /// One of two site gateways.
    NetGw,
    /// The gateway of one roaming client.
    HostGw,
    /// The roaming client.
    Host,
}
