//! The send counter and when to persist it; the receive side's persistence.

use vpnd_crypto::Nonce;

/// The starting send counter (doc/protocol.md "Nonces", W8): the nonce file's
/// value, or a fresh one whose most significant bytes hold the Unix time,
/// whichever is larger, so a restart starts above anything sent before even
/// when the file was lost.
pub fn initial_send_nonce(file: Option<Nonce>, unix_secs: u64, random: [u8; 16]) -> Nonce {
    let fresh = Nonce::from_time_and_random(unix_secs, random);
    match file {
        Some(saved) if saved > fresh => saved,
        _ => fresh,
    }
}

/// The counter every sealed datagram takes its nonce from, and the reset
/// point on disk that stays ahead of it.
#[derive(Debug, Clone)]
pub(crate) struct SendCounter {
    next: Nonce,
    reset_point: Nonce,
    incr: u64,
}

impl SendCounter {
    /// Starts at `start`; the first reset point is `start + incr`, to be
    /// written at once.
    pub(crate) fn new(start: Nonce, incr: u64) -> (Self, Nonce) {
        let reset_point = start.plus(incr);
        (
            SendCounter {
                next: start,
                reset_point,
                incr,
            },
            reset_point,
        )
    }

    /// The nonce for the next datagram, and a new reset point to persist
    /// when one is due. The write happens while the counter is still half an
    /// increment below the old point, so that the write has time to land
    /// before the counter reaches what is on disk; the new point is one and
    /// a half increments ahead, so writes stay one increment apart.
    pub(crate) fn take(&mut self) -> (Nonce, Option<Nonce>) {
        let nonce = self.next;
        self.next.increment();
        let margin = self.reset_point.distance_above(&self.next);
        let due = margin.is_none_or(|m| m <= self.incr / 2);
        if due {
            self.reset_point = self.next.plus(self.incr + self.incr / 2);
            return (nonce, Some(self.reset_point));
        }
        (nonce, None)
    }

    /// The nonce the next datagram will carry.
    pub(crate) fn peek(&self) -> Nonce {
        self.next
    }

    /// The reset point last handed out to be persisted.
    pub(crate) fn reset_point(&self) -> Nonce {
        self.reset_point
    }

    /// Datagrams sent since the last reset point was written (approximate:
    /// the state dump's "nonces since reset").
    pub(crate) fn since_reset(&self) -> u64 {
        let ahead = self.reset_point.distance_above(&self.next).unwrap_or(0);
        (self.incr + self.incr / 2).saturating_sub(ahead)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_value_wins_only_when_larger() {
        let file = Nonce::from_time_and_random(2_000_000_000, [0; 16]);
        assert_eq!(initial_send_nonce(Some(file), 1_700_000_000, [9; 16]), file);
        let got = initial_send_nonce(Some(Nonce::from_u64(5)), 1_700_000_000, [9; 16]);
        assert_eq!(got, Nonce::from_time_and_random(1_700_000_000, [9; 16]));
        assert!(initial_send_nonce(None, 1, [0; 16]) > Nonce::from_u64(u64::MAX));
    }

    #[test]
    fn disk_stays_ahead_of_every_nonce_sent() {
        let start = Nonce::from_u64(1000);
        let (mut c, first) = SendCounter::new(start, 16);
        assert_eq!(first, Nonce::from_u64(1016));
        let mut on_disk = first;
        let mut writes = 0;
        for i in 0..1000u64 {
            let (n, persist) = c.take();
            assert_eq!(n, Nonce::from_u64(1000 + i));
            // Even if the write of this step is lost, the previous one is
            // still ahead of what was sent.
            assert!(n < on_disk, "sent {n:?} at or above the file {on_disk:?}");
            if let Some(p) = persist {
                assert!(p > on_disk);
                on_disk = p;
                writes += 1;
            }
        }
        // One write per increment of datagrams.
        assert!((60..=64).contains(&writes), "{writes} writes");
    }
}
