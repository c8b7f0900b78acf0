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

/// What a nonce is for: DATA stops short of the confirmed reset point,
/// so that the control messages that keep the session alive (heartbeats,
/// the handshake) still have nonces while the parent is slow to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// A tun packet: dropped when the nonces left are the reserve.
    Data,
    /// A control message: may use every nonce below the confirmed point.
    Control,
}

/// The counter every sealed datagram takes its nonce from, and the reset
/// points on disk that stay ahead of it. No nonce is handed out at or
/// above the last reset point the parent confirmed on disk: after a crash
/// the next start begins at or above that point, so nothing sent is ever
/// sent again.
#[derive(Debug, Clone)]
pub(crate) struct SendCounter {
    next: Nonce,
    /// The last reset point asked for (on disk, or on its way there).
    requested: Nonce,
    /// The last reset point the parent said is on disk.
    confirmed: Option<Nonce>,
    incr: u64,
}

impl SendCounter {
    /// Starts at `start`; the first reset point is two increments above
    /// it, as every later one is above the counter, to be written at once.
    /// Nothing is sealed before it is confirmed.
    pub(crate) fn new(start: Nonce, incr: u64) -> (Self, Nonce) {
        let requested = start.plus(2 * incr);
        (
            SendCounter {
                next: start,
                requested,
                confirmed: None,
                incr,
            },
            requested,
        )
    }

    /// The nonce for the next datagram, unless the confirmed reset point
    /// stops it (for DATA, a quarter increment before it: the control
    /// reserve), and a new reset point to persist when one is due. The
    /// write is asked for while the counter is still a whole increment
    /// below the last point asked for, so that it has three quarters of an
    /// increment of DATA to land in (a slow fsync costs throughput only
    /// when it outlasts them); the new point is two increments ahead, so
    /// writes stay about one increment apart. A point is due even when the
    /// nonce is refused.
    pub(crate) fn take(&mut self, purpose: Purpose) -> (Option<Nonce>, Option<Nonce>) {
        let reserve = match purpose {
            Purpose::Data => self.incr / 4,
            Purpose::Control => 0,
        };
        let allowed = self.confirmed.is_some_and(|c| {
            c > self.next
                && c.distance_above(&self.next)
                    .is_none_or(|room| room > reserve)
        });
        let nonce = allowed.then(|| {
            let n = self.next;
            self.next.increment();
            n
        });
        let margin = self.requested.distance_above(&self.next);
        let due = margin.is_none_or(|m| m <= self.incr);
        if due {
            self.requested = self.next.plus(2 * self.incr);
            return (nonce, Some(self.requested));
        }
        (nonce, None)
    }

    /// The parent wrote `point`: nonces below it may be sealed. A point
    /// never asked for counts only as far as the last one asked for.
    pub(crate) fn confirmed(&mut self, point: Nonce) {
        let point = point.min(self.requested);
        if self.confirmed.is_none_or(|c| point > c) {
            self.confirmed = Some(point);
        }
    }

    /// The nonce the next datagram will carry.
    pub(crate) fn peek(&self) -> Nonce {
        self.next
    }

    /// The reset point the parent last confirmed on disk (what the local
    /// nonce file holds), or before the first confirmation the one asked
    /// for.
    pub(crate) fn reset_point(&self) -> Nonce {
        self.confirmed.unwrap_or(self.requested)
    }

    /// Datagrams sent since the last reset point was written (approximate:
    /// the state dump's "nonces since reset").
    pub(crate) fn since_reset(&self) -> u64 {
        let ahead = self.requested.distance_above(&self.next).unwrap_or(0);
        (2 * self.incr).saturating_sub(ahead)
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
    fn nothing_is_sealed_at_or_above_the_confirmed_point() {
        let start = Nonce::from_u64(1000);
        let (mut c, first) = SendCounter::new(start, 16);
        assert_eq!(first, Nonce::from_u64(1032));
        // Before the first confirmation: nothing at all.
        assert_eq!(c.take(Purpose::Control), (None, None));
        assert_eq!(c.take(Purpose::Data), (None, None));
        c.confirmed(first);
        let mut confirmed = first;
        let mut asked: Option<Nonce> = None;
        let (mut sent, mut data_refused, mut control_sent) = (0u64, 0u64, 0u64);
        // The parent confirms only every 100th step: DATA stops a quarter
        // increment short, control goes on to the point, never past it.
        for step in 0..10_000u64 {
            let purpose = if step % 10 == 0 {
                Purpose::Control
            } else {
                Purpose::Data
            };
            let (n, persist) = c.take(purpose);
            if let Some(p) = persist {
                assert!(p > confirmed);
                assert!(p <= confirmed.plus(2 * 16), "{p:?} far above {confirmed:?}");
                asked = Some(p);
            }
            match n {
                Some(n) => {
                    assert!(n < confirmed, "sealed {n:?} at or above {confirmed:?}");
                    if purpose == Purpose::Data {
                        assert!(confirmed.distance_above(&n).unwrap() > 4);
                    } else {
                        control_sent += 1;
                    }
                    sent += 1;
                }
                None if purpose == Purpose::Data => data_refused += 1,
                None => {}
            }
            if step % 100 == 99
                && let Some(p) = asked.take()
            {
                c.confirmed(p);
                confirmed = p;
            }
        }
        assert!(
            sent > 1000 && data_refused > 1000,
            "{sent} sent, {data_refused} refused"
        );
        assert!(control_sent > 100, "{control_sent} control");
        // A confirmation above what was asked for counts only that far.
        c.confirmed(Nonce::from_u64(u64::MAX));
        let mut last = None;
        while let (Some(n), _) = c.take(Purpose::Control) {
            last = Some(n);
        }
        assert!(last.unwrap() < c.requested);
    }
}
