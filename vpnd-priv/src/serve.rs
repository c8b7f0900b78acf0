//! The parent's loop once the network process runs: decode its requests as
//! untrusted input, judge each with [`policy::admit`], carry out the
//! verdict (the action, the answer, the next state of the conversation);
//! write a nonce file the policy held back when its time comes; count
//! every refusal and tell the network process the count (its
//! `refused_requests`); turn signals into messages; look the peer's name
//! up again when asked or on SIGHUP (peer_name.rs) and pass a new address
//! on; relay the network process's log lines; when the network process
//! ends, undo every change and report how it ended.

use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};
use rustix::io::Errno;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1};
use signal_hook_mio::v1_0::Signals;
use vpnd_net::log_budget::{Allowance, LogBudget};
use vpnd_net::transport::{FrameBuffer, TransportError};
use vpnd_proto::config::{Config, RoleConfig};
use vpnd_proto::ipc::{self, IpcError, NonceSlot, ToChild, ToParent, UdpSends};

use crate::cleanup::Cleanup;
use crate::ledger::Scope;
use crate::net_log::Drained;
use crate::netconf::{Change, Platform};
use crate::nonce_bounds;
use crate::nonce_file;
use crate::peer_name::{self, Asker, Lookups, Outcome};
use crate::policy::{self, Action, Conversation, Facts, Reply, Verdict, Violation};
use crate::spawn::NetProcess;

const IPC: Token = Token(0);
const SIGNALS: Token = Token(1);
const NET_LOG: Token = Token(2);
/// A lookup of `remote_host` answered.
const LOOKUP: Token = Token(3);

/// What the parent reads of the network process's log after it ended: its
/// last words, however many it left in the pipe.
const LAST_WORDS: usize = 1024 * 1024;

/// How long the network process has to stop after `Shutdown`.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// Requests handled before the parent looks at its signals again.
const REQUEST_BATCH: usize = 16;

/// The two nonce files: the only paths the parent writes for the child.
#[derive(Debug, Clone)]
pub struct NoncePaths {
    /// `local_nonce_file`.
    pub local: PathBuf,
    /// `remote_nonce_file`.
    pub remote: PathBuf,
}

/// Connected sockets a minute, at most: a peer that moves, or a host-gw's
/// new client, needs one each; a network process asking for more is
/// refused (it may ask again later), so that it cannot make root open
/// sockets to one address after another.
const CONNECTS_PER_MINUTE: u32 = 20;

/// What the parent needs to open sockets connected to the peer.
#[derive(Debug)]
pub struct PeerSockets {
    /// The socket bound to `local_port` (made to share it): the connected
    /// ones are bound where it is.
    pub listener: OwnedFd,
    /// Receive coalescing is on on the listener, and so on each of them.
    pub gro: bool,
}

/// How often the parent checks that the connected socket's source address
/// is still the one the system would choose.
const SOURCE_CHECK: Duration = Duration::from_secs(1);

/// The socket last handed over: its peer and the source address that
/// connecting it fixed.
#[derive(Debug, Clone, Copy)]
struct Connected {
    peer: SocketAddr,
    source: IpAddr,
}

/// How carrying out a granted request went.
enum Carried {
    /// Done, or nothing to report.
    Done,
    /// A command or system call failed (the network changes were rolled
    /// back): its error.
    Failed(String),
    /// A socket to hand over with the answer.
    Socket(OwnedFd),
}

/// The running parent.
#[derive(Debug)]
pub struct Parent<P: Platform> {
    /// The network process.
    pub net: NetProcess,
    /// Its own facts for the policy.
    facts: Facts,
    /// Where the conversation with the network process stands.
    conversation: Conversation,
    /// Where the nonces go.
    nonce_paths: NoncePaths,
    /// What to undo.
    cleanup: Cleanup<P>,
    /// Refusals logged: a network process repeating a refused request
    /// must not fill root's log.
    refusals: LogBudget,
    /// Where sends must not name their destination: what connected
    /// sockets are made from, and how many may be.
    peer_sockets: Option<(PeerSockets, LogBudget)>,
    /// The connected socket last handed over.
    connected: Option<Connected>,
    /// When the parent started serving: the policy's clock.
    started: Instant,
    /// Nonce writes the policy granted for later (one per file at most).
    held_writes: Vec<HeldWrite>,
    /// Requests refused since the start (policy and budgets).
    refused: u64,
    /// `up_script_required`: a failing `up_script` rolls the session's
    /// network back.
    up_script_required: bool,
    /// The lookups of `remote_host` (none for a host-gw).
    lookups: Option<Lookups>,
}

/// A nonce write granted for a later time.
#[derive(Debug, Clone, Copy)]
struct HeldWrite {
    slot: NonceSlot,
    nonce: [u8; 24],
    at: Instant,
}

/// How the parent ended.
#[derive(Debug)]
pub enum Ended {
    /// TERM or INT: everything undone; exit 0.
    Stopped,
    /// The network process ended by itself (how: its exit status).
    ChildDied(String),
    /// The network process broke the protocol and was killed.
    ChildKilled(Breach),
    /// The parent's own machinery failed (poll, signals).
    Failed(String),
}

/// How the network process broke the IPC protocol; any of these gets it
/// killed and everything undone.
#[derive(Debug, thiserror::Error)]
pub enum Breach {
    /// The channel failed, other than by the network process closing it.
    #[error("IPC: {0}")]
    Channel(TransportError),
    /// Descriptors came with a request; they travel only to the child.
    #[error("sent descriptors")]
    Descriptors,
    /// A frame that is not a request.
    #[error("undecodable request: {0}")]
    Undecodable(IpcError),
    /// A request the policy does not allow.
    #[error("{0}")]
    Forbidden(#[from] Violation),
}

/// Why the network process did not come up after its start.
#[derive(Debug, thiserror::Error)]
pub enum GreetingError {
    /// No `Hello` in time; it was killed.
    #[error("no greeting within {}s; stopped it", .0.as_secs())]
    Silent(Duration),
    /// Waiting on the channel failed.
    #[error("poll: {0}")]
    Poll(Errno),
    /// It ended before greeting (how: its exit status).
    #[error("ended during start-up ({0})")]
    Ended(String),
    /// It broke the protocol; it was killed.
    #[error("{0}")]
    Broke(#[from] Breach),
}

/// What one look at the channel found.
enum Handled {
    /// Nothing waiting (the channel would block).
    Idle,
    /// A request, carried out or refused; more may be waiting.
    Request,
    /// The channel closed: the network process is gone.
    ChildGone,
    /// The network process broke the protocol.
    Broken(Breach),
}

/// Starts catching the signals the parent handles (TERM, INT, USR1, HUP);
/// call before the start, so that a TERM during it still ends in a clean
/// stop instead of the default action.
pub fn catch_signals() -> std::io::Result<Signals> {
    Signals::new([SIGTERM, SIGINT, SIGUSR1, SIGHUP])
}

impl<P: Platform> Parent<P> {
    /// The parent of the started `net`, before its greeting: the policy's
    /// facts and the nonce paths from `config` and the `gateway` resolved
    /// at start (`None` for a host-gw), the nonce files' values read at
    /// start (local, remote), the Unix time its start message carries,
    /// the undo record of the start so far, and, where the network
    /// process sends by connected sockets, what they are made from.
    pub fn new(
        net: NetProcess,
        config: &Config,
        gateway: Option<SocketAddr>,
        (local_nonce, remote_nonce): (Option<[u8; 24]>, Option<[u8; 24]>),
        start_unix_time: u64,
        cleanup: Cleanup<P>,
        peer_sockets: Option<PeerSockets>,
    ) -> Self {
        Parent {
            net,
            facts: Facts {
                role: config.role.clone(),
                mtu: config.mtu,
                udp_sends: match peer_sockets {
                    Some(_) => UdpSends::Connected,
                    None => UdpSends::Addressed,
                },
                nonce_reset_incr: u64::from(config.nonce_reset_incr),
                start_unix_time,
                gateway,
                outer: None,
                scripts: config.up_script.is_some() || config.down_script.is_some(),
            },
            conversation: Conversation::new(local_nonce, remote_nonce),
            nonce_paths: NoncePaths {
                local: config.local_nonce_file.clone(),
                remote: config.remote_nonce_file.clone(),
            },
            cleanup,
            refusals: LogBudget::new(),
            peer_sockets: peer_sockets.map(|p| {
                (
                    p,
                    LogBudget::per(CONNECTS_PER_MINUTE, Duration::from_secs(60)),
                )
            }),
            connected: None,
            started: Instant::now(),
            held_writes: Vec::new(),
            refused: 0,
            up_script_required: config.up_script_required,
            lookups: config.remote().cloned().map(Lookups::new),
        }
    }

    /// Waits for the network process's `Hello`, up to `timeout`.
    pub fn await_hello(&mut self, timeout: Duration) -> Result<(), GreetingError> {
        let deadline = Instant::now() + timeout;
        let mut frame: Box<FrameBuffer> = Box::new([0; ipc::MAX_FRAME + 1]);
        while !self.conversation.greeted {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                self.kill();
                return Err(GreetingError::Silent(timeout));
            }
            let (ipc_ready, log_ready) = {
                let in_ = rustix::event::PollFlags::IN;
                let log = self.net.log.fd();
                let mut fds = [
                    rustix::event::PollFd::new(&self.net.channel, in_),
                    rustix::event::PollFd::new(&log, in_),
                ];
                // A closed pipe would be "ready" for ever.
                let watched = if self.net.log.is_closed() { 1 } else { 2 };
                let wait = rustix::event::Timespec::try_from(left).ok();
                match rustix::event::poll(&mut fds[..watched], wait.as_ref()) {
                    Ok(_) | Err(Errno::INTR) => {}
                    Err(e) => return Err(GreetingError::Poll(e)),
                }
                (!fds[0].revents().is_empty(), !fds[1].revents().is_empty())
            };
            if log_ready {
                self.net.log.relay(crate::net_log::BATCH);
            }
            if !ipc_ready {
                continue;
            }
            match self.handle_one(&mut frame) {
                Handled::Idle | Handled::Request => {}
                Handled::ChildGone => return Err(GreetingError::Ended(self.reap())),
                Handled::Broken(breach) => {
                    self.kill();
                    return Err(GreetingError::Broke(breach));
                }
            }
        }
        Ok(())
    }

    /// Serves until the network process ends or a signal stops vpnd.
    /// `signals` were caught since [`catch_signals`], so one that came
    /// during the start is handled here, not lost.
    pub fn serve(mut self, signals: Signals) -> Ended {
        let ended = match self.serve_loop(signals) {
            Ok(ended) => ended,
            Err(e) => {
                self.kill();
                Ended::Failed(e.to_string())
            }
        };
        if self.refused > 0 {
            log::warn!("{} requests from the network process refused", self.refused);
        }
        ended
    }

    fn serve_loop(&mut self, mut signals: Signals) -> std::io::Result<Ended> {
        vpnd_net::transport::set_nonblocking(self.net.channel.as_fd())?;
        let mut poll = Poll::new()?;
        poll.registry().register(
            &mut SourceFd(&self.net.channel.as_fd().as_raw_fd()),
            IPC,
            Interest::READABLE,
        )?;
        poll.registry()
            .register(&mut signals, SIGNALS, Interest::READABLE)?;
        poll.registry().register(
            &mut SourceFd(&self.net.log.fd().as_raw_fd()),
            NET_LOG,
            Interest::READABLE,
        )?;
        if let Some(lookups) = &mut self.lookups {
            lookups.wake_with(std::sync::Arc::new(Waker::new(poll.registry(), LOOKUP)?));
        }
        let mut events = Events::with_capacity(8);
        let mut frame: Box<FrameBuffer> = Box::new([0; ipc::MAX_FRAME + 1]);
        let mut stop_deadline: Option<Instant> = None;
        // Edge-triggered: the channel stays "ready" until a read would
        // block. Requests are handled in batches, so that a network
        // process flooding valid requests cannot keep signals (a stop)
        // and the stop deadline from being seen.
        let mut ipc_ready = true;
        // The same for the log pipe, read a batch at a time.
        let mut log_ready = true;
        let mut next_source_check = Instant::now() + SOURCE_CHECK;
        loop {
            let timeout = if ipc_ready || log_ready {
                Some(Duration::ZERO)
            } else {
                let source_check = self.peer_sockets.as_ref().map(|_| next_source_check);
                let held = self.held_writes.iter().map(|w| w.at).min();
                let lookup = self.lookups.as_ref().and_then(Lookups::next_deadline);
                [stop_deadline, source_check, held, lookup]
                    .into_iter()
                    .flatten()
                    .min()
                    .map(|d| d.saturating_duration_since(Instant::now()))
            };
            match poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            ipc_ready |= events.iter().any(|e| e.token() == IPC);
            log_ready |= events.iter().any(|e| e.token() == NET_LOG);
            if log_ready {
                log_ready = self.net.log.relay(crate::net_log::BATCH) == Drained::More;
            }
            self.write_held(Instant::now());
            self.finish_lookup(Instant::now());
            if Instant::now() >= next_source_check {
                next_source_check = Instant::now() + SOURCE_CHECK;
                self.renew_stale_socket();
            }
            if stop_deadline.is_some_and(|d| Instant::now() >= d) {
                log::error!(
                    "network process did not stop within {}s; killing it",
                    STOP_TIMEOUT.as_secs()
                );
                self.kill();
                return Ok(Ended::Stopped);
            }
            for signal in signals.pending() {
                match signal {
                    SIGTERM | SIGINT if stop_deadline.is_none() => {
                        log::info!("signal {signal}: stopping");
                        self.tell(&ToChild::Shutdown);
                        stop_deadline = Some(Instant::now() + STOP_TIMEOUT);
                    }
                    SIGUSR1 => {
                        #[cfg(debug_assertions)]
                        crate::last_resort::forced_panic_if_asked();
                        self.tell(&ToChild::DumpState)
                    }
                    SIGHUP => {
                        log::warn!(
                            "SIGHUP: vpnd does not reload its configuration; restart it to apply changes"
                        );
                        if let Some(lookups) = &mut self.lookups {
                            log::info!("SIGHUP: looking up remote_host {} again", lookups.name());
                            lookups.start(Asker::Signal, Instant::now());
                        }
                    }
                    _ => {}
                }
            }
            if !ipc_ready {
                continue;
            }
            ipc_ready = false;
            for _ in 0..REQUEST_BATCH {
                match self.handle_one(&mut frame) {
                    Handled::Idle => break,
                    // More may be waiting: back here after a look at the
                    // signals.
                    Handled::Request => ipc_ready = true,
                    Handled::ChildGone if stop_deadline.is_some() => {
                        self.reap();
                        return Ok(Ended::Stopped);
                    }
                    Handled::ChildGone => return Ok(Ended::ChildDied(self.reap())),
                    Handled::Broken(breach) => {
                        self.kill();
                        return Ok(Ended::ChildKilled(breach));
                    }
                }
            }
        }
    }

    /// Receives one request and carries out its verdict.
    fn handle_one(&mut self, frame: &mut FrameBuffer) -> Handled {
        let received = match self.net.channel.recv(frame) {
            Ok(r) => r,
            Err(TransportError::Io(Errno::AGAIN)) => return Handled::Idle,
            Err(TransportError::Closed)
            | Err(TransportError::Io(Errno::CONNRESET))
            | Err(TransportError::Io(Errno::PIPE)) => return Handled::ChildGone,
            Err(e) => return Handled::Broken(Breach::Channel(e)),
        };
        if !received.fds.is_empty() {
            return Handled::Broken(Breach::Descriptors);
        }
        let request = match ipc::decode_to_parent(&frame[..received.len]) {
            Ok(r) => r,
            Err(e) => return Handled::Broken(Breach::Undecodable(e)),
        };
        if let (ToParent::NetworkUp { .. }, RoleConfig::Host { .. }, Some(gateway)) =
            (&request, &self.facts.role, self.facts.gateway)
        {
            // Where this host is now, for judging the push: a roaming
            // host may have moved since the last session.
            self.facts.outer = crate::sockets::outer_network(gateway);
        }
        let at = self.started.elapsed();
        let verdict = policy::admit(&request, &self.facts, &self.conversation, at);
        if let (
            ToParent::PersistNonce {
                slot: NonceSlot::Remote,
                nonce,
            },
            Verdict::Apply { .. },
        ) = (&request, &verdict)
        {
            // Against the value before this one: a jump far ahead of the
            // clock is written (the parent cannot tell it from a peer's)
            // but shown.
            let previous = self.conversation.remote_nonce.as_ref();
            let now = vpnd_net::clock::unix_time();
            if let Some(warning) = nonce_bounds::remote_jump(previous, nonce, now) {
                log::warn!("{warning}");
            }
        }
        match verdict {
            Verdict::Apply {
                action:
                    Action::Persist {
                        slot,
                        nonce,
                        not_before,
                    },
                next,
                ..
            } if not_before > at => {
                self.conversation = next;
                self.held_writes.push(HeldWrite {
                    slot,
                    nonce,
                    at: self.started + not_before,
                });
            }
            Verdict::Apply {
                action,
                reply,
                next,
            } => {
                self.conversation = next;
                let carried = self.carry_out(&action);
                self.answer(&reply, carried);
            }
            Verdict::Refuse {
                reason,
                reply,
                next,
            } => {
                if let Allowance::Log { suppressed } = self.refusals.take(vpnd_net::clock::now()) {
                    if suppressed > 0 {
                        log::warn!("{suppressed} more refusals not logged");
                    }
                    log::warn!("refused: {reason}");
                }
                self.conversation = next;
                self.answer(&reply, Carried::Done);
                self.count_refusal();
            }
            Verdict::Abort(v) => return Handled::Broken(Breach::Forbidden(v)),
        }
        Handled::Request
    }

    /// Counts one refused request and tells the network process the count
    /// (it reports it as `refused_requests`).
    fn count_refusal(&mut self) {
        self.refused += 1;
        self.tell(&ToChild::Refusals {
            total: self.refused,
        });
    }

    /// Writes the held nonce files whose time has come, and answers.
    fn write_held(&mut self, now: Instant) {
        let (due, later): (Vec<HeldWrite>, Vec<HeldWrite>) =
            self.held_writes.iter().partition(|w| w.at <= now);
        self.held_writes = later;
        for HeldWrite { slot, nonce, .. } in due {
            let carried = self.carry_out(&Action::Persist {
                slot,
                nonce,
                not_before: Duration::ZERO,
            });
            self.answer(&Reply::NonceOutcome(slot, nonce), carried);
        }
    }

    /// Carries out a granted `action`.
    fn carry_out(&mut self, action: &Action) -> Carried {
        match action {
            Action::Greet => log::debug!("network process greeted"),
            Action::Configure(changes) => {
                return self
                    .configure(changes)
                    .map_or(Carried::Done, Carried::Failed);
            }
            Action::ConnectPeer(peer) => return self.connect_peer(*peer),
            Action::ResolvePeer => {
                // The policy grants it only where there is a name.
                if let Some(lookups) = &mut self.lookups {
                    log::debug!(
                        "the network process's peer is silent: looking up remote_host {} again",
                        lookups.name()
                    );
                    lookups.start(Asker::Net, Instant::now());
                }
            }
            Action::Unconfigure => {
                for e in self.cleanup.executor.undo_session() {
                    log::error!("unconfiguring the network: {e}");
                }
                log::info!("network unconfigured: session ended");
            }
            Action::Persist { slot, nonce, .. } => {
                let path = match slot {
                    NonceSlot::Local => &self.nonce_paths.local,
                    NonceSlot::Remote => &self.nonce_paths.remote,
                };
                let written = nonce_file::write(path, nonce);
                // Answered next: the network process may ask again.
                self.conversation.written(*slot);
                match written {
                    Ok(()) => log::debug!("nonce saved: {}", path.display()),
                    Err(e) => {
                        log::error!("{e}");
                        return Carried::Failed(e.to_string());
                    }
                }
            }
        }
        Carried::Done
    }

    /// Takes the lookup's answer, if it has come by `now`: a new address
    /// becomes the gateway a push is judged against and is passed on to
    /// the network process, as is any address it asked for; a failure
    /// changes nothing.
    fn finish_lookup(&mut self, now: Instant) {
        let Some(lookups) = &mut self.lookups else {
            return;
        };
        let Some((outcome, net_asked)) = lookups.poll(now) else {
            return;
        };
        let name = lookups.name().to_owned();
        let current = self.facts.gateway;
        let was = current.map_or("none".to_owned(), |c| c.to_string());
        let found = match outcome {
            Outcome::Answered(Ok(found)) => found,
            Outcome::Answered(Err(e)) => {
                log::warn!("remote_host {name}: {e}; keeping {was}");
                return;
            }
            Outcome::TimedOut => {
                log::warn!(
                    "remote_host {name}: no answer from the resolver within {} s; keeping {was}",
                    peer_name::LOOKUP_DEADLINE.as_secs()
                );
                return;
            }
        };
        let Some(chosen) = peer_name::choose(&found, current) else {
            return;
        };
        let changed = Some(chosen) != current;
        if changed {
            log::info!("remote_host {name}: now {chosen} (was {was})");
            self.facts.gateway = Some(chosen);
        } else if net_asked {
            log::debug!("remote_host {name}: still {chosen}");
        } else {
            log::info!("remote_host {name}: still {chosen}");
        }
        if changed || net_asked {
            self.tell(&ToChild::PeerAddress { peer: chosen });
        }
    }

    /// A socket connected to `peer`, within the budget.
    fn connect_peer(&mut self, peer: SocketAddr) -> Carried {
        // The policy grants ConnectPeer only with connected sends, which
        // is when the parent has what they are made from.
        let Some((sockets, budget)) = &mut self.peer_sockets else {
            return Carried::Failed("sends name their destination".to_owned());
        };
        if budget.take(vpnd_net::clock::now()) == Allowance::Suppress {
            let reason = format!("more than {CONNECTS_PER_MINUTE} connected sockets in a minute");
            log::warn!("not connecting a socket to {peer}: {reason}");
            self.count_refusal();
            return Carried::Failed(reason);
        }
        match crate::sockets::connected_udp(&sockets.listener, peer, sockets.gro) {
            Ok(fd) => {
                log::info!("UDP: sending to {peer} by a socket connected to it");
                self.connected = crate::sockets::source_of(&fd)
                    .ok()
                    .map(|source| Connected { peer, source });
                Carried::Socket(fd)
            }
            Err(e) => {
                log::warn!("UDP: no socket connected to {peer}: {e}");
                Carried::Failed(e)
            }
        }
    }

    /// Connecting fixed the socket's source address; when the system
    /// would now send to the peer from another (a host whose address
    /// changed, a new route), a new socket replaces it, unasked: without
    /// it a roaming host would go on sending from an address it no longer
    /// has.
    fn renew_stale_socket(&mut self) {
        let (Some((sockets, _)), Some(current)) = (&self.peer_sockets, self.connected) else {
            return;
        };
        let Ok(source) = crate::sockets::source_for(&sockets.listener, current.peer) else {
            // No route to the peer now: the next check tries again.
            return;
        };
        if source == current.source {
            return;
        }
        match crate::sockets::connected_udp(&sockets.listener, current.peer, sockets.gro) {
            Ok(fd) => {
                log::info!(
                    "UDP: source address now {source} (was {}): a new socket connected to {}",
                    current.source,
                    current.peer
                );
                self.connected = Some(Connected { source, ..current });
                self.tell_with(&ToChild::PeerConnected { peer: current.peer }, Some(&fd));
            }
            Err(e) => log::debug!(
                "UDP: renewing the socket connected to {}: {e}",
                current.peer
            ),
        }
    }

    /// Applies a session's changes in two units, each rolled back whole if
    /// one of its commands fails: the network (MTU, forwarding, address,
    /// routes), then the resolver. A failing `resolvconf` costs only the
    /// DNS settings: the tunnel and its routes keep working. Then the
    /// session's scripts ([`Parent::run_up_script`]). Returns the error
    /// when the network was rolled back.
    fn configure(&mut self, changes: &[Change]) -> Option<String> {
        let (scripts, changes): (Vec<Change>, Vec<Change>) = changes
            .iter()
            .cloned()
            .partition(|c| matches!(c, Change::Scripts(_)));
        let (resolver, network): (Vec<Change>, Vec<Change>) = changes
            .into_iter()
            .partition(|c| matches!(c, Change::Resolver { .. }));
        if let Err(e) = self.cleanup.executor.apply(&network, Scope::Session) {
            log::error!("configuring the network: {e}; rolled back");
            return Some(e.to_string());
        }
        if !resolver.is_empty()
            && let Err(e) = self.cleanup.executor.apply(&resolver, Scope::Session)
        {
            log::error!(
                "configuring DNS: {e}; the tunnel and its routes work without the pushed resolver"
            );
        }
        log::info!("network configured for the session");
        scripts.iter().find_map(|s| self.run_up_script(s))
    }

    /// Runs the session's `up_script` (`scripts`, once the network is
    /// configured). A failure is logged and the session keeps its network,
    /// and its `down_script` runs at the end all the same (the script may
    /// have done half its work); with `up_script_required` the session's
    /// network is rolled back instead, no `down_script` runs for it, and
    /// the error is returned.
    fn run_up_script(&mut self, scripts: &Change) -> Option<String> {
        let executor = &mut self.cleanup.executor;
        if !self.up_script_required {
            if let Err(e) = executor.apply_kept(scripts, Scope::Session) {
                log::error!("up_script: {e}; the session keeps its network");
            }
            return None;
        }
        let e = executor
            .apply(std::slice::from_ref(scripts), Scope::Session)
            .err()?;
        for undo in executor.undo_session() {
            log::error!("unconfiguring the network: {undo}");
        }
        log::error!("up_script: {e}; up_script_required: the session's network is rolled back");
        Some(e.to_string())
    }

    /// Sends the answer `reply` calls for, if any, on how carrying out
    /// went (a socket goes with it).
    fn answer(&self, reply: &Reply, carried: Carried) {
        let (failed, socket) = match carried {
            Carried::Done => (None, None),
            Carried::Failed(e) => (Some(e), None),
            Carried::Socket(fd) => (None, Some(fd)),
        };
        if let Some(message) = reply.message(failed) {
            self.tell_with(&message, socket.as_ref());
        }
    }

    /// Sends a message; a failure means the child is gone, which the
    /// channel's EOF reports next.
    fn tell(&self, message: &ToChild) {
        self.tell_with(message, None);
    }

    /// Sends a message and a descriptor with it.
    fn tell_with(&self, message: &ToChild, fd: Option<&OwnedFd>) {
        let fds: Vec<_> = fd.iter().map(|f| f.as_fd()).collect();
        match ipc::encode(message) {
            Ok(frame) => {
                if let Err(e) = self.net.channel.send(&frame, &fds) {
                    log::debug!("telling the network process: {e}");
                }
            }
            Err(e) => log::error!("encoding a message to the network process: {e}"),
        }
    }

    /// Kills the network process and waits for it.
    fn kill(&mut self) {
        let _ = self.net.child.kill();
        if self.net.child.wait().is_ok() {
            crate::last_resort::net_process_reaped();
        }
        self.net.log.relay(LAST_WORDS);
    }

    /// Waits for the network process, which closed its channel, and says
    /// how it ended.
    fn reap(&mut self) -> String {
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            match self.net.child.try_wait() {
                Ok(Some(status)) => {
                    crate::last_resort::net_process_reaped();
                    self.net.log.relay(LAST_WORDS);
                    return describe(status);
                }
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                Ok(None) => {
                    self.kill();
                    return "closed its channel and did not exit; killed".to_owned();
                }
                Err(e) => return format!("waiting for it: {e}"),
            }
        }
    }
}

fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        _ => status.to_string(),
    }
}
