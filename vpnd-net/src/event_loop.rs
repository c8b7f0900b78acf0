//! The network process's event loop: tun, UDP socket, IPC channel, stats
//! listener and the session's timer, all in one thread.
//!
//! The data path reads until the descriptor would block, in batches (so
//! that one busy direction cannot starve the other): datagrams (joined by
//! the kernel's GRO where it can, cut apart by `udp::recv`) are opened in
//! place in one preallocated buffer and written to the tun, TCP segments
//! joined (`tun_io`); tun packets (split by `tun_io` when the tun hands
//! over 64 KB) are sealed in place into a preallocated batch that also
//! carries the session's control datagrams, in order, and leaves with
//! UDP_SEGMENT or one sendmmsg (`outbound`, `udp::send_batch`) by the
//! socket `udp::sockets` routes it to. Nothing is allocated, logged or
//! sent over IPC per packet. Requests to the parent wait in `outbox` when
//! the channel is full: a slow parent slows nothing else down.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::time::Duration;

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use rustix::io::Errno;
use vpnd_crypto::Nonce;
use vpnd_proto::config::Role;
use vpnd_proto::ipc::{self, IpcError, NonceSlot, Offloads, ToChild, ToParent};
use vpnd_proto::session::{Entropy, Event, Session};

use crate::clock;
use crate::console::{Command, Console};
use crate::log_budget::{self, Allowance, LogBudget};
use crate::outbound::{Outbound, Sealer};
use crate::outbox::{Outbox, OutboxError};
use crate::peer_lookup::PeerLookup;
use crate::report::{self, IoStats, Reporting};
use crate::stats_server::{Answer, StatsServer};
use crate::transport::{Channel, FrameBuffer, TransportError};
use crate::tun_io::{TunRead, TunReader, TunWriter};
use crate::udp::recv::UdpReceiver;
use crate::udp::send_batch::BATCH;
use crate::udp::sockets::{NotAsked, UdpSockets};

const TUN: Token = Token(0);
const UDP: Token = Token(1);
const IPC: Token = Token(2);
const STATS: Token = Token(3);
const CONSOLE: Token = Token(4);
/// The socket connected to the peer, where sends name no destination.
const PEER_UDP: Token = Token(5);
/// The stats connections waiting for their request take the tokens from
/// here on.
const STATS_PENDING: usize = 16;

/// The descriptors the loop serves.
#[derive(Debug)]
pub struct Io {
    /// The tun device (or, in tests, any descriptor that keeps packet
    /// boundaries), non-blocking.
    pub tun: OwnedFd,
    /// The UDP socket from the start message (non-blocking), and the one
    /// connected to the peer where sends must not name it.
    pub udp: UdpSockets,
    /// The channel to the parent.
    pub ipc: Channel,
    /// The stats listener, non-blocking.
    pub stats: Option<UnixListener>,
    /// What the parent enabled on the tun and the socket.
    pub offloads: Offloads,
    /// The console of a vpnd in the foreground.
    pub console: Option<Console>,
}

/// How the loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The parent said so.
    Shutdown,
    /// The parent closed the channel (it died).
    ParentGone,
}

/// Why the loop failed.
#[derive(Debug, thiserror::Error)]
pub enum LoopError {
    /// The poller failed.
    #[error("poll: {0}")]
    Poll(#[from] std::io::Error),
    /// The channel to the parent failed.
    #[error("IPC: {0}")]
    Transport(#[from] TransportError),
    /// A request to the parent could not be queued or sent.
    #[error("IPC: {0}")]
    Outbox(#[from] OutboxError),
    /// The parent sent what it never sends.
    #[error("IPC from the parent: {0}")]
    Ipc(#[from] IpcError),
    /// The parent sent a message out of place.
    #[error("IPC from the parent: unexpected {0}")]
    Unexpected(&'static str),
    /// The parent answered a request for a connected socket never made.
    #[error("IPC from the parent: {0}")]
    NotAsked(#[from] NotAsked),
    /// A descriptor could not be made non-blocking.
    #[error("{0}")]
    Setup(Errno),
    /// A descriptor from the parent could not be limited to its rights.
    #[error("the connected socket: {0}")]
    Received(String),
}

struct Loop<'a, E: Entropy> {
    session: &'a mut Session<E>,
    io: Io,
    stats: Option<StatsServer>,
    reporting: &'a Reporting,
    udp_in: UdpReceiver,
    tun_in: TunReader,
    tun_out: TunWriter,
    out: Outbound,
    frame: Box<FrameBuffer>,
    io_stats: IoStats,
    peer_lines: LogBudget,
    /// Requests for the parent, waiting for the channel.
    outbox: Outbox,
    /// The channel is watched for room (the outbox is blocked).
    ipc_writable: bool,
    /// The parent's refusals of nonce writes, logged within a budget.
    refusal_lines: LogBudget,
    /// When to ask the parent to look the peer's name up again.
    peer_lookup: PeerLookup,
    /// `Shutdown` came: the loop ends once the parent has answered every
    /// write (the remote nonce's last).
    stopping: bool,
}

/// Runs the loop until the parent says stop or goes away.
pub fn run<E: Entropy>(
    session: &mut Session<E>,
    mut io: Io,
    reporting: &Reporting,
) -> Result<(Exit, IoStats), LoopError> {
    crate::transport::set_nonblocking(io.ipc.as_fd()).map_err(LoopError::Setup)?;
    let stats = io.stats.take().map(|l| StatsServer::new(l, STATS_PENDING));
    let offloads = io.offloads;
    let mut l = Loop {
        session,
        io,
        stats,
        reporting,
        udp_in: UdpReceiver::new(),
        tun_in: TunReader::new(offloads.tun_framing),
        tun_out: TunWriter::new(offloads.tun_framing, offloads.tun_tso),
        out: Outbound::new(offloads.udp_gso),
        frame: Box::new([0; ipc::MAX_FRAME + 1]),
        io_stats: IoStats {
            offloads,
            ..IoStats::default()
        },
        peer_lines: LogBudget::new(),
        outbox: Outbox::new(),
        ipc_writable: false,
        refusal_lines: LogBudget::new(),
        peer_lookup: PeerLookup::new(),
        stopping: false,
    };
    let exit = match l.run() {
        // A send into a closed channel: the parent died while we talked.
        Err(e) if e.parent_gone() => Exit::ParentGone,
        other => other?,
    };
    Ok((exit, l.io_stats))
}

impl LoopError {
    fn parent_gone(&self) -> bool {
        let transport = match self {
            LoopError::Transport(t) | LoopError::Outbox(OutboxError::Transport(t)) => t,
            _ => return false,
        };
        matches!(
            transport,
            TransportError::Closed
                | TransportError::Io(Errno::PIPE)
                | TransportError::Io(Errno::CONNRESET)
        )
    }
}

impl<E: Entropy> Loop<'_, E> {
    fn run(&mut self) -> Result<Exit, LoopError> {
        let mut poll = Poll::new()?;
        let r = poll.registry();
        r.register(
            &mut SourceFd(&self.io.tun.as_raw_fd()),
            TUN,
            Interest::READABLE,
        )?;
        r.register(
            &mut SourceFd(&self.io.udp.listener().as_raw_fd()),
            UDP,
            Interest::READABLE,
        )?;
        r.register(
            &mut SourceFd(&self.io.ipc.as_fd().as_raw_fd()),
            IPC,
            Interest::READABLE,
        )?;
        if let Some(s) = &self.stats {
            r.register(
                &mut SourceFd(&s.listener().as_raw_fd()),
                STATS,
                Interest::READABLE,
            )?;
        }
        // Input the poller cannot watch (epoll: /dev/null, a file) is no console.
        if let Some(c) = &self.io.console
            && r.register(
                &mut SourceFd(&c.input().as_raw_fd()),
                CONSOLE,
                Interest::READABLE,
            )
            .is_err()
        {
            self.io.console = None;
        }
        let mut events = Events::with_capacity(16);
        // Edge-triggered: a descriptor stays "ready" until it would block.
        let (mut tun_ready, mut udp_ready, mut ipc_ready) = (false, false, true);
        let mut peer_ready = false;
        self.flush(poll.registry())?;
        loop {
            let busy = tun_ready || udp_ready || peer_ready || ipc_ready;
            let timeout = if busy {
                Some(Duration::ZERO)
            } else {
                let stats_deadline = self.stats.as_ref().and_then(StatsServer::next_deadline);
                [
                    self.session.poll_timeout(),
                    stats_deadline,
                    self.outbox.next_deadline(),
                    self.peer_lookup.next_deadline(),
                ]
                .into_iter()
                .flatten()
                .min()
                .map(|t| t.saturating_since(clock::now()))
            };
            match poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            }
            for ev in events.iter() {
                match ev.token() {
                    TUN => tun_ready = true,
                    UDP => udp_ready = true,
                    PEER_UDP => peer_ready = true,
                    IPC => ipc_ready = true,
                    STATS => self.serve_stats(poll.registry(), None),
                    CONSOLE => self.serve_console(poll.registry()),
                    t => self.serve_stats(poll.registry(), Some(t)),
                }
            }
            if udp_ready {
                udp_ready = self.receive_datagrams(false);
            }
            if peer_ready {
                peer_ready = self.receive_datagrams(true);
            }
            if tun_ready {
                tun_ready = self.seal_tun_packets();
            }
            if ipc_ready {
                ipc_ready = false;
                if let Some(exit) = self.handle_parent(poll.registry())? {
                    return Ok(exit);
                }
            }
            let now = clock::now();
            if self.session.poll_timeout().is_some_and(|t| t <= now) {
                self.session.handle_timeout(now);
            }
            self.expire_stats(poll.registry(), now);
            self.flush(poll.registry())?;
            if self.stopping && self.outbox.idle() {
                return Ok(Exit::Shutdown);
            }
        }
    }

    /// Up to a batch of receives on the listener or the socket connected
    /// to the peer; true if more may be waiting.
    fn receive_datagrams(&mut self, from_peer_socket: bool) -> bool {
        let socket = if from_peer_socket {
            self.io.udp.peer_socket()
        } else {
            Some(self.io.udp.listener())
        };
        let Some(socket) = socket else {
            return false;
        };
        let now = clock::now();
        let mut more = true;
        for _ in 0..BATCH {
            let datagrams = match self.udp_in.recv(socket) {
                Ok(Some(datagrams)) => datagrams,
                Ok(None) => continue,
                Err(Errno::AGAIN) => {
                    more = false;
                    break;
                }
                // ICMP errors surface here (a peer not yet listening).
                Err(_) => continue,
            };
            let from = datagrams.from;
            for datagram in datagrams {
                if let Ok(Some(range)) = self.session.handle_datagram(now, from, datagram) {
                    self.tun_out
                        .deliver(&self.io.tun, datagram, range, &mut self.io_stats);
                }
            }
        }
        self.tun_out.flush(&self.io.tun, &mut self.io_stats);
        more
    }

    /// Up to a batch of tun reads (and no more than two batches of
    /// packets, large ones split), sealed behind the control datagrams
    /// queued before them and sent together; true if more may be waiting.
    fn seal_tun_packets(&mut self) -> bool {
        let mut sealer = Sealer {
            session: self.session,
            out: &mut self.out,
            udp: &mut self.io.udp,
            io: &mut self.io_stats,
            now: clock::now(),
        };
        let (mut more, mut packets) = (true, 0);
        for _ in 0..BATCH {
            match self.tun_in.read(&self.io.tun, &mut sealer) {
                Ok(TunRead::Packets(n)) => {
                    if n > 1 {
                        sealer.io.offload_split += 1;
                    }
                    packets += n;
                }
                Ok(TunRead::Refused(_)) => sealer.io.offload_refused += 1,
                Ok(TunRead::UnknownFamily) => sealer.io.tun_family_drops += 1,
                Err(_) => {
                    more = false;
                    break;
                }
            }
            if packets >= 2 * BATCH {
                break;
            }
        }
        sealer.out.send(sealer.udp, sealer.io);
        more
    }

    /// Sends what the session queued and tells the parent what it must do
    /// (as far as the channel takes it; the rest waits for room).
    fn flush(&mut self, registry: &mio::Registry) -> Result<(), LoopError> {
        self.out
            .take_control(self.session, &mut self.io.udp, &mut self.io_stats);
        self.out.send(&mut self.io.udp, &mut self.io_stats);
        if let Some(peer) = self.io.udp.take_request(clock::now()) {
            log::debug!("asking the parent for a socket connected to {peer}");
            self.outbox.push(ToParent::ConnectPeer { peer })?;
        }
        self.queue_requests()?;
        if self
            .peer_lookup
            .due(clock::now(), self.session.session_is_up())
        {
            log::info!("asking the parent to look the peer's name up again");
            self.outbox.push(ToParent::ResolvePeer)?;
        }
        self.outbox.send(&self.io.ipc, clock::now())?;
        let blocked = self.outbox.blocked();
        if blocked != self.ipc_writable {
            let interest = if blocked {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            registry.reregister(
                &mut SourceFd(&self.io.ipc.as_fd().as_raw_fd()),
                IPC,
                interest,
            )?;
            self.ipc_writable = blocked;
        }
        Ok(())
    }

    /// Turns the session's events into requests for the parent (queued)
    /// and log lines.
    fn queue_requests(&mut self) -> Result<(), LoopError> {
        while let Some(event) = self.session.poll_event() {
            let request = match event {
                Event::NetworkUp { peer, pushed } => {
                    log::info!("session up: peer {peer}");
                    ToParent::NetworkUp { peer, pushed }
                }
                Event::NetworkDown => {
                    log::info!("session down");
                    ToParent::NetworkDown
                }
                Event::PersistLocalNonce(n) => ToParent::PersistNonce {
                    slot: NonceSlot::Local,
                    nonce: *n.as_bytes(),
                },
                Event::PersistRemoteNonce(n) => ToParent::PersistNonce {
                    slot: NonceSlot::Remote,
                    nonce: *n.as_bytes(),
                },
                Event::StateChanged { from, to } => {
                    log::debug!("state: {from} -> {to}");
                    continue;
                }
                Event::PeerAddress(Some(a)) => {
                    log::info!("peer address: {a}");
                    continue;
                }
                Event::PeerAddress(None) => {
                    log::info!("peer forgotten: waiting for a client");
                    continue;
                }
                Event::PeerDied => {
                    log::warn!("peer died: no authenticated datagram for 20 s");
                    // A host-gw's client has no name: it comes back by itself.
                    if self.session.role() != Role::HostGw {
                        self.peer_lookup.peer_died(clock::now());
                    }
                    continue;
                }
                Event::PeerRestarted => {
                    log::warn!("peer restarted: starting a new session");
                    continue;
                }
                Event::PushRefused(e) => {
                    log::error!("refused what the gateway pushed: {e}");
                    continue;
                }
                Event::DebugString(text) => {
                    if let Allowance::Log { suppressed } = self.peer_lines.take(clock::now()) {
                        if suppressed > 0 {
                            log::warn!(
                                "{suppressed} more debug strings from the peer not logged (at most {} per {} s)",
                                log_budget::LINES,
                                log_budget::WINDOW.as_secs()
                            );
                        }
                        log::info!(
                            "peer says: {}",
                            String::from_utf8_lossy(&text).escape_debug()
                        );
                    }
                    continue;
                }
            };
            self.outbox.push(request)?;
        }
        Ok(())
    }

    /// Handles the parent's messages; `Some` when the loop must end.
    fn handle_parent(&mut self, registry: &mio::Registry) -> Result<Option<Exit>, LoopError> {
        loop {
            let received = match self.io.ipc.recv(&mut self.frame) {
                Ok(r) => r,
                Err(TransportError::Io(Errno::AGAIN)) => return Ok(None),
                Err(TransportError::Closed) => return Ok(Some(Exit::ParentGone)),
                Err(e) => return Err(e.into()),
            };
            let message = ipc::decode_to_child(&self.frame[..received.len])?;
            let mut fds = received.fds;
            if let ToChild::PeerConnected { peer } = message {
                let (Some(fd), None) = (fds.pop(), fds.pop()) else {
                    return Err(LoopError::Unexpected(
                        "a connected socket without exactly one descriptor",
                    ));
                };
                self.peer_connected(registry, peer, fd)?;
                continue;
            }
            if !fds.is_empty() {
                return Err(LoopError::Unexpected("descriptors after the start"));
            }
            match message {
                ToChild::Start(_) => return Err(LoopError::Unexpected("a second start message")),
                ToChild::PeerConnected { .. } => {}
                ToChild::PeerRefused { peer, reason } => {
                    log::warn!("no socket connected to {peer}: {reason}");
                    self.io.udp.refused(peer, clock::now())?;
                }
                ToChild::PeerAddress { peer } => {
                    log::debug!("the peer's name has the address {peer}");
                    self.session
                        .handle_peer_address(clock::now(), crate::addr::canonical(peer));
                }
                ToChild::NetworkApplied => log::debug!("network configured"),
                ToChild::NetworkRefused { reason } => {
                    log::error!("the parent did not configure the network: {reason}")
                }
                ToChild::NonceSaved { slot, nonce } => {
                    self.outbox.saved(slot);
                    if slot == NonceSlot::Local {
                        self.session
                            .local_nonce_saved(clock::now(), Nonce::from_bytes(nonce));
                    }
                }
                ToChild::NonceRefused {
                    slot,
                    nonce,
                    reason,
                } => {
                    self.outbox.refused(slot, nonce, clock::now());
                    if let Allowance::Log { suppressed } = self.refusal_lines.take(clock::now()) {
                        log::warn!(
                            "the parent did not write the {slot:?} nonce file: {reason} ({suppressed} more not logged); asking again in {} s",
                            crate::outbox::RETRY_AFTER.as_secs()
                        );
                    }
                }
                ToChild::Refusals { total } => {
                    self.io_stats.refused_requests = self.io_stats.refused_requests.max(total);
                }
                ToChild::DumpState => self.dump_state(),
                ToChild::Shutdown if !self.stopping => {
                    // The last remote nonce and the session's end go to the
                    // parent; the loop ends when it has answered.
                    self.session.close(clock::now());
                    self.stopping = true;
                }
                ToChild::Shutdown => {}
            }
        }
    }

    /// Sends to `peer` leave by `fd` from now on (the parent connected it);
    /// what waited for it joins the batch.
    fn peer_connected(
        &mut self,
        registry: &mio::Registry,
        peer: std::net::SocketAddr,
        fd: OwnedFd,
    ) -> Result<(), LoopError> {
        crate::sandbox::limit_received(crate::sandbox::Role::Udp, &fd)
            .map_err(|e| LoopError::Received(e.to_string()))?;
        let raw = fd.as_raw_fd();
        let (old, held) = self.io.udp.connected(peer, fd)?;
        if let Some(old) = old {
            let _ = registry.deregister(&mut SourceFd(&old.as_raw_fd()));
        }
        registry.register(&mut SourceFd(&raw), PEER_UDP, Interest::READABLE)?;
        log::debug!("sending by a socket connected to {peer}");
        for datagram in held {
            self.out
                .push_control(&datagram, peer, &mut self.io.udp, &mut self.io_stats);
        }
        Ok(())
    }

    /// Logs the state and every counter.
    fn dump_state(&self) {
        let dump = report::state_dump(self.session, clock::now(), self.reporting.max_key_age);
        for line in dump.lines() {
            log::info!("{line}");
        }
    }

    /// Carries out the console's complete lines; forgets a closed console.
    fn serve_console(&mut self, registry: &mio::Registry) {
        let Some(console) = &mut self.io.console else {
            return;
        };
        let commands = console.read();
        for command in commands {
            match command {
                Command::Stats => self.dump_state(),
                Command::Say(text) => match self.session.send_debug_string(&text) {
                    Ok(()) => log::debug!("sent to the peer: {}", text.escape_ascii()),
                    Err(e) => log::warn!(
                        "console line not sent to the peer: {}",
                        e.name().replace('_', " ")
                    ),
                },
            }
        }
        if let Some(c) = self.io.console.take_if(|c| c.is_closed()) {
            log::debug!("console: standard input closed");
            let _ = registry.deregister(&mut SourceFd(&c.input().as_raw_fd()));
        }
    }

    /// New stats connections (`token` None) or a pending one's request.
    fn serve_stats(&mut self, registry: &mio::Registry, token: Option<Token>) {
        let Some(stats) = &mut self.stats else {
            return;
        };
        let (session, io_stats, reporting) = (&*self.session, &self.io_stats, self.reporting);
        let answer = |kind| render(session, io_stats, reporting, kind);
        match token {
            None => stats.accept(registry, clock::now(), answer),
            Some(t) if stats.owns(t) => stats.readable(registry, t, answer),
            Some(_) => {}
        }
    }

    /// Graphite lines for the stats connections that sent no request.
    fn expire_stats(&mut self, registry: &mio::Registry, now: vpnd_proto::Timestamp) {
        let Some(stats) = &mut self.stats else {
            return;
        };
        let (session, io_stats, reporting) = (&*self.session, &self.io_stats, self.reporting);
        stats.expire(registry, now, |kind| {
            render(session, io_stats, reporting, kind)
        });
    }
}

/// One stats connection's answer.
fn render<E: Entropy>(
    session: &Session<E>,
    io_stats: &IoStats,
    reporting: &Reporting,
    kind: Answer,
) -> String {
    let now = clock::now();
    let io_stats = &IoStats {
        log_lines_dropped: crate::log_pipe::lines_dropped(),
        ..*io_stats
    };
    match kind {
        Answer::Graphite => report::graphite(
            session,
            io_stats,
            now,
            &reporting.stats_prefix,
            clock::unix_time(),
        ),
        Answer::Status => report::status(session, io_stats, now, reporting),
        Answer::StatusJson => crate::status_json::status_json(session, io_stats, now, reporting),
    }
}
