//! A seeded, unreliable link on a virtual clock: loss, reordering,
//! duplication and delay spikes (after smoltcp's fault injector).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

use vpnd_proto::Timestamp;
use vpnd_proto::session::SeededEntropy;

/// Which end a datagram is travelling to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Side {
    A,
    B,
}

impl Side {
    pub fn other(self) -> Side {
        match self {
            Side::A => Side::B,
            Side::B => Side::A,
        }
    }
}

/// What the link does to each datagram.
#[derive(Debug, Clone, Copy)]
pub struct Faults {
    /// One-way delay of every datagram.
    pub delay: Duration,
    /// Probability that a datagram is lost.
    pub loss: f64,
    /// Probability that a datagram is duplicated.
    pub duplicate: f64,
    /// Probability that a datagram is held back by up to `reorder_by`.
    pub reorder: f64,
    /// The largest extra delay of a reordered datagram.
    pub reorder_by: Duration,
    /// Probability of a delay spike.
    pub spike: f64,
    /// The extra delay of a spike.
    pub spike_by: Duration,
}

impl Faults {
    pub const CLEAN: Faults = Faults {
        delay: Duration::from_millis(10),
        loss: 0.0,
        duplicate: 0.0,
        reorder: 0.0,
        reorder_by: Duration::ZERO,
        spike: 0.0,
        spike_by: Duration::ZERO,
    };
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct InFlight {
    at: Timestamp,
    seq: u64,
    to: Side,
    datagram: Vec<u8>,
}

/// Datagrams in flight, delivered in order of arrival time.
#[derive(Debug)]
pub struct Link {
    pub faults: Faults,
    rng: SeededEntropy,
    queue: BinaryHeap<Reverse<InFlight>>,
    seq: u64,
    pub lost: u64,
    pub duplicated: u64,
}

impl Link {
    pub fn new(faults: Faults, seed: u64) -> Self {
        Link {
            faults,
            rng: SeededEntropy::new(seed),
            queue: BinaryHeap::new(),
            seq: 0,
            lost: 0,
            duplicated: 0,
        }
    }

    fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && (self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }

    fn fraction(&mut self, d: Duration) -> Duration {
        let n = d.as_nanos() as u64;
        if n == 0 {
            Duration::ZERO
        } else {
            Duration::from_nanos(self.rng.next_u64() % n)
        }
    }

    /// Sends `datagram` towards `to` at `now`, through the faults.
    pub fn send(&mut self, now: Timestamp, to: Side, datagram: Vec<u8>) {
        if self.chance(self.faults.loss) {
            self.lost += 1;
            return;
        }
        let copies = if self.chance(self.faults.duplicate) {
            self.duplicated += 1;
            2
        } else {
            1
        };
        for _ in 0..copies {
            let mut at = now + self.faults.delay;
            if self.chance(self.faults.reorder) {
                at = at + self.fraction(self.faults.reorder_by);
            }
            if self.chance(self.faults.spike) {
                at = at + self.faults.spike_by;
            }
            self.seq += 1;
            self.queue.push(Reverse(InFlight {
                at,
                seq: self.seq,
                to,
                datagram: datagram.clone(),
            }));
        }
    }

    /// Arrival time of the next datagram.
    pub fn next_arrival(&self) -> Option<Timestamp> {
        self.queue.peek().map(|Reverse(f)| f.at)
    }

    /// The next datagram that has arrived by `now`.
    pub fn pop_arrived(&mut self, now: Timestamp) -> Option<(Side, Vec<u8>)> {
        if self.next_arrival()? > now {
            return None;
        }
        self.queue.pop().map(|Reverse(f)| (f.to, f.datagram))
    }
}
