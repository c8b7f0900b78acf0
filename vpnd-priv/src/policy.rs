//! Which request from the network process is granted, refused or fatal:
//! a pure function of the request, the parent's own facts and the state of
//! the conversation (OpenSSH's monitor table, as a match). The verdict
//! holds all of the decision: what to do, what to answer and where the
//! conversation goes next; the parent's loop only carries it out.
//!
//! - `Apply`: a well-formed request in its state with acceptable values;
//!   the plan uses only the parent's own nouns (its device, its networks,
//!   its nonce paths) and, for role host, the pushed values re-checked here.
//! - `Refuse`: well-formed and in state, with a value the parent does not
//!   accept (a pushed route that would swallow the gateway itself), or
//!   beyond the rate a correct network process produces: logged,
//!   answered, counted; a peer must not be able to stop the daemon.
//! - `Abort`: what a correct child never sends: a wrong version, a request
//!   out of state, pushed values for a role that has none, a local nonce
//!   that goes backwards, jumps ahead or reaches the top of the nonce
//!   space, a stream of nonce writes that do not wait for
//!   their answers. The parent kills the child and undoes everything.
//!
//! Rates bound root's work (commands, fsyncs) whatever the child asks:
//! - `NetworkUp`: [`NETWORK_UP_BURST`] at once, then one per
//!   [`NETWORK_UP_INTERVAL`]. A correct network process brings the network
//!   up once per session, and a session needs a handshake and ends only
//!   after 20 s of silence or a peer's restart: a few an hour, a burst when
//!   a peer restarts again and again (one killed and restarted every
//!   second or so, as the restart tests do, stays within it). An excess
//!   `NetworkUp` is refused (its session opens unconfigured, its
//!   `NetworkDown` undoes nothing), never fatal: a peer that holds the key
//!   can make sessions come and go quickly. Root runs at most one network
//!   configuration every two seconds, sustained.
//! - `PersistNonce`: each file is written at most once per
//!   [`MIN_NONCE_WRITE_INTERVAL`] (a request that comes sooner waits), so
//!   root syncs at most 400 times a second per file whatever the child
//!   sends. A correct child waits for each answer, so it never has a
//!   second request for a file while one waits: such a request is refused,
//!   and more than [`EARLY_WRITES`] of them in [`EARLY_WRITE_WINDOW`] stop
//!   the child.
//! - `ConnectPeer`: a budget in serve.rs.
//! - `ResolvePeer`: one per [`RESOLVE_INTERVAL`] (a correct network
//!   process asks when its peer dies, 20 s of silence at least, then once
//!   a minute); one sooner is refused, so root queries the resolver at
//!   most once per 10 s whatever the child sends.
//!
//! [`admit`] is pure: the time since the parent started is an argument.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use vpnd_crypto::Nonce;
use vpnd_proto::config::{Role, RoleConfig};
use vpnd_proto::ipc::{
    IPC_VERSION, MIN_NONCE_WRITE_INTERVAL, NonceSlot, RESOLVE_INTERVAL, Refusal, ToChild, ToParent,
    UdpSends,
};
use vpnd_proto::net::Prefix;
use vpnd_proto::wire::{Outside, Pushed};

use crate::hooks::HookEnv;
use crate::netconf::{Change, Family};
use crate::nonce_bounds;

/// The tun MTU that lets a 1500-byte-path datagram carry a full inner
/// packet unfragmented (doc/protocol.md "Roles", W21): 1500 - 20 (IPv4) - 8 (UDP) - 41.
pub const MTU_IPV4_PEER: u16 = 1431;
/// The same over IPv6 (40-byte header).
pub const MTU_IPV6_PEER: u16 = 1411;

/// The parent's own facts: its configuration, never the child's word.
#[derive(Debug, Clone)]
pub struct Facts {
    /// The role and its settings (networks, addresses, resolver).
    pub role: RoleConfig,
    /// `mtu` from the configuration.
    pub mtu: Option<u16>,
    /// How the network process sends: only with
    /// [`UdpSends::Connected`] may it ask for a connected socket.
    pub udp_sends: UdpSends,
    /// `nonce_reset_incr`: how far apart the local reset points are.
    pub nonce_reset_incr: u64,
    /// The Unix time the start message gave the network process, from
    /// which its send counter may start.
    pub start_unix_time: u64,
    /// The gateway's outer address as the parent resolved `remote_host`
    /// (at start, and again since: serve.rs keeps it to the last answer):
    /// what a push is judged against, never the `peer` the network
    /// process names. `None` for a host-gw, whose clients roam:
    /// it never applies pushed values, so it has no gateway to keep out
    /// of the tunnel.
    pub gateway: Option<SocketAddr>,
    /// This host's outer address (the source of its datagrams to the
    /// gateway) with its network's prefix length, as the system saw them
    /// when the session began (serve.rs looks again at each `NetworkUp`:
    /// a roaming host changes networks); `None` when unknown.
    pub outer: Option<Prefix>,
    /// `up_script` or `down_script` is configured: every session's plan
    /// ends with [`Change::Scripts`].
    pub scripts: bool,
}

/// `NetworkUp`s granted at once (see the module's documentation for why
/// these numbers).
pub const NETWORK_UP_BURST: u32 = 30;
/// Then one more per this interval.
pub const NETWORK_UP_INTERVAL: Duration = Duration::from_secs(2);

/// A rate: a burst at once, then one per interval (the generic cell rate
/// algorithm: `full_at` is when the burst would be whole again).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rate {
    full_at: Duration,
}

impl Rate {
    /// One more at `at` within `burst` and one per `interval`: the rate
    /// afterwards, and whether it was within.
    fn take(self, at: Duration, burst: u32, interval: Duration) -> (Rate, bool) {
        let full_at = self.full_at.max(at) + interval;
        if full_at.saturating_sub(at) > interval * burst {
            return (self, false);
        }
        (Rate { full_at }, true)
    }
}
/// Nonce writes asked for while one of the same file waits, refused, that
/// a child may send per [`EARLY_WRITE_WINDOW`] before it is stopped. A
/// correct child sends none; a few allow for nothing but slack.
pub const EARLY_WRITES: u32 = 20;
/// The window [`EARLY_WRITES`] counts in.
pub const EARLY_WRITE_WINDOW: Duration = Duration::from_secs(10);

/// Events counted in a fixed window of time (the time since the parent
/// started).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    start: Duration,
    used: u32,
}

impl Window {
    /// One more at `at`, allowed when fewer than `limit` were in the window
    /// of `length` it falls in: the window afterwards, and whether it was.
    fn take(self, at: Duration, limit: u32, length: Duration) -> (Window, bool) {
        let current = if self.used == 0 || at.saturating_sub(self.start) >= length {
            Window { start: at, used: 0 }
        } else {
            self
        };
        if current.used >= limit {
            return (current, false);
        }
        let used = current.used + 1;
        (Window { used, ..current }, true)
    }
}

/// One nonce file's writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Writes {
    /// A write was granted and is not yet done and answered.
    pub waiting: bool,
    /// The next write may not happen before this (time since start).
    pub next_at: Duration,
}

/// Where the conversation with the network process stands; [`admit`]
/// says what it becomes after each request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Conversation {
    /// `Hello` was received.
    pub greeted: bool,
    /// A session is open: `NetworkUp` came (applied or refused) and its
    /// `NetworkDown` has not.
    pub network_up: bool,
    /// The local nonce on disk: the last one written, or the file's value
    /// at start.
    pub local_nonce: Option<[u8; 24]>,
    /// The remote nonce on disk, likewise.
    pub remote_nonce: Option<[u8; 24]>,
    /// The local file's writes.
    pub local_writes: Writes,
    /// The remote file's writes.
    pub remote_writes: Writes,
    /// `NetworkUp`s granted lately.
    pub network_ups: Rate,
    /// Nonce writes refused for coming while one waited, lately.
    pub early_writes: Window,
    /// Lookups of `remote_host` granted lately.
    pub lookups: Rate,
}

impl Conversation {
    /// Before `Hello`, with the nonce files' values read at start.
    pub fn new(local_nonce: Option<[u8; 24]>, remote_nonce: Option<[u8; 24]>) -> Self {
        Conversation {
            local_nonce,
            remote_nonce,
            ..Conversation::default()
        }
    }

    fn writes(&mut self, slot: NonceSlot) -> &mut Writes {
        match slot {
            NonceSlot::Local => &mut self.local_writes,
            NonceSlot::Remote => &mut self.remote_writes,
        }
    }

    /// A write to the file of `slot` was granted and is not yet answered.
    pub fn waiting(&self, slot: NonceSlot) -> bool {
        match slot {
            NonceSlot::Local => self.local_writes.waiting,
            NonceSlot::Remote => self.remote_writes.waiting,
        }
    }

    /// The write to the file of `slot` was done and answered: the next
    /// request for it may come.
    pub fn written(&mut self, slot: NonceSlot) {
        self.writes(slot).waiting = false;
    }
}

/// What to do for a granted request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// The child is ours: carry on.
    Greet,
    /// Make these changes, in order (undone in reverse when the session
    /// ends or vpnd exits).
    Configure(Vec<Change>),
    /// Undo the session's changes.
    Unconfigure,
    /// Write `nonce` to the nonce file of `slot` (a path the parent owns),
    /// not before `not_before` (time since start), then call
    /// [`Conversation::written`].
    Persist {
        /// The file: local or remote.
        slot: NonceSlot,
        /// The 24 bytes to write.
        nonce: [u8; 24],
        /// The earliest time of the write: [`MIN_NONCE_WRITE_INTERVAL`]
        /// after the last one.
        not_before: Duration,
    },
    /// Open a UDP socket on the local port connected to this address and
    /// hand it over (at most so many per minute: serve.rs).
    ConnectPeer(SocketAddr),
    /// Look `remote_host` up again, and tell the network process the
    /// address found (peer_name.rs: in a thread, within a deadline).
    ResolvePeer,
}

/// What the parent answers the network process, once it has carried out
/// (or refused) a request. `NetworkUp`, `PersistNonce` and `ConnectPeer`
/// are answered (the network process waits for those answers); the other
/// requests are not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// No answer.
    Silent,
    /// `NetworkApplied` when every network change was made;
    /// `NetworkRefused` (`CommandFailed`, with the command's error) when
    /// one failed and the changes were rolled back.
    NetworkOutcome,
    /// `NetworkRefused` with this refusal: nothing was applied.
    NetworkRefused(Refusal),
    /// `PeerConnected` (the socket goes with it) when it was opened;
    /// `PeerRefused` with the error when not.
    PeerOutcome(SocketAddr),
    /// `PeerRefused` with this reason: no socket was opened.
    PeerRefused(SocketAddr, String),
    /// `NonceSaved` when the file was written; `NonceRefused` with the
    /// error when not.
    NonceOutcome(NonceSlot, [u8; 24]),
    /// `NonceRefused` with this reason: nothing was written.
    NonceRefused(NonceSlot, [u8; 24], String),
}

impl Reply {
    /// The message to send. `rolled_back`: the error of the command that
    /// failed, when carrying out the request was rolled back.
    pub fn message(&self, rolled_back: Option<String>) -> Option<ToChild> {
        match (self, rolled_back) {
            (Reply::Silent, _) => None,
            (Reply::NetworkOutcome, None) => Some(ToChild::NetworkApplied),
            (Reply::NetworkOutcome, Some(message)) => Some(ToChild::NetworkRefused {
                reason: Refusal::CommandFailed { message },
            }),
            (Reply::NetworkRefused(reason), _) => Some(ToChild::NetworkRefused {
                reason: reason.clone(),
            }),
            (Reply::PeerOutcome(peer), None) => Some(ToChild::PeerConnected { peer: *peer }),
            (Reply::PeerOutcome(peer), Some(reason)) => Some(ToChild::PeerRefused {
                peer: *peer,
                reason,
            }),
            (Reply::PeerRefused(peer, reason), _) => Some(ToChild::PeerRefused {
                peer: *peer,
                reason: reason.clone(),
            }),
            (Reply::NonceOutcome(slot, nonce), None) => Some(ToChild::NonceSaved {
                slot: *slot,
                nonce: *nonce,
            }),
            (Reply::NonceOutcome(slot, nonce), Some(reason)) => Some(ToChild::NonceRefused {
                slot: *slot,
                nonce: *nonce,
                reason,
            }),
            (Reply::NonceRefused(slot, nonce, reason), _) => Some(ToChild::NonceRefused {
                slot: *slot,
                nonce: *nonce,
                reason: reason.clone(),
            }),
        }
    }
}

/// A request the child must never send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Violation {
    /// The first message was not `Hello`.
    #[error("request before Hello")]
    BeforeHello,
    /// A second `Hello`, or one with another version.
    #[error("Hello out of place (version {0})")]
    Hello(u32),
    /// `NetworkUp` while the network is up.
    #[error("NetworkUp while the network is up")]
    NetworkUpTwice,
    /// `NetworkDown` while it is down.
    #[error("NetworkDown while the network is down")]
    NetworkDownTwice,
    /// Pushed values for a role that does not take any.
    #[error("pushed values in role {0}")]
    PushedForRole(&'static str),
    /// A nonce file value below the last one written.
    #[error("{0:?} nonce going backwards")]
    NonceBackwards(NonceSlot),
    /// A local reset point further ahead than the network process's
    /// counter can be (the value, in hex).
    #[error("Local nonce {0} more than {steps} increments ahead of the one on disk and of the clock's start", steps = crate::nonce_bounds::LOCAL_STEPS)]
    LocalNonceAhead(String),
    /// A local reset point at the top of the nonce space (in hex).
    #[error("Local nonce {0} at the top of the nonce space")]
    LocalNonceAtTop(String),
    /// `ConnectPeer` from a network process whose sends name their
    /// destination.
    #[error("ConnectPeer while sends name their destination")]
    ConnectUnneeded,
    /// `ResolvePeer` in a role with no `remote_host` (a host-gw).
    #[error("ResolvePeer in role {0}, which has no remote_host")]
    ResolveWithoutName(&'static str),
    /// Nonce writes, one after another, that did not wait for the answer
    /// to the one before.
    #[error(
        "more than {EARLY_WRITES} nonce writes in {}s asked for while one waited",
        EARLY_WRITE_WINDOW.as_secs()
    )]
    EarlyWrites,
}

/// The verdict on one request: everything the parent does about it, so
/// that the parent's loop only carries it out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Grant it: carry out `action`, answer as `reply` says (on how that
    /// went), and the conversation is `next` (whether or not it went well).
    Apply {
        /// The change, greeting or write to make.
        action: Action,
        /// What to answer, on how carrying out `action` went.
        reply: Reply,
        /// The conversation afterwards.
        next: Conversation,
    },
    /// Refuse it: log `reason` (within the log budget), answer with
    /// `reply`; the conversation is `next`.
    Refuse {
        /// Field, value and what is wrong with it.
        reason: String,
        /// What to answer.
        reply: Reply,
        /// The conversation afterwards: a refused `NetworkUp` still opens
        /// the session, whose `NetworkDown` follows (and undoes nothing).
        next: Conversation,
    },
    /// Stop the child: it broke the protocol.
    Abort(Violation),
}

/// Judges `request` from the network process in conversation `now`, `at`
/// the time since the parent started.
pub fn admit(request: &ToParent, facts: &Facts, now: &Conversation, at: Duration) -> Verdict {
    match request {
        ToParent::Hello { version } => {
            if now.greeted || *version != IPC_VERSION {
                Verdict::Abort(Violation::Hello(*version))
            } else {
                Verdict::Apply {
                    action: Action::Greet,
                    reply: Reply::Silent,
                    next: Conversation {
                        greeted: true,
                        ..*now
                    },
                }
            }
        }
        _ if !now.greeted => Verdict::Abort(Violation::BeforeHello),
        ToParent::NetworkUp { .. } if now.network_up => Verdict::Abort(Violation::NetworkUpTwice),
        ToParent::NetworkUp { peer, pushed } => {
            let (network_ups, within) =
                now.network_ups
                    .take(at, NETWORK_UP_BURST, NETWORK_UP_INTERVAL);
            let next = Conversation {
                network_up: true,
                network_ups,
                ..*now
            };
            if !within {
                let reason = format!(
                    "NetworkUp: more than {NETWORK_UP_BURST} sessions at once or one per {} s; this one is not configured",
                    NETWORK_UP_INTERVAL.as_secs()
                );
                return Verdict::Refuse {
                    reply: Reply::NetworkRefused(Refusal::TooOften {
                        message: reason.clone(),
                    }),
                    reason,
                    next,
                };
            }
            match network_plan(facts, peer, pushed.as_ref()) {
                Ok(plan) => Verdict::Apply {
                    action: Action::Configure(plan),
                    reply: Reply::NetworkOutcome,
                    next,
                },
                Err(Denied::Refused(reason)) => Verdict::Refuse {
                    reply: Reply::NetworkRefused(Refusal::PushedValue {
                        message: reason.clone(),
                    }),
                    reason,
                    next,
                },
                Err(Denied::Fatal(violation)) => Verdict::Abort(violation),
            }
        }
        ToParent::NetworkDown if !now.network_up => Verdict::Abort(Violation::NetworkDownTwice),
        ToParent::NetworkDown => Verdict::Apply {
            action: Action::Unconfigure,
            reply: Reply::Silent,
            next: Conversation {
                network_up: false,
                ..*now
            },
        },
        ToParent::PersistNonce { slot, nonce } if now.waiting(*slot) => {
            let (early_writes, within) =
                now.early_writes.take(at, EARLY_WRITES, EARLY_WRITE_WINDOW);
            if !within {
                return Verdict::Abort(Violation::EarlyWrites);
            }
            let reason = format!("{slot:?} nonce: asked for while the last write waits");
            Verdict::Refuse {
                reply: Reply::NonceRefused(*slot, *nonce, reason.clone()),
                reason,
                next: Conversation {
                    early_writes,
                    ..*now
                },
            }
        }
        ToParent::PersistNonce { slot, nonce } => persist(facts, now, *slot, *nonce, at),
        ToParent::ConnectPeer { .. } if facts.udp_sends != UdpSends::Connected => {
            Verdict::Abort(Violation::ConnectUnneeded)
        }
        ToParent::ResolvePeer => resolve_peer(facts, now, at),
        ToParent::ConnectPeer { peer } => match unicast_peer(peer) {
            Ok(()) => Verdict::Apply {
                action: Action::ConnectPeer(*peer),
                reply: Reply::PeerOutcome(*peer),
                next: *now,
            },
            Err(reason) => Verdict::Refuse {
                reply: Reply::PeerRefused(*peer, reason.clone()),
                reason,
                next: *now,
            },
        },
    }
}

/// A lookup of `remote_host`: only where there is one, and at most one
/// per [`RESOLVE_INTERVAL`] (answered by the lookup itself, if at all).
fn resolve_peer(facts: &Facts, now: &Conversation, at: Duration) -> Verdict {
    if let RoleConfig::HostGw { .. } = facts.role {
        return Verdict::Abort(Violation::ResolveWithoutName(Role::HostGw.as_str()));
    }
    let (lookups, within) = now.lookups.take(at, 1, RESOLVE_INTERVAL);
    if !within {
        return Verdict::Refuse {
            reason: format!(
                "ResolvePeer: more than one per {} s",
                RESOLVE_INTERVAL.as_secs()
            ),
            reply: Reply::Silent,
            next: *now,
        };
    }
    Verdict::Apply {
        action: Action::ResolvePeer,
        reply: Reply::Silent,
        next: Conversation { lookups, ..*now },
    }
}

/// A peer a socket may be connected to: one host's address and a port.
/// The session only learns addresses that sent an authenticated datagram,
/// so anything else is a confused or compromised child: refused, not
/// obeyed.
fn unicast_peer(peer: &SocketAddr) -> Result<(), String> {
    let ip = match peer.ip() {
        IpAddr::V6(a) => a.to_ipv4_mapped().map_or(IpAddr::V6(a), IpAddr::V4),
        v4 => v4,
    };
    let what = if peer.port() == 0 {
        Some("port 0")
    } else if ip.is_unspecified() {
        Some("the unspecified address")
    } else if ip.is_multicast() {
        Some("a multicast address")
    } else if ip == IpAddr::V4(std::net::Ipv4Addr::BROADCAST) {
        Some("the broadcast address")
    } else {
        None
    };
    match what {
        Some(what) => Err(format!("ConnectPeer {peer}: {what} is no peer")),
        None => Ok(()),
    }
}

/// A nonce file write: never below what is on disk (nonces compare as
/// little-endian integers), never at the top of the nonce space, and for
/// the local slot never further ahead than the network process's counter
/// can be ([`nonce_bounds::local_ceiling`]). What breaks a bound is fatal
/// for the local slot (the child's own counter, which never goes back or
/// jumps) and refused for the remote one (the peer's, which the parent
/// cannot check beyond that).
/// A write comes [`MIN_NONCE_WRITE_INTERVAL`] after the last at the
/// earliest.
fn persist(
    facts: &Facts,
    now: &Conversation,
    slot: NonceSlot,
    nonce: [u8; 24],
    at: Duration,
) -> Verdict {
    let mut next = *now;
    let on_disk = match slot {
        NonceSlot::Local => &mut next.local_nonce,
        NonceSlot::Remote => &mut next.remote_nonce,
    };
    let hex = || Nonce::from_bytes(nonce).to_hex();
    let backwards = on_disk.is_some_and(|d| Nonce::from_bytes(nonce) < Nonce::from_bytes(d));
    let at_top = nonce_bounds::at_top(&nonce);
    let ahead = slot == NonceSlot::Local
        && Nonce::from_bytes(nonce)
            > nonce_bounds::local_ceiling(
                on_disk.as_ref(),
                facts.start_unix_time,
                facts.nonce_reset_incr,
            );
    let refused = |reason: String| Verdict::Refuse {
        reply: Reply::NonceRefused(slot, nonce, reason.clone()),
        reason,
        next: *now,
    };
    match (slot, backwards, at_top, ahead) {
        (NonceSlot::Local, true, _, _) => Verdict::Abort(Violation::NonceBackwards(slot)),
        (NonceSlot::Local, _, true, _) => Verdict::Abort(Violation::LocalNonceAtTop(hex())),
        (NonceSlot::Local, _, _, true) => Verdict::Abort(Violation::LocalNonceAhead(hex())),
        (NonceSlot::Remote, true, _, _) => refused("remote nonce below the one on disk".to_owned()),
        (NonceSlot::Remote, _, true, _) => refused(format!(
            "remote nonce {}: at the top of the nonce space, where no peer's counter gets; not written",
            hex()
        )),
        _ => {
            *on_disk = Some(nonce);
            let writes = next.writes(slot);
            let not_before = at.max(writes.next_at);
            *writes = Writes {
                waiting: true,
                next_at: not_before + MIN_NONCE_WRITE_INTERVAL,
            };
            Verdict::Apply {
                action: Action::Persist {
                    slot,
                    nonce,
                    not_before,
                },
                reply: Reply::NonceOutcome(slot, nonce),
                next,
            }
        }
    }
}

/// Why a `NetworkUp` gets no plan.
enum Denied {
    /// A value the parent does not accept (the reason to log and answer).
    Refused(String),
    /// What a correct child never sends.
    Fatal(Violation),
}

/// The tun MTU for a peer at `peer`, unless configured.
pub fn mtu_for(peer: &SocketAddr, configured: Option<u16>) -> u16 {
    configured.unwrap_or(match peer.ip() {
        IpAddr::V4(_) => MTU_IPV4_PEER,
        IpAddr::V6(a) if a.to_ipv4_mapped().is_some() => MTU_IPV4_PEER,
        IpAddr::V6(_) => MTU_IPV6_PEER,
    })
}

/// The warning a configured `mtu` deserves when a full inner packet no
/// longer fits a 1500-byte path in one datagram (the kernel then fragments
/// the outer datagrams). `peer` unknown: judged as for an IPv4 peer.
pub fn mtu_warning(peer: Option<&SocketAddr>, configured: Option<u16>) -> Option<String> {
    let mtu = configured?;
    let fits = match peer {
        Some(p) => mtu_for(p, None),
        None => MTU_IPV4_PEER,
    };
    (mtu > fits).then(|| {
        let largest = usize::from(mtu) + 1500 - usize::from(fits);
        format!(
            "mtu {mtu}: datagrams of up to {largest} bytes exceed a 1500-byte path and are fragmented by the kernel (mtu {fits} or less avoids it)"
        )
    })
}

/// Forwarding for the families of the networks a session routes, and for
/// no other: on Linux IPv6 forwarding also stops router advertisements
/// from being accepted, which can cost a gateway its own default route
/// (doc/deployed-peer.md, W16).
fn forwarding_for(prefixes: &[&vpnd_proto::net::Prefix]) -> Vec<Change> {
    let mut families: Vec<Family> = prefixes.iter().map(|p| Family::of(&p.addr())).collect();
    families.sort_by_key(|f| *f == Family::V6);
    families.dedup();
    families.into_iter().map(Change::Forwarding).collect()
}

/// The changes a `NetworkUp` makes in `facts.role`, all from the
/// parent's own configuration but, for role host, the pushed values; and
/// last, when configured, the session's scripts, told the values the
/// rest of the plan applies.
fn network_plan(
    facts: &Facts,
    peer: &SocketAddr,
    pushed: Option<&Pushed>,
) -> Result<Vec<Change>, Denied> {
    let mut plan = network_changes(facts, peer, pushed)?;
    if facts.scripts {
        // `pushed` passed the checks of `network_changes` (a host's) or
        // is none (any other role's are refused there).
        let mtu = mtu_for(peer, facts.mtu);
        let peer = unicast_peer(peer).ok().map(|()| peer);
        plan.push(Change::Scripts(HookEnv::for_session(
            &facts.role,
            peer,
            mtu,
            pushed,
        )));
    }
    Ok(plan)
}

/// The network changes of [`network_plan`].
fn network_changes(
    facts: &Facts,
    peer: &SocketAddr,
    pushed: Option<&Pushed>,
) -> Result<Vec<Change>, Denied> {
    let mut plan = vec![Change::Mtu(mtu_for(peer, facts.mtu))];
    match (&facts.role, pushed) {
        (RoleConfig::NetGw { .. }, Some(_)) => Err(Denied::Fatal(Violation::PushedForRole(
            Role::NetGw.as_str(),
        ))),
        (RoleConfig::HostGw { .. }, Some(_)) => Err(Denied::Fatal(Violation::PushedForRole(
            Role::HostGw.as_str(),
        ))),
        (RoleConfig::NetGw { remote_network, .. }, None) => {
            // Without `remote_network` the site routes through the tun by
            // its own means: IPv4, which has no such side effect; a site
            // routing IPv6 that way switches IPv6 forwarding on itself.
            plan.extend(match remote_network {
                Some(net) => forwarding_for(&[net]),
                None => vec![Change::Forwarding(Family::V4)],
            });
            plan.extend(remote_network.map(Change::Route));
            Ok(plan)
        }
        (
            RoleConfig::HostGw {
                local_network,
                host_addr,
                ..
            },
            None,
        ) => {
            plan.extend(forwarding_for(&[local_network, host_addr]));
            let host = vpnd_proto::net::Prefix::new(
                host_addr.addr(),
                if host_addr.addr().is_ipv4() { 32 } else { 128 },
            )
            .map_err(|e| Denied::Refused(format!("host_addr: {e}")))?;
            plan.push(Change::Route(host));
            Ok(plan)
        }
        // The gateway pushed nothing (or the child refused it): only the MTU.
        (RoleConfig::Host { .. }, None) => Ok(plan),
        (
            RoleConfig::Host {
                min_pushed_prefix, ..
            },
            Some(p),
        ) => {
            let outside = Outside {
                min_prefix: *min_pushed_prefix,
                gateway: facts.gateway.map(|g| g.ip()),
                own: facts.outer,
            };
            plan.extend(host_plan(&outside, p).map_err(Denied::Refused)?);
            Ok(plan)
        }
    }
}

/// What a host applies from a push, checked again here against the
/// parent's own facts (the child checked once; the parent does not take
/// its word, nor its `peer`).
fn host_plan(outside: &Outside, p: &Pushed) -> Result<Vec<Change>, String> {
    p.validate().map_err(|e| e.to_string())?;
    p.check_outside(outside).map_err(|e| e.to_string())?;
    let mut changes = vec![Change::Address(p.host.addr()), Change::Route(p.network)];
    if let Some(ns) = p.resolver {
        changes.push(Change::Resolver {
            nameserver: ns,
            search: p.domain.clone(),
        });
    }
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const V4_PEER: &str = "198.18.0.2:4706";
    const V6_PEER: &str = "[2001:2::2]:4706";

    fn pushed(network: &str) -> Option<Pushed> {
        pushed_host("198.19.3.2/24", network)
    }

    fn pushed_host(host: &str, network: &str) -> Option<Pushed> {
        Some(Pushed {
            host: host.parse().unwrap(),
            network: network.parse().unwrap(),
            resolver: Some("198.19.1.53".parse().unwrap()),
            domain: Some("vpnd.test".parse().unwrap()),
        })
    }

    /// The parent's facts in `role`, with `mtu` configured or not.
    fn facts(role: Role, mtu: Option<u16>) -> Facts {
        let remote = vpnd_proto::config::Remote {
            host: "198.18.0.2".parse().unwrap(),
            port: 4706,
        };
        let role = match role {
            Role::NetGw => RoleConfig::NetGw {
                remote,
                remote_network: Some("198.19.2.0/24".parse().unwrap()),
            },
            Role::HostGw => RoleConfig::HostGw {
                local_network: "198.19.1.0/24".parse().unwrap(),
                host_addr: "198.19.3.2/24".parse().unwrap(),
                resolv_addr: None,
                resolv_domain: None,
            },
            Role::Host => RoleConfig::Host {
                remote,
                resolvconf_path: "/sbin/resolvconf".into(),
                min_pushed_prefix: Default::default(),
            },
        };
        let gateway = match role {
            RoleConfig::HostGw { .. } => None,
            _ => Some(V4_PEER.parse().unwrap()),
        };
        Facts {
            role,
            mtu,
            udp_sends: UdpSends::Addressed,
            nonce_reset_incr: INCR,
            start_unix_time: START,
            gateway,
            outer: Some("198.18.0.1/24".parse().unwrap()),
            scripts: false,
        }
    }

    /// A host's facts with the gateway as resolved to `gateway`.
    fn host_toward(gateway: &str) -> Facts {
        Facts {
            gateway: Some(gateway.parse().unwrap()),
            ..facts(Role::Host, None)
        }
    }

    /// The facts of a network process that sends by connected sockets.
    fn connected(role: Role) -> Facts {
        Facts {
            udp_sends: UdpSends::Connected,
            ..facts(role, None)
        }
    }

    fn connect(peer: &str) -> ToParent {
        ToParent::ConnectPeer {
            peer: peer.parse().unwrap(),
        }
    }

    fn refuse_connect(peer: &str, what: &str, next: Conversation) -> Verdict {
        let reason = format!("ConnectPeer {peer}: {what} is no peer");
        Verdict::Refuse {
            reply: Reply::PeerRefused(peer.parse().unwrap(), reason.clone()),
            reason,
            next,
        }
    }

    /// `nonce_reset_incr` in the facts.
    const INCR: u64 = 100;
    /// The Unix time of the start message in the facts.
    const START: u64 = 1_800_000_000;

    /// `k` above `base`.
    fn plus(base: [u8; 24], k: u64) -> [u8; 24] {
        *Nonce::from_bytes(base).plus(k).as_bytes()
    }

    /// A start the network process may pick from the clock of its start
    /// message, with `random` low bytes.
    fn clock(random: u8) -> [u8; 24] {
        *Nonce::from_time_and_random(START, [random; 16]).as_bytes()
    }

    fn hex(n: [u8; 24]) -> String {
        Nonce::from_bytes(n).to_hex()
    }

    /// A nonce whose most significant byte is `n`.
    fn at(n: u8) -> [u8; 24] {
        let mut b = [0u8; 24];
        b[23] = n;
        b
    }

    /// `n` in the most significant byte, every lower byte 0xff: below
    /// `at(n + 1)` although its low bytes are larger (little-endian).
    fn low_bytes_full(n: u8) -> [u8; 24] {
        let mut b = [0xffu8; 24];
        b[23] = n;
        b
    }

    /// A conversation: greeted or not, a session open or not, the nonces
    /// on disk.
    fn conv(
        greeted: bool,
        network_up: bool,
        local: Option<u8>,
        remote: Option<u8>,
    ) -> Conversation {
        Conversation {
            greeted,
            network_up,
            local_nonce: local.map(at),
            remote_nonce: remote.map(at),
            ..Conversation::default()
        }
    }

    fn up(peer: &str, pushed: Option<Pushed>) -> ToParent {
        ToParent::NetworkUp {
            peer: peer.parse().unwrap(),
            pushed,
        }
    }

    fn nonce(slot: NonceSlot, nonce: [u8; 24]) -> ToParent {
        ToParent::PersistNonce { slot, nonce }
    }

    fn apply(action: Action, reply: Reply, next: Conversation) -> Verdict {
        Verdict::Apply {
            action,
            reply,
            next,
        }
    }

    fn configure(changes: &[Change], next: Conversation) -> Verdict {
        apply(
            Action::Configure(changes.to_vec()),
            Reply::NetworkOutcome,
            next,
        )
    }

    fn refuse_push(reason: &str, next: Conversation) -> Verdict {
        Verdict::Refuse {
            reason: reason.to_owned(),
            reply: Reply::NetworkRefused(Refusal::PushedValue {
                message: reason.to_owned(),
            }),
            next,
        }
    }

    /// The refusal of a pushed `network` that contains `what`.
    fn cut(network: &str, what: &str) -> String {
        format!(
            "pushed network: {network}: contains {what}; routing it through the tunnel would cut the tunnel"
        )
    }

    /// A write granted at once (time zero, none before it), `next` but
    /// for the write that now waits.
    fn persist(slot: NonceSlot, nonce: [u8; 24], mut next: Conversation) -> Verdict {
        *next.writes(slot) = Writes {
            waiting: true,
            next_at: MIN_NONCE_WRITE_INTERVAL,
        };
        let not_before = Duration::ZERO;
        apply(
            Action::Persist {
                slot,
                nonce,
                not_before,
            },
            Reply::NonceOutcome(slot, nonce),
            next,
        )
    }

    fn abort(v: Violation) -> Verdict {
        Verdict::Abort(v)
    }

    fn route(prefix: &str) -> Change {
        Change::Route(prefix.parse().unwrap())
    }

    #[test]
    fn every_request_in_every_state_has_its_verdict() {
        use NonceSlot::{Local, Remote};
        use Role::{Host, HostGw, NetGw};
        let hello = ToParent::Hello {
            version: IPC_VERSION,
        };
        let down = ToParent::NetworkDown;
        let fresh = conv(false, false, None, None);
        let greeted = conv(true, false, None, None);
        let session = conv(true, true, None, None);
        // Greeted, with these nonces on disk.
        let local_5 = conv(true, false, Some(5), None);
        let up_local_5 = conv(true, true, Some(5), None);
        let up_remote_9 = conv(true, true, Some(5), Some(9));
        // What a run an hour before left: far below the clock's start.
        let an_hour_before = *Nonce::from_time_and_random(START - 3600, [9; 16]).as_bytes();
        let local_with = |n| Conversation {
            local_nonce: Some(n),
            ..greeted
        };
        let remote_with = |n| Conversation {
            remote_nonce: Some(n),
            ..up_local_5
        };
        let net_gw_plan = [
            Change::Mtu(1431),
            Change::Forwarding(Family::V4),
            route("198.19.2.0/24"),
        ];
        let host_gw_plan_v6_peer = [
            Change::Mtu(1411),
            Change::Forwarding(Family::V4),
            route("198.19.3.2/32"),
        ];
        let host_plan = [
            Change::Mtu(1431),
            Change::Address("198.19.3.2".parse().unwrap()),
            route("198.19.1.0/24"),
            Change::Resolver {
                nameserver: "198.19.1.53".parse().unwrap(),
                search: Some("vpnd.test".parse().unwrap()),
            },
        ];
        #[rustfmt::skip]
        let table: Vec<(Facts, Conversation, ToParent, Verdict)> = vec![
            // The order of the conversation: Hello first and once, then
            // up and down in turn.
            (facts(NetGw, None), fresh, hello.clone(), apply(Action::Greet, Reply::Silent, greeted)),
            (facts(NetGw, None), fresh, ToParent::Hello { version: 99 }, abort(Violation::Hello(99))),
            (facts(NetGw, None), greeted, hello.clone(), abort(Violation::Hello(IPC_VERSION))),
            (facts(NetGw, None), fresh, up(V4_PEER, None), abort(Violation::BeforeHello)),
            (facts(NetGw, None), fresh, down.clone(), abort(Violation::BeforeHello)),
            (facts(NetGw, None), fresh, nonce(Local, at(1)), abort(Violation::BeforeHello)),
            (facts(NetGw, None), greeted, down.clone(), abort(Violation::NetworkDownTwice)),
            (facts(NetGw, None), session, up(V4_PEER, None), abort(Violation::NetworkUpTwice)),
            (facts(NetGw, None), session, down.clone(), apply(Action::Unconfigure, Reply::Silent, greeted)),
            // Each role's plan: the parent's own configuration; for role
            // host, what was pushed, checked again.
            (facts(NetGw, None), greeted, up(V4_PEER, None), configure(&net_gw_plan, session)),
            (facts(HostGw, None), greeted, up(V6_PEER, None), configure(&host_gw_plan_v6_peer, session)),
            (facts(Host, None), greeted, up(V4_PEER, pushed("198.19.1.0/24")), configure(&host_plan, session)),
            (facts(Host, Some(1280)), greeted, up(V4_PEER, None), configure(&[Change::Mtu(1280)], session)),
            // Pushed values where none belong are fatal; bad ones refused,
            // and the session opens all the same.
            (facts(NetGw, None), greeted, up(V4_PEER, pushed("198.19.1.0/24")), abort(Violation::PushedForRole("net-gw"))),
            (facts(HostGw, None), greeted, up(V4_PEER, pushed("198.19.1.0/24")), abort(Violation::PushedForRole("host-gw"))),
            (facts(Host, None), greeted, up(V4_PEER, pushed("0.0.0.0/0")),
                refuse_push("pushed network: 0.0.0.0/0: a default route is not pushed", session)),
            (facts(Host, None), greeted, up(V4_PEER, pushed("198.18.0.0/15")),
                refuse_push(&cut("198.18.0.0/15", "the gateway's address 198.18.0.2"), session)),
            // Judged against the gateway the parent resolved, never the
            // peer the network process names, however it writes it.
            (facts(Host, None), greeted, up("203.0.113.9:4706", pushed("198.18.0.0/15")),
                refuse_push(&cut("198.18.0.0/15", "the gateway's address 198.18.0.2"), session)),
            (facts(Host, None), greeted, up("[::ffff:198.18.0.2]:4706", pushed("198.18.0.0/15")),
                refuse_push(&cut("198.18.0.0/15", "the gateway's address 198.18.0.2"), session)),
            (host_toward("[::ffff:198.18.0.2]:4706"), greeted, up("203.0.113.9:4706", pushed("198.18.0.0/15")),
                refuse_push(&cut("198.18.0.0/15", "the gateway's address 198.18.0.2"), session)),
            (host_toward("198.19.9.9:4706"), greeted, up(V4_PEER, pushed("198.18.0.0/16")),
                refuse_push(&cut("198.18.0.0/16", "this host's outer address 198.18.0.1"), session)),
            // No wider than the minimum.
            (facts(Host, None), greeted, up(V4_PEER, pushed("64.0.0.0/2")),
                refuse_push("pushed network: 64.0.0.0/2: wider than /8 (min_pushed_prefix_v4)", session)),
            (facts(Host, None), greeted, up(V6_PEER, pushed_host("2001:2:0:3::2/64", "2000::/3")),
                refuse_push("pushed network: 2000::/3: wider than /16 (min_pushed_prefix_v6)", session)),
            (facts(Host, None), greeted, up(V6_PEER, pushed_host("2001:2:0:3::2/64", "8000::/1")),
                refuse_push("pushed network: 8000::/1: wider than /16 (min_pushed_prefix_v6)", session)),
            // A host address that is no tunnel address of this host.
            (facts(Host, None), greeted, up(V4_PEER, pushed_host("127.0.0.2/8", "198.19.1.0/24")),
                refuse_push("pushed host address: 127.0.0.2/8: not a unicast address", session)),
            (facts(Host, None), greeted, up(V4_PEER, pushed_host("169.254.3.2/16", "198.19.1.0/24")),
                refuse_push("pushed host address: 169.254.3.2/16: a link-local address", session)),
            (facts(Host, None), greeted, up(V6_PEER, pushed_host("fe80::2/64", "2001:2:0:1::/64")),
                refuse_push("pushed host address: fe80::2/64: a link-local address", session)),
            (facts(Host, None), greeted, up(V4_PEER, pushed_host("224.0.0.5/24", "198.19.1.0/24")),
                refuse_push("pushed host address: 224.0.0.5/24: not a unicast address", session)),
            (facts(Host, None), greeted, up("203.0.113.9:4706", pushed_host("198.18.0.2/24", "198.19.1.0/24")),
                refuse_push("pushed host address: 198.18.0.2/24: is the gateway's address", session)),
            (facts(Host, None), greeted, up(V4_PEER, pushed_host("198.18.0.7/24", "198.19.1.0/24")),
                refuse_push("pushed host address: 198.18.0.7/24: inside this host's outer network 198.18.0.0/24", session)),
            // Nonces never go backwards: fatal for the local counter,
            // refused for the remote one; equal is not backwards.
            (facts(NetGw, None), local_5, nonce(Local, at(5)), persist(Local, at(5), local_5)),
            (facts(NetGw, None), local_5, nonce(Local, plus(at(5), 150)), persist(Local, plus(at(5), 150), local_with(plus(at(5), 150)))),
            (facts(NetGw, None), local_5, nonce(Local, at(4)), abort(Violation::NonceBackwards(Local))),
            (facts(NetGw, None), local_5, nonce(Local, low_bytes_full(4)), abort(Violation::NonceBackwards(Local))),
            (facts(NetGw, None), up_local_5, nonce(Remote, at(9)), persist(Remote, at(9), up_remote_9)),
            (facts(NetGw, None), up_remote_9, nonce(Remote, at(8)),
                Verdict::Refuse { reason: "remote nonce below the one on disk".to_owned(),
                    reply: Reply::NonceRefused(Remote, at(8), "remote nonce below the one on disk".to_owned()), next: up_remote_9 }),
            // A local reset point runs at most four increments ahead of
            // the file, or of the highest start the clock of the start
            // message allows (the first write after a start from the
            // clock, a file below it or none).
            (facts(NetGw, None), local_5, nonce(Local, plus(at(5), 4 * INCR)), persist(Local, plus(at(5), 4 * INCR), local_with(plus(at(5), 4 * INCR)))),
            (facts(NetGw, None), local_5, nonce(Local, plus(at(5), 4 * INCR + 1)), abort(Violation::LocalNonceAhead(hex(plus(at(5), 4 * INCR + 1))))),
            (facts(NetGw, None), greeted, nonce(Local, plus(clock(0x5a), INCR)), persist(Local, plus(clock(0x5a), INCR), local_with(plus(clock(0x5a), INCR)))),
            (facts(NetGw, None), local_with(an_hour_before), nonce(Local, plus(clock(0x77), INCR)), persist(Local, plus(clock(0x77), INCR), local_with(plus(clock(0x77), INCR)))),
            (facts(NetGw, None), local_with(plus(clock(0), 7)), nonce(Local, plus(clock(0xff), 4 * INCR)),
                persist(Local, plus(clock(0xff), 4 * INCR), local_with(plus(clock(0xff), 4 * INCR)))),
            (facts(NetGw, None), greeted, nonce(Local, plus(clock(0xff), 4 * INCR + 1)), abort(Violation::LocalNonceAhead(hex(plus(clock(0xff), 4 * INCR + 1))))),
            (facts(NetGw, None), greeted, nonce(Local, at(5)), abort(Violation::LocalNonceAhead(hex(at(5))))),
            // Nothing at the top of the nonce space is written: fatal for
            // the local slot, refused for the remote one; far ahead is
            // the most the parent can check of a remote value.
            (facts(NetGw, None), local_with(at(0xfe)), nonce(Local, [0xff; 24]), abort(Violation::LocalNonceAtTop(hex([0xff; 24])))),
            (facts(NetGw, None), greeted, nonce(Local, [0xff; 24]), abort(Violation::LocalNonceAtTop(hex([0xff; 24])))),
            (facts(NetGw, None), up_remote_9, nonce(Remote, [0xff; 24]),
                { let reason = format!("remote nonce {}: at the top of the nonce space, where no peer's counter gets; not written", hex([0xff; 24]));
                  Verdict::Refuse { reply: Reply::NonceRefused(Remote, [0xff; 24], reason.clone()), reason, next: up_remote_9 } }),
            (facts(NetGw, None), up_remote_9, nonce(Remote, low_bytes_full(0xfe)), persist(Remote, low_bytes_full(0xfe), remote_with(low_bytes_full(0xfe)))),
            // A connected socket: only where sends may not name their
            // destination, for any role, in or out of a session (a peer
            // moves at any time); never to an address no host has.
            (facts(HostGw, None), greeted, connect(V4_PEER), abort(Violation::ConnectUnneeded)),
            (connected(HostGw), fresh, connect(V4_PEER), abort(Violation::BeforeHello)),
            (connected(HostGw), greeted, connect(V4_PEER),
                apply(Action::ConnectPeer(V4_PEER.parse().unwrap()), Reply::PeerOutcome(V4_PEER.parse().unwrap()), greeted)),
            (connected(NetGw), session, connect(V6_PEER),
                apply(Action::ConnectPeer(V6_PEER.parse().unwrap()), Reply::PeerOutcome(V6_PEER.parse().unwrap()), session)),
            (connected(Host), session, connect("198.18.0.2:0"), refuse_connect("198.18.0.2:0", "port 0", session)),
            (connected(Host), session, connect("0.0.0.0:4706"), refuse_connect("0.0.0.0:4706", "the unspecified address", session)),
            (connected(Host), session, connect("[::]:4706"), refuse_connect("[::]:4706", "the unspecified address", session)),
            (connected(Host), session, connect("[ff02::1]:4706"), refuse_connect("[ff02::1]:4706", "a multicast address", session)),
            (connected(Host), session, connect("[::ffff:224.0.0.1]:4706"), refuse_connect("[::ffff:224.0.0.1]:4706", "a multicast address", session)),
            (connected(Host), session, connect("255.255.255.255:4706"), refuse_connect("255.255.255.255:4706", "the broadcast address", session)),
            // A lookup of the peer's name: where there is one, in or out
            // of a session; answered by the lookup, not by the verdict.
            (facts(NetGw, None), fresh, ToParent::ResolvePeer, abort(Violation::BeforeHello)),
            (facts(NetGw, None), greeted, ToParent::ResolvePeer, apply(Action::ResolvePeer, Reply::Silent, greeted)),
            (connected(Host), session, ToParent::ResolvePeer, apply(Action::ResolvePeer, Reply::Silent, session)),
            (facts(HostGw, None), greeted, ToParent::ResolvePeer, abort(Violation::ResolveWithoutName("host-gw"))),
        ];
        for (row, (facts, now, request, verdict)) in table.iter().enumerate() {
            assert_eq!(
                &uncounted(admit(request, facts, now, Duration::ZERO)),
                verdict,
                "row {row}: {request:?} in {now:?}"
            );
        }
    }

    /// `verdict` without the rate counters in its next conversation (the
    /// table's rows judge what a request is; the rate tests count).
    fn uncounted(verdict: Verdict) -> Verdict {
        let clear = |next: Conversation| Conversation {
            network_ups: Rate::default(),
            early_writes: Window::default(),
            lookups: Rate::default(),
            ..next
        };
        match verdict {
            Verdict::Apply {
                action,
                reply,
                next,
            } => apply(action, reply, clear(next)),
            Verdict::Refuse {
                reason,
                reply,
                next,
            } => Verdict::Refuse {
                reason,
                reply,
                next: clear(next),
            },
            abort => abort,
        }
    }

    /// `request` in `now` at `secs` seconds after the start.
    fn at_time(request: &ToParent, now: &Conversation, secs: f64) -> Verdict {
        admit(
            request,
            &facts(Role::NetGw, None),
            now,
            Duration::from_secs_f64(secs),
        )
    }

    #[test]
    fn network_ups_beyond_the_rate_are_refused_not_fatal() {
        let mut now = conv(true, false, None, None);
        let mut granted = 0;
        // A child that brings the network up and down every second.
        for i in 0..120 {
            let t = f64::from(i);
            match at_time(&up(V4_PEER, None), &now, t) {
                Verdict::Apply { next, .. } => {
                    granted += 1;
                    now = next;
                }
                Verdict::Refuse {
                    reason,
                    reply,
                    next,
                } => {
                    assert!(
                        reason.contains("more than 30 sessions at once or one per 2 s"),
                        "{reason}"
                    );
                    assert!(matches!(
                        reply,
                        Reply::NetworkRefused(Refusal::TooOften { .. })
                    ));
                    // The session opens all the same: its NetworkDown is
                    // in order.
                    assert!(next.network_up);
                    now = next;
                }
                Verdict::Abort(v) => panic!("{i}: {v}"),
            }
            let Verdict::Apply { next, .. } = at_time(&ToParent::NetworkDown, &now, t + 0.5) else {
                panic!("{i}: NetworkDown refused");
            };
            now = next;
        }
        // Two minutes: the burst, then one per interval.
        assert!((89..=90).contains(&granted), "{granted} granted");
        // A session every two seconds, a peer killed and restarted again
        // and again, is never refused.
        let mut now = conv(true, false, None, None);
        for i in 0..200 {
            let t = f64::from(i) * 2.0;
            let Verdict::Apply { next, .. } = at_time(&up(V4_PEER, None), &now, t) else {
                panic!("session {i} refused");
            };
            let Verdict::Apply { next, .. } = at_time(&ToParent::NetworkDown, &next, t + 1.0)
            else {
                panic!("{i}: NetworkDown refused");
            };
            now = next;
        }
    }

    #[test]
    fn nonce_writes_wait_their_interval_and_early_ones_are_refused_then_fatal() {
        use NonceSlot::{Local, Remote};
        // On disk at(1): each write a step above it, within the bounds.
        let mut now = conv(true, false, Some(1), Some(1));
        // Granted at once, then held for the interval.
        let Verdict::Apply {
            action: Action::Persist { not_before, .. },
            next,
            ..
        } = at_time(&nonce(Local, plus(at(1), 1)), &now, 1.0)
        else {
            panic!("first write not granted");
        };
        assert_eq!(not_before, Duration::from_secs(1));
        now = next;
        // The other file is independent.
        assert!(matches!(
            at_time(&nonce(Remote, plus(at(1), 1)), &now, 1.0),
            Verdict::Apply { .. }
        ));
        // Answered: the next is held until the interval has passed.
        now.written(Local);
        let Verdict::Apply {
            action: Action::Persist { not_before, .. },
            next,
            ..
        } = at_time(&nonce(Local, plus(at(1), 2)), &now, 1.001)
        else {
            panic!("second write not granted");
        };
        assert_eq!(
            not_before,
            Duration::from_secs(1) + MIN_NONCE_WRITE_INTERVAL
        );
        now = next;
        // Asked for again before the answer: refused, answered, counted
        // towards the limit; past it, fatal.
        for i in 0..EARLY_WRITES {
            match at_time(&nonce(Local, plus(at(1), 3)), &now, 1.002) {
                Verdict::Refuse { reply, next, .. } => {
                    assert!(
                        matches!(reply, Reply::NonceRefused(Local, _, _)),
                        "{reply:?}"
                    );
                    now = next;
                }
                other => panic!("early write {i}: {other:?}"),
            }
        }
        assert_eq!(
            at_time(&nonce(Local, plus(at(1), 3)), &now, 1.003),
            Verdict::Abort(Violation::EarlyWrites)
        );
        // The same early writes spread out over windows are refused only.
        let mut now = next_waiting(Local);
        for i in 0..100 {
            let t = f64::from(i) * 2.0;
            match at_time(&nonce(Local, plus(at(1), 3)), &now, t) {
                Verdict::Refuse { next, .. } => now = next,
                other => panic!("early write {i}: {other:?}"),
            }
        }
    }

    #[test]
    fn lookups_of_the_peer_name_beyond_one_per_interval_are_refused_not_fatal() {
        let mut now = conv(true, false, None, None);
        let mut granted = Vec::new();
        // A child asking every second for a minute.
        for i in 0..60 {
            let t = f64::from(i);
            match at_time(&ToParent::ResolvePeer, &now, t) {
                Verdict::Apply {
                    action: Action::ResolvePeer,
                    next,
                    ..
                } => {
                    granted.push(i);
                    now = next;
                }
                Verdict::Refuse {
                    reason,
                    reply: Reply::Silent,
                    next,
                } => {
                    assert_eq!(reason, "ResolvePeer: more than one per 10 s");
                    assert_eq!(next, now, "a refusal leaves the rate as it was");
                }
                other => panic!("{i}: {other:?}"),
            }
        }
        assert_eq!(granted, [0, 10, 20, 30, 40, 50]);
        // What a correct child sends (at a death, then once a minute) is
        // never refused.
        let mut now = conv(true, false, None, None);
        for i in 0..100 {
            let Verdict::Apply { next, .. } =
                at_time(&ToParent::ResolvePeer, &now, 20.0 + f64::from(i) * 60.0)
            else {
                panic!("lookup {i} refused");
            };
            now = next;
        }
    }

    /// A conversation with a local write waiting.
    fn next_waiting(slot: NonceSlot) -> Conversation {
        let mut c = conv(true, false, Some(1), None);
        c.writes(slot).waiting = true;
        c
    }

    /// The plan a `NetworkUp` from `peer` with `pushed` gets under
    /// `facts` with scripts configured, if it is granted.
    fn scripted_plan(facts: Facts, peer: &str, pushed: Option<Pushed>) -> Option<Vec<Change>> {
        let facts = Facts {
            scripts: true,
            ..facts
        };
        match admit(
            &up(peer, pushed),
            &facts,
            &conv(true, false, None, None),
            Duration::ZERO,
        ) {
            Verdict::Apply {
                action: Action::Configure(plan),
                ..
            } => Some(plan),
            _ => None,
        }
    }

    #[test]
    fn the_scripts_come_last_and_are_told_only_what_the_plan_applies() {
        let host = facts(Role::Host, None);
        let p = pushed("198.19.1.0/24");
        let plan = scripted_plan(host.clone(), V4_PEER, p.clone()).unwrap();
        let expected = HookEnv::for_session(
            &host.role,
            Some(&V4_PEER.parse().unwrap()),
            MTU_IPV4_PEER,
            p.as_ref(),
        );
        assert_eq!(plan.last(), Some(&Change::Scripts(expected)), "{plan:?}");
        assert_eq!(
            plan.iter()
                .filter(|c| matches!(c, Change::Scripts(_)))
                .count(),
            1
        );
        // A refused push configures nothing, scripts included.
        assert_eq!(
            scripted_plan(host.clone(), V4_PEER, pushed("0.0.0.0/1")),
            None
        );
        // A peer that is no host's address is not told.
        let plan = scripted_plan(facts(Role::NetGw, Some(1400)), "0.0.0.0:4706", None).unwrap();
        let role = facts(Role::NetGw, None).role;
        assert_eq!(
            plan.last(),
            Some(&Change::Scripts(HookEnv::for_session(
                &role, None, 1400, None
            )))
        );
        // Without scripts, none.
        let Verdict::Apply {
            action: Action::Configure(plan),
            ..
        } = admit(
            &up(V4_PEER, None),
            &facts(Role::NetGw, None),
            &conv(true, false, None, None),
            Duration::ZERO,
        )
        else {
            panic!("not granted");
        };
        assert!(!plan.iter().any(|c| matches!(c, Change::Scripts(_))));
    }

    #[test]
    fn a_net_gw_forwards_only_the_family_it_routes() {
        let forwarded = |remote_network: Option<&str>| {
            let mut f = facts(Role::NetGw, None);
            if let RoleConfig::NetGw {
                remote_network: r, ..
            } = &mut f.role
            {
                *r = remote_network.map(|n| n.parse().unwrap());
            }
            let Ok(plan) = network_plan(&f, &V4_PEER.parse().unwrap(), None) else {
                panic!("{remote_network:?}: no plan")
            };
            plan.into_iter()
                .filter_map(|c| match c {
                    Change::Forwarding(family) => Some(family),
                    _ => None,
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(forwarded(Some("198.19.2.0/24")), [Family::V4]);
        assert_eq!(forwarded(Some("2001:2:0:2::/64")), [Family::V6]);
        assert_eq!(
            forwarded(None),
            [Family::V4],
            "IPv6 forwarding only when routed"
        );
    }

    #[test]
    fn answers_follow_how_carrying_out_went() {
        let failed = Refusal::CommandFailed {
            message: "ip route add: exit status 2".to_owned(),
        };
        let pushed = Refusal::PushedValue {
            message: "pushed network: 0.0.0.0/0".to_owned(),
        };
        let peer: SocketAddr = V4_PEER.parse().unwrap();
        #[rustfmt::skip]
        let table = [
            (Reply::Silent, None, None),
            (Reply::Silent, Some("ip: exit status 2"), None),
            (Reply::NetworkOutcome, None, Some(ToChild::NetworkApplied)),
            (Reply::NetworkOutcome, Some("ip route add: exit status 2"), Some(ToChild::NetworkRefused { reason: failed })),
            (Reply::NetworkRefused(pushed.clone()), None, Some(ToChild::NetworkRefused { reason: pushed })),
            (Reply::PeerOutcome(peer), None, Some(ToChild::PeerConnected { peer })),
            (Reply::PeerOutcome(peer), Some("connect: Network is unreachable"),
                Some(ToChild::PeerRefused { peer, reason: "connect: Network is unreachable".to_owned() })),
            (Reply::PeerRefused(peer, "port 0".to_owned()), None, Some(ToChild::PeerRefused { peer, reason: "port 0".to_owned() })),
            (Reply::NonceOutcome(NonceSlot::Local, [1; 24]), None, Some(ToChild::NonceSaved { slot: NonceSlot::Local, nonce: [1; 24] })),
            (Reply::NonceOutcome(NonceSlot::Remote, [1; 24]), Some("rename: No space left on device"),
                Some(ToChild::NonceRefused { slot: NonceSlot::Remote, nonce: [1; 24], reason: "rename: No space left on device".to_owned() })),
            (Reply::NonceRefused(NonceSlot::Local, [2; 24], "early".to_owned()), None,
                Some(ToChild::NonceRefused { slot: NonceSlot::Local, nonce: [2; 24], reason: "early".to_owned() })),
        ];
        for (reply, rolled_back, message) in table {
            assert_eq!(
                reply.message(rolled_back.map(str::to_owned)),
                message,
                "{reply:?} {rolled_back:?}"
            );
        }
    }

    #[test]
    fn mtu_by_peer_family() {
        assert_eq!(mtu_for(&"198.18.0.2:1".parse().unwrap(), None), 1431);
        let v4: SocketAddr = "198.18.0.2:1".parse().unwrap();
        let v6: SocketAddr = "[2001:2::1]:1".parse().unwrap();
        assert_eq!(mtu_warning(Some(&v4), Some(1431)), None);
        assert_eq!(mtu_warning(Some(&v4), None), None);
        let w = mtu_warning(Some(&v4), Some(1500)).unwrap();
        assert!(
            w.starts_with("mtu 1500: datagrams of up to 1569 bytes"),
            "{w}"
        );
        let w = mtu_warning(Some(&v6), Some(1431)).unwrap();
        assert!(
            w.starts_with("mtu 1431: datagrams of up to 1520 bytes"),
            "{w}"
        );
        assert!(w.ends_with("(mtu 1411 or less avoids it)"), "{w}");
        assert_eq!(mtu_for(&"[2001:2::1]:1".parse().unwrap(), None), 1411);
        assert_eq!(
            mtu_for(&"[::ffff:198.18.0.2]:1".parse().unwrap(), None),
            1431
        );
        assert_eq!(mtu_for(&"198.18.0.2:1".parse().unwrap(), Some(1400)), 1400);
    }
}
