//! The messages between the root parent and the unprivileged network
//! process, and their frame codec (doc/design.md, "The privilege boundary").
//!
//! One `SOCK_SEQPACKET` frame carries one message, bincode-encoded. The
//! child names intents; the parent owns the nouns: no paths, interface
//! names, argument vectors or free text travel towards the parent. Frames
//! from the child are untrusted input: [`decode_to_parent`] bounds every
//! allocation by the frame limit and rejects trailing bytes.

use std::net::SocketAddr;
use std::ops::Deref;

use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

use crate::config::{Config, StatsPrefix};
use crate::wire::Pushed;

/// The protocol version both sides state in their first message.
pub const IPC_VERSION: u32 = 6;

/// The largest frame either side sends or accepts. The largest message is
/// the start message (a configuration is well under 4 KiB); everything
/// variable inside a message (strings, the pushed domain) is bounded by it,
/// and [`ResolvDomain`](crate::net::ResolvDomain) caps itself at 31 bytes.
pub const MAX_FRAME: usize = 16 * 1024;

/// The parent writes each nonce file at most once per this interval: a
/// `PersistNonce` that comes sooner is written when it has passed, so a
/// network process cannot make root write a file more than 200 times a
/// second (two fsyncs each); the child's sends are bounded by it (each
/// write lets it seal about `nonce_reset_incr` more datagrams).
pub const MIN_NONCE_WRITE_INTERVAL: std::time::Duration = std::time::Duration::from_millis(5);

/// The parent looks `remote_host` up for the network process at most once
/// per this interval: a [`ToParent::ResolvePeer`] that comes sooner is
/// refused (and counted), so a network process cannot make root query the
/// resolver without end. A correct one asks when its peer is declared
/// dead (20 s of silence at least) and then once a minute.
pub const RESOLVE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(10);

/// The longest console line sent to the peer: a DEBUG_STRING body holds
/// the text and its NUL in at most 1500 bytes; the deployed peer stops at
/// 1498.
pub const MAX_DEBUG_STRING: usize = 1498;

/// Which nonce file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum NonceSlot {
    /// `local_nonce_file`: a reset point above every nonce sent.
    Local,
    /// `remote_nonce_file`: the highest nonce received.
    Remote,
}

/// What the network process asks of the parent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ToParent {
    /// The first message: the child's IPC version. The parent stops a child
    /// whose version differs.
    Hello {
        /// [`IPC_VERSION`].
        version: u32,
    },
    /// A session began: apply this role's network configuration. The parent
    /// uses its own configuration for everything but, for role host, the
    /// pushed values, which it checks again ([`Pushed::validate`], and
    /// [`Pushed::check_outside`] against the gateway it resolved itself and
    /// this host's outer address) and refuses rather than applies when
    /// they fail. For the other roles `pushed` must be `None`. Allowed once
    /// per session, and configured 30 times at once, then once per 2 s (one
    /// beyond is refused: its session opens unconfigured).
    NetworkUp {
        /// The peer's outer address: the parent picks the MTU from its
        /// family, and nothing else (a push is never judged by it).
        peer: SocketAddr,
        /// host: what the gateway pushed, checked by the child already.
        pushed: Option<Pushed>,
    },
    /// The session ended: undo everything `NetworkUp` applied. Only after a
    /// `NetworkUp`.
    NetworkDown,
    /// Write `nonce` to the nonce file of `slot`, atomically. The parent
    /// owns both paths. A local value below the one it last wrote is a
    /// violation (the counter never goes back: the child is stopped); a
    /// remote one is refused. Answered with [`ToChild::NonceSaved`] once
    /// the file is on disk, or [`ToChild::NonceRefused`]; the child has at
    /// most one request per slot unanswered (a newer value waits for the
    /// answer and replaces an older one waiting). The parent writes each
    /// file at most once per [`MIN_NONCE_WRITE_INTERVAL`] (a request that
    /// comes sooner waits); a second request for a slot while one waits is
    /// refused, and a stream of them stops the child.
    PersistNonce {
        /// Which file.
        slot: NonceSlot,
        /// The 24 bytes to write.
        nonce: [u8; 24],
    },
    /// Only when [`Start::udp_sends`] is [`UdpSends::Connected`]: open a
    /// UDP socket on the local port connected to `peer`, the address the
    /// session sends to now (the first authenticated datagram of a
    /// host-gw's client, or a peer that moved). Answered with
    /// [`ToChild::PeerConnected`] or [`ToChild::PeerRefused`]; the child
    /// asks again only after the answer.
    ConnectPeer {
        /// The peer's outer address, as the session knows it.
        peer: SocketAddr,
    },
    /// Only in roles net-gw and host (a host-gw has no name to look up:
    /// its request stops it): the peer was declared dead, or has stayed
    /// silent since; look `remote_host` up again. The request names
    /// nothing: the parent resolves its own configured name and port. At
    /// most one per [`RESOLVE_INTERVAL`]; one sooner is refused (counted,
    /// not answered). Answered with [`ToChild::PeerAddress`] when the name
    /// resolves within the parent's deadline; not answered when it does not
    /// (the session goes on sending where it did).
    ResolvePeer,
}

/// What the parent tells the network process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ToChild {
    /// The first message; the tun, UDP and stats descriptors travel with it
    /// (SCM_RIGHTS), and the console's when [`Start::console`] says so.
    /// Boxed: it is much larger than the others.
    Start(Box<Start>),
    /// The last `NetworkUp` was applied.
    NetworkApplied,
    /// The last `NetworkUp` was refused; nothing of it is applied.
    NetworkRefused {
        /// What was refused: a pushed value, or a command that failed and was rolled back.
        reason: Refusal,
    },
    /// The answer to `ConnectPeer`: the connected socket travels with it
    /// (SCM_RIGHTS); sends to `peer` leave by it from now on.
    PeerConnected {
        /// The address it is connected to (the one asked for).
        peer: SocketAddr,
    },
    /// The answer to `ConnectPeer`: no socket (the parent's reason, for the
    /// log); datagrams to `peer` are dropped until a later request is
    /// granted.
    PeerRefused {
        /// The address asked for.
        peer: SocketAddr,
        /// Why: the policy's reason or the system's error.
        reason: String,
    },
    /// `remote_host` as the parent resolved it again: the answer to
    /// `ResolvePeer`, or unasked after a SIGHUP when the address is not
    /// the one resolved before. Never sent to a host-gw. The session sends
    /// to `peer` from now on (and, as ever, follows an authenticated peer
    /// that it hears at another address).
    PeerAddress {
        /// The address the name has now, with `remote_port`.
        peer: SocketAddr,
    },
    /// The answer to `PersistNonce`: `nonce` is in the file of `slot`, on
    /// disk (synced). For the local slot the child may now seal every
    /// nonce below it.
    NonceSaved {
        /// Which file.
        slot: NonceSlot,
        /// The value written.
        nonce: [u8; 24],
    },
    /// The answer to `PersistNonce`: nothing was written (the policy's
    /// reason or the system's error); the file holds what it held. The
    /// child may ask again (not at once: a refused request is counted).
    NonceRefused {
        /// Which file.
        slot: NonceSlot,
        /// The value that was not written.
        nonce: [u8; 24],
        /// Why.
        reason: String,
    },
    /// The parent refused a request (any kind, by its policy or its
    /// budgets): `total` refusals since it started, which the network
    /// process reports as `refused_requests` (vpnd -s, Graphite).
    Refusals {
        /// Requests refused since the parent started.
        total: u64,
    },
    /// Log the state and every counter (SIGUSR1).
    DumpState,
    /// Stop: persist the remote nonce, undo nothing (the parent does), exit
    /// once the parent has answered the last writes.
    Shutdown,
}

/// Everything the network process needs to run the session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Start {
    /// [`IPC_VERSION`].
    pub version: u32,
    /// The configuration, secret key included (the parent forgets it after
    /// sending; the frame is wiped).
    pub config: Config,
    /// The Graphite prefix: `stats_prefix`, or the host name.
    pub stats_prefix: StatsPrefix,
    /// The peer, resolved by the parent; `None` for a host-gw.
    pub peer: Option<SocketAddr>,
    /// The local nonce file's value, if it had one.
    pub local_nonce: Option<[u8; 24]>,
    /// The remote nonce file's value (zero when absent).
    pub remote_nonce: [u8; 24],
    /// The Unix time at start, seconds (the child's nonce counter uses it).
    pub unix_time: u64,
    /// The unprivileged user the child becomes, resolved by the parent
    /// (the child reads no files).
    pub uid: u32,
    /// The group it runs as (the user's primary group).
    pub gid: u32,
    /// What the kernel offloads on the descriptors sent with this message.
    pub offloads: Offloads,
    /// A fourth descriptor follows the stats listener: a pipe the parent
    /// copies the standard input of a vpnd in the foreground into, whose
    /// lines are console commands.
    pub console: bool,
    /// How datagrams leave the UDP socket.
    pub udp_sends: UdpSends,
}

/// How the network process sends its datagrams.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum UdpSends {
    /// Each send names its destination, on the socket the start message
    /// brings (Linux, NetBSD, DragonFly).
    #[default]
    Addressed,
    /// Sends name no destination: they leave by a socket connected to the
    /// peer, which the parent opens on `ConnectPeer` (FreeBSD, whose
    /// capability mode refuses a send that names one). The socket from
    /// the start message only receives: it hears every sender, the
    /// connected one its peer.
    Connected,
}

/// The offloads the parent enabled on the tun and the UDP socket (probed
/// at start; all off with `VPND_OFFLOAD=off` or where the kernel lacks
/// them). The wire is the same either way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offloads {
    /// What the tun puts before every packet, both ways.
    pub tun_framing: TunFraming,
    /// The tun hands over and takes TCP packets of up to 64 KB (TSO).
    pub tun_tso: bool,
    /// The tun hands over UDP packets of up to 64 KB (USO).
    pub tun_uso: bool,
    /// Equal-sized datagrams to the peer leave in one send (UDP_SEGMENT).
    pub udp_gso: bool,
    /// The kernel hands over a peer's datagrams joined (UDP_GRO).
    pub udp_gro: bool,
}

/// How the tun frames each packet it hands over or takes. Each platform's
/// tun has its own: a bare IP packet, or a header before it (Linux's
/// virtio-net header, the BSDs' 4-byte address family).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum TunFraming {
    /// The IP packet alone: one read, one packet.
    #[default]
    Bare,
    /// A 10-byte virtio-net header first (Linux `IFF_VNET_HDR`): the kernel
    /// leaves checksums to vpnd, and with TSO or USO hands over and takes
    /// packets of up to 64 KB.
    VnetHdr,
    /// The packet's address family first, 4 bytes in network byte order
    /// (the BSDs' tun with `TUNSIFHEAD`): `AF_INET` or the system's
    /// `AF_INET6`, both ways, so that one tun carries IPv4 and IPv6.
    AfHeader,
}

impl std::fmt::Display for Offloads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names = [
            (self.tun_framing == TunFraming::VnetHdr, "tun checksum"),
            (self.tun_tso, "tun TSO"),
            (self.tun_uso, "tun USO"),
            (self.udp_gso, "UDP GSO"),
            (self.udp_gro, "UDP GRO"),
        ];
        let on: Vec<&str> = names
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, n)| *n)
            .collect();
        if on.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&on.join(", "))
        }
    }
}

/// Why the parent refused a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum Refusal {
    /// A pushed value failed the parent's checks.
    #[error("a pushed value was refused: {message}")]
    PushedValue {
        /// The parent's message: field, value, reason.
        message: String,
    },
    /// More requests of this kind than a correct network process makes in
    /// the time (the parent's rate limit).
    #[error("{message}")]
    TooOften {
        /// The limit.
        message: String,
    },
    /// A command the request needed failed; everything was rolled back.
    #[error("{message}; rolled back")]
    CommandFailed {
        /// The command and its error.
        message: String,
    },
}

/// Why a frame is not a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpcError {
    /// A frame of no bytes.
    #[error("empty frame")]
    Empty,
    /// A frame over [`MAX_FRAME`].
    #[error("frame of {0} bytes is over the {MAX_FRAME}-byte limit")]
    TooLarge(usize),
    /// Bytes that do not decode to a message.
    #[error("malformed frame: {0}")]
    Malformed(String),
    /// A message followed by more bytes.
    #[error("{trailing} trailing bytes after a {used}-byte message")]
    Trailing {
        /// Bytes the message used.
        used: usize,
        /// Bytes after it.
        trailing: usize,
    },
    /// A message that cannot be encoded within the limit.
    #[error("cannot encode: {0}")]
    Encode(String),
}

/// An encoded message, wiped when dropped (a start frame holds the secret
/// key).
#[derive(Debug, PartialEq, Eq)]
pub struct Frame(Vec<u8>);

impl Deref for Frame {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for Frame {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

fn codec() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<MAX_FRAME>()
}

/// Encodes a message into one frame, in a buffer allocated once at its
/// final size: a growing buffer would leave the start message (and the
/// secret key in it) behind in each allocation it outgrew, freed unwiped.
pub fn encode<T: Serialize>(msg: &T) -> Result<Frame, IpcError> {
    let mut size = bincode::enc::write::SizeWriter::default();
    bincode::serde::encode_into_writer(msg, &mut size, codec())
        .map_err(|e| IpcError::Encode(e.to_string()))?;
    if size.bytes_written > MAX_FRAME {
        return Err(IpcError::TooLarge(size.bytes_written));
    }
    let mut frame = Frame(vec![0; size.bytes_written]);
    let used = bincode::serde::encode_into_slice(msg, &mut frame.0, codec())
        .map_err(|e| IpcError::Encode(e.to_string()))?;
    // The same message encodes to the same size both times.
    frame.0.truncate(used);
    Ok(frame)
}

fn decode<T: serde::de::DeserializeOwned>(frame: &[u8]) -> Result<T, IpcError> {
    if frame.is_empty() {
        return Err(IpcError::Empty);
    }
    if frame.len() > MAX_FRAME {
        return Err(IpcError::TooLarge(frame.len()));
    }
    let (msg, used) = bincode::serde::decode_from_slice(frame, codec())
        .map_err(|e| IpcError::Malformed(e.to_string()))?;
    if used != frame.len() {
        return Err(IpcError::Trailing {
            used,
            trailing: frame.len() - used,
        });
    }
    Ok(msg)
}

/// Decodes a frame from the network process (untrusted).
pub fn decode_to_parent(frame: &[u8]) -> Result<ToParent, IpcError> {
    decode(frame)
}

/// Decodes a frame from the parent.
pub fn decode_to_child(frame: &[u8]) -> Result<ToChild, IpcError> {
    decode(frame)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_is_encoded_in_one_buffer_of_its_final_size() {
        // Many small writes: a growing buffer is reallocated several
        // times, and left larger than the frame.
        let message: Vec<String> = (0..300).map(|i| format!("k{i}")).collect();
        let frame = encode(&message).unwrap();
        assert_eq!(frame.0.capacity(), frame.len());
        assert_eq!(
            &*frame,
            bincode::serde::encode_to_vec(&message, codec()).unwrap()
        );
    }

    #[test]
    fn a_message_over_the_limit_is_not_encoded() {
        let message = "k".repeat(MAX_FRAME);
        assert!(matches!(encode(&message), Err(IpcError::TooLarge(n)) if n > MAX_FRAME));
    }
}
