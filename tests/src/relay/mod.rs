//! The fault relay: a UDP relay on a thread inside a middle namespace,
//! between two daemons that each take it for their peer. It forwards
//! their datagrams both ways and, on command, drops, duplicates, reorders
//! (bounded displacement), delays, truncates and bit-flips them, records
//! what it delivers and replays it, and injects forgeries. Every decision
//! comes from one seeded generator, so a failing run repeats with its seed;
//! the report says what it did, so tests compare the daemons' counters
//! with it.

mod garbage;
mod rng;

use std::collections::{BTreeMap, BinaryHeap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token, Waker};

pub use garbage::{Forger, Forgery};
pub use rng::Rng;

/// A direction through the relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dir {
    /// From daemon a to daemon b.
    AtoB,
    /// From daemon b to daemon a.
    BtoA,
}

impl Dir {
    fn index(self) -> usize {
        self as usize
    }
}

/// The faults applied to one direction, each a probability per datagram.
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    /// Not forwarded.
    pub drop: f64,
    /// Forwarded twice.
    pub duplicate: f64,
    /// Held back until up to `max_displacement` later datagrams passed it
    /// (or 50 ms passed).
    pub reorder: f64,
    /// The most datagrams a reordered one lets pass.
    pub max_displacement: u64,
    /// Held for `delay_ms` (a range) before it is forwarded.
    pub delay: f64,
    /// The delay's range in milliseconds.
    pub delay_ms: (u64, u64),
    /// Cut to a random shorter length.
    pub truncate: f64,
    /// One random bit flipped.
    pub bitflip: f64,
}

/// The order of a replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// As recorded.
    InOrder,
    /// Last first.
    Reversed,
    /// The two halves zipped: 0, n/2, 1, n/2+1, ...
    Interleaved,
}

/// What the relay did in one direction.
#[derive(Debug, Clone, Default)]
pub struct DirReport {
    /// Datagrams received from the sender.
    pub received: u64,
    /// Datagrams sent to the receiver (copies, altered ones included;
    /// replays and injections not).
    pub delivered: u64,
    /// Of those, unaltered with a nonce not delivered before.
    pub distinct_delivered: u64,
    /// Dropped.
    pub dropped: u64,
    /// Extra copies made.
    pub duplicated: u64,
    /// Held back and released out of order.
    pub reordered: u64,
    /// Delayed.
    pub delayed: u64,
    /// Truncated.
    pub truncated: u64,
    /// Bit-flipped.
    pub flipped: u64,
    /// Recorded datagrams replayed.
    pub replayed: u64,
    /// Forgeries injected, by kind.
    pub injected: BTreeMap<Forgery, u64>,
    /// The nonce (first 24 bytes) of every datagram the sender sent, in
    /// order.
    pub nonces: Vec<[u8; 24]>,
    /// Datagrams recorded so far.
    pub recorded: usize,
}

/// What the relay did.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// a to b.
    pub a_to_b: DirReport,
    /// b to a.
    pub b_to_a: DirReport,
}

impl Report {
    /// One direction's report.
    pub fn dir(&self, dir: Dir) -> &DirReport {
        match dir {
            Dir::AtoB => &self.a_to_b,
            Dir::BtoA => &self.b_to_a,
        }
    }
}

/// Where the relay sits: `a_side` is the address daemon a sends to (its
/// `remote_host`), `b_side` daemon b's; `a` and `b` are the daemons'.
#[derive(Debug, Clone, Copy)]
pub struct Addresses {
    /// Daemon a's address and port.
    pub a: SocketAddr,
    /// The relay's address towards a.
    pub a_side: SocketAddr,
    /// Daemon b's address and port.
    pub b: SocketAddr,
    /// The relay's address towards b.
    pub b_side: SocketAddr,
}

enum Command {
    Faults(Dir, Faults),
    Record(Dir, bool),
    Replay(Dir, Order, Sender<usize>),
    Inject(Dir, Forgery, u64),
    Idle(Sender<()>),
    Report(Sender<Report>),
    Stop,
}

/// The running relay; stopped when dropped.
#[derive(Debug)]
pub struct Relay {
    commands: Sender<Command>,
    waker: Arc<Waker>,
    thread: Option<JoinHandle<()>>,
    /// The seed of its decisions.
    pub seed: u64,
}

const SIDE_A: Token = Token(0);
const SIDE_B: Token = Token(1);
const WAKE: Token = Token(2);

/// Queued replays and injections leave at most this many per millisecond,
/// so that the daemons' socket buffers never overflow (the counters must
/// match) and forwarding goes on meanwhile.
const QUEUE_BURST: usize = 32;

/// A reordered datagram is released after this at the latest.
const HOLD_LIMIT: Duration = Duration::from_millis(50);

impl Relay {
    /// Starts the relay in namespace `ns`.
    pub fn start(ns: &str, addresses: Addresses, seed: u64) -> Relay {
        let (commands, receiver) = channel();
        let (waker_tx, waker_rx) = channel();
        let thread = crate::netns::spawn_in(ns, move |ready| {
            let mut core = Core::new(addresses, seed).expect("relay sockets");
            waker_tx
                .send(Arc::new(
                    Waker::new(core.poll.registry(), WAKE).expect("waker"),
                ))
                .expect("relay handle");
            ready();
            core.run(&receiver);
        });
        let waker = waker_rx.recv().expect("relay waker");
        Relay {
            commands,
            waker,
            thread: Some(thread),
            seed,
        }
    }

    fn send(&self, c: Command) {
        self.commands.send(c).expect("relay thread alive");
        self.waker.wake().expect("wake relay");
    }

    /// Sets the faults of `dir`.
    pub fn set_faults(&self, dir: Dir, faults: Faults) {
        self.send(Command::Faults(dir, faults));
    }

    /// Starts or stops recording what `dir` delivers.
    pub fn record(&self, dir: Dir, on: bool) {
        self.send(Command::Record(dir, on));
    }

    /// Queues the recorded datagrams of `dir` for sending again to its
    /// receiver, in `order`; returns how many.
    pub fn replay(&self, dir: Dir, order: Order) -> usize {
        let (tx, rx) = channel();
        self.send(Command::Replay(dir, order, tx));
        rx.recv().expect("relay answers")
    }

    /// Queues `count` forgeries of `kind` for `dir`'s receiver (they come
    /// from the relay, the address it takes for its peer).
    pub fn inject(&self, dir: Dir, kind: Forgery, count: u64) {
        self.send(Command::Inject(dir, kind, count));
    }

    /// Waits until every queued replay and injection is sent.
    pub fn wait_idle(&self) {
        let (tx, rx) = channel();
        self.send(Command::Idle(tx));
        rx.recv().expect("relay answers");
    }

    /// What the relay did so far.
    pub fn report(&self) -> Report {
        let (tx, rx) = channel();
        self.send(Command::Report(tx));
        rx.recv().expect("relay answers")
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.commands.send(Command::Stop);
        let _ = self.waker.wake();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Delayed {
    at: Instant,
    seq: u64,
    dir: Dir,
    datagram: Vec<u8>,
    altered: bool,
}

impl PartialEq for Delayed {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Delayed {}
impl PartialOrd for Delayed {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Delayed {
    // A min-heap on time: the earliest first.
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (o.at, o.seq).cmp(&(self.at, self.seq))
    }
}

struct Held {
    passes_left: u64,
    deadline: Instant,
    datagram: Vec<u8>,
    altered: bool,
}

struct Core {
    poll: Poll,
    side: [UdpSocket; 2],
    dest: [SocketAddr; 2],
    from: [SocketAddr; 2],
    rng: Rng,
    forger: Forger,
    faults: [Faults; 2],
    recording: [bool; 2],
    recorded: [Vec<Vec<u8>>; 2],
    last: [Vec<u8>; 2],
    seen: [HashSet<[u8; 24]>; 2],
    delayed: BinaryHeap<Delayed>,
    held: [Vec<Held>; 2],
    queue: VecDeque<(Dir, Vec<u8>)>,
    idle_waiters: Vec<Sender<()>>,
    report: [DirReport; 2],
    seq: u64,
}

impl Core {
    fn new(addr: Addresses, seed: u64) -> std::io::Result<Core> {
        let poll = Poll::new()?;
        let mut a = UdpSocket::bind(addr.a_side)?;
        let mut b = UdpSocket::bind(addr.b_side)?;
        poll.registry()
            .register(&mut a, SIDE_A, Interest::READABLE)?;
        poll.registry()
            .register(&mut b, SIDE_B, Interest::READABLE)?;
        Ok(Core {
            poll,
            // A datagram from a leaves towards b through b's side.
            side: [a, b],
            dest: [addr.b, addr.a],
            from: [addr.a, addr.b],
            rng: Rng::new(seed),
            forger: Forger::new(seed ^ 0x5eed),
            faults: [Faults::default(); 2],
            recording: [false; 2],
            recorded: [Vec::new(), Vec::new()],
            last: [Vec::new(), Vec::new()],
            seen: [HashSet::new(), HashSet::new()],
            delayed: BinaryHeap::new(),
            held: [Vec::new(), Vec::new()],
            queue: VecDeque::new(),
            idle_waiters: Vec::new(),
            report: [DirReport::default(), DirReport::default()],
            seq: 0,
        })
    }

    fn run(&mut self, commands: &Receiver<Command>) {
        let mut events = Events::with_capacity(16);
        let mut buf = vec![0u8; 65536];
        loop {
            let timeout = self.next_timeout();
            if let Err(e) = self.poll.poll(&mut events, timeout)
                && e.kind() != std::io::ErrorKind::Interrupted
            {
                panic!("relay poll: {e}");
            }
            // Edge-triggered: read both sides until they would block.
            for side in [Dir::AtoB, Dir::BtoA] {
                while let Ok((n, src)) = self.side[side.index()].recv_from(&mut buf) {
                    if src == self.from[side.index()] {
                        self.arrive(side, buf[..n].to_vec());
                    }
                }
            }
            while let Ok(c) = commands.try_recv() {
                if !self.command(c) {
                    return;
                }
            }
            self.release_due();
            self.send_queued();
        }
    }

    fn next_timeout(&self) -> Option<Duration> {
        let now = Instant::now();
        let mut next: Option<Instant> = self.delayed.peek().map(|d| d.at);
        for h in self.held.iter().flatten() {
            next = Some(next.map_or(h.deadline, |n| n.min(h.deadline)));
        }
        if !self.queue.is_empty() {
            let soon = now + Duration::from_millis(1);
            next = Some(next.map_or(soon, |n| n.min(soon)));
        }
        next.map(|t| t.saturating_duration_since(now))
    }

    fn command(&mut self, c: Command) -> bool {
        match c {
            Command::Faults(d, f) => self.faults[d.index()] = f,
            Command::Record(d, on) => self.recording[d.index()] = on,
            Command::Replay(d, order, answer) => {
                let rec = &self.recorded[d.index()];
                let n = rec.len();
                let indices: Vec<usize> = match order {
                    Order::InOrder => (0..n).collect(),
                    Order::Reversed => (0..n).rev().collect(),
                    Order::Interleaved => {
                        let half = n.div_ceil(2);
                        (0..half)
                            .flat_map(|i| [Some(i), (half + i < n).then_some(half + i)])
                            .flatten()
                            .collect()
                    }
                };
                for i in indices {
                    self.queue.push_back((d, rec[i].clone()));
                }
                self.report[d.index()].replayed += n as u64;
                let _ = answer.send(n);
            }
            Command::Inject(d, kind, count) => {
                for _ in 0..count {
                    let forged = self.forger.forge(kind, &self.last[d.index()]);
                    self.queue.push_back((d, forged));
                }
                *self.report[d.index()].injected.entry(kind).or_default() += count;
            }
            Command::Idle(answer) => self.idle_waiters.push(answer),
            Command::Report(answer) => {
                let mut r = Report {
                    a_to_b: self.report[0].clone(),
                    b_to_a: self.report[1].clone(),
                };
                r.a_to_b.recorded = self.recorded[0].len();
                r.b_to_a.recorded = self.recorded[1].len();
                let _ = answer.send(r);
            }
            Command::Stop => return false,
        }
        true
    }

    /// A datagram from `dir`'s sender: the faults decide its fate.
    fn arrive(&mut self, dir: Dir, datagram: Vec<u8>) {
        let i = dir.index();
        let f = self.faults[i];
        let rep = &mut self.report[i];
        rep.received += 1;
        if let Some(n) = datagram.get(..24) {
            rep.nonces.push(n.try_into().expect("24 bytes"));
        }
        if self.rng.chance(f.drop) {
            self.report[i].dropped += 1;
            return;
        }
        let copies = if self.rng.chance(f.duplicate) {
            self.report[i].duplicated += 1;
            2
        } else {
            1
        };
        for _ in 0..copies {
            let mut d = datagram.clone();
            let mut altered = false;
            if d.len() > 1 && self.rng.chance(f.truncate) {
                d.truncate(self.rng.range(0, d.len() as u64 - 1) as usize);
                self.report[i].truncated += 1;
                altered = true;
            }
            if !d.is_empty() && self.rng.chance(f.bitflip) {
                let bit = self.rng.range(0, d.len() as u64 * 8 - 1);
                d[(bit / 8) as usize] ^= 1 << (bit % 8);
                self.report[i].flipped += 1;
                altered = true;
            }
            if self.rng.chance(f.delay) {
                let ms = self.rng.range(f.delay_ms.0, f.delay_ms.1.max(f.delay_ms.0));
                self.seq += 1;
                self.delayed.push(Delayed {
                    at: Instant::now() + Duration::from_millis(ms),
                    seq: self.seq,
                    dir,
                    datagram: d,
                    altered,
                });
                self.report[i].delayed += 1;
            } else if f.max_displacement > 0 && self.rng.chance(f.reorder) {
                let passes = self.rng.range(1, f.max_displacement);
                self.held[i].push(Held {
                    passes_left: passes,
                    deadline: Instant::now() + HOLD_LIMIT,
                    datagram: d,
                    altered,
                });
                self.report[i].reordered += 1;
            } else {
                self.deliver(dir, &d, altered);
                self.pass_held(dir);
            }
        }
    }

    /// One datagram went by: the held ones whose turn it is follow it.
    fn pass_held(&mut self, dir: Dir) {
        self.release_held(dir, |h| {
            h.passes_left -= 1;
            h.passes_left == 0
        });
    }

    fn release_due(&mut self) {
        let now = Instant::now();
        while self.delayed.peek().is_some_and(|d| d.at <= now) {
            let d = self.delayed.pop().expect("peeked");
            self.deliver(d.dir, &d.datagram, d.altered);
        }
        for dir in [Dir::AtoB, Dir::BtoA] {
            self.release_held(dir, |h| h.deadline <= now);
        }
    }

    /// Delivers the held datagrams of `dir` for which `due` says so.
    fn release_held(&mut self, dir: Dir, mut due: impl FnMut(&mut Held) -> bool) {
        let mut released = Vec::new();
        self.held[dir.index()].retain_mut(|h| {
            if due(h) {
                released.push((std::mem::take(&mut h.datagram), h.altered));
                false
            } else {
                true
            }
        });
        for (d, altered) in released {
            self.deliver(dir, &d, altered);
        }
    }

    fn deliver(&mut self, dir: Dir, datagram: &[u8], altered: bool) {
        let i = dir.index();
        let _ = self.side[1 - i].send_to(datagram, self.dest[i]);
        let rep = &mut self.report[i];
        rep.delivered += 1;
        if altered {
            return;
        }
        if let Some(n) = datagram.get(..24)
            && self.seen[i].insert(n.try_into().expect("24 bytes"))
        {
            rep.distinct_delivered += 1;
        }
        if self.recording[i] {
            self.recorded[i].push(datagram.to_vec());
        }
        self.last[i] = datagram.to_vec();
    }

    fn send_queued(&mut self) {
        for _ in 0..QUEUE_BURST {
            let Some((dir, d)) = self.queue.pop_front() else {
                break;
            };
            let i = dir.index();
            let _ = self.side[1 - i].send_to(&d, self.dest[i]);
        }
        if self.queue.is_empty() {
            for w in self.idle_waiters.drain(..) {
                let _ = w.send(());
            }
        }
    }
}
