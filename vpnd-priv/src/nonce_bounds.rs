//! How far a nonce file may move: the bounds the parent puts on the
//! values the network process asks it to write, so that a compromised
//! network process cannot poison a file for good (a local value no
//! restart gets above, a remote one that refuses every datagram of the
//! peer), and so that a remote value that cannot be checked is at least
//! seen.

use vpnd_crypto::Nonce;

/// Increments of `nonce_reset_incr` a local reset point may run ahead of
/// the one on disk. The network process writes a new reset point every
/// `nonce_reset_incr` datagrams, two increments above its counter
/// (vpnd-proto `session::nonces`), and its counter stays below the last
/// point written, so a correct one is never more than two increments
/// above the last point written; four
/// leave room for a point that replaces one still queued, and still
/// bound what a single write can add.
pub const LOCAL_STEPS: u64 = 4;

/// How far ahead of the parent's clock (seconds) the time in a remote
/// nonce may be before the parent warns about it. Every counter starts
/// from its clock (Unix time in the 8 most significant bytes) and no link
/// carries the 2^128 datagrams that would move that part by one second,
/// so a peer's nonces stay below its clock at its last start; a day
/// leaves room for clocks that disagree.
pub const REMOTE_CLOCK_AHEAD: u64 = 86_400;

/// What a remote value beyond the clock means, and what to do about it.
pub const BEYOND_CLOCK: &str = "beyond what a peer whose clock is within a day of ours can have sent; if the peer's datagrams are refused (drops.nonce_not_above), reset remote_nonce_file as vpnd(8), NONCE FILES, says";

/// A value at the top of the nonce space: the most significant byte is
/// 0xff. As a start nonce it would hold a clock of about 1.8e19 seconds
/// (some 5.8e11 years); no counter started below it gets there (2^184
/// nonces), and a counter started there would wrap. No nonce file holds
/// one: the parent refuses to write it and to start from it.
pub fn at_top(nonce: &[u8; 24]) -> bool {
    nonce[23] == 0xff
}

/// The highest start nonce a network process given `unix_time` can pick
/// from its clock (`initial_send_nonce` with every random byte 0xff).
fn clock_start(unix_time: u64) -> Nonce {
    Nonce::from_time_and_random(unix_time, [0xff; 16])
}

/// The highest local reset point the parent writes: [`LOCAL_STEPS`]
/// increments above the larger of the value on disk and the highest
/// start the network process can have picked from the `unix_time` of its
/// start message (its first reset point is its start plus one increment,
/// and the start is the file's value or the clock's, whichever is
/// larger). Allowing the clock's start at every write, not only the
/// first, adds nothing a restart would feel: a restart a second later
/// starts from a clock above it.
pub fn local_ceiling(on_disk: Option<&[u8; 24]>, unix_time: u64, incr: u64) -> Nonce {
    let clock = clock_start(unix_time);
    let base = on_disk
        .map(|d| Nonce::from_bytes(*d))
        .filter(|d| *d > clock)
        .unwrap_or(clock);
    let ceiling = base.plus(LOCAL_STEPS.saturating_mul(incr));
    // `plus` wraps at 2^192; a ceiling never does.
    if ceiling < base {
        Nonce::from_bytes([0xff; 24])
    } else {
        ceiling
    }
}

/// `nonce` holds a time more than [`REMOTE_CLOCK_AHEAD`] beyond
/// `unix_now`: more than a peer whose clock is near ours can have sent.
pub fn beyond_clock(nonce: &[u8; 24], unix_now: u64) -> bool {
    Nonce::from_bytes(*nonce) > clock_start(unix_now.saturating_add(REMOTE_CLOCK_AHEAD))
}

/// The warning a remote value deserves when it jumps from `previous`
/// (within the clock) to beyond the clock at `unix_now`: the parent
/// cannot tell a peer whose clock is far ahead from a network process
/// that poisons the file, so it writes the value and says so, once.
pub fn remote_jump(previous: Option<&[u8; 24]>, new: &[u8; 24], unix_now: u64) -> Option<String> {
    let was_within = previous.is_none_or(|p| !beyond_clock(p, unix_now));
    (was_within && beyond_clock(new, unix_now)).then(|| {
        format!(
            "remote nonce jumped far ahead: from {} to {}, {BEYOND_CLOCK}",
            previous.map_or_else(|| "none".to_owned(), |p| Nonce::from_bytes(*p).to_hex()),
            Nonce::from_bytes(*new).to_hex(),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000;

    fn time(unix: u64, low: u8) -> [u8; 24] {
        *Nonce::from_time_and_random(unix, [low; 16]).as_bytes()
    }

    #[test]
    fn only_the_top_byte_full_is_the_top() {
        assert!(at_top(&[0xff; 24]));
        let mut below = [0xff; 24];
        below[23] = 0xfe;
        assert!(!at_top(&below));
        assert!(!at_top(&time(u64::MAX >> 8, 0xff)));
    }

    #[test]
    fn the_local_ceiling_follows_the_larger_of_file_and_clock() {
        // No file, or one below the clock: the clock's highest start.
        let clock = Nonce::from_bytes(time(NOW, 0xff));
        assert_eq!(local_ceiling(None, NOW, 100), clock.plus(400));
        assert_eq!(
            local_ceiling(Some(&time(NOW - 10, 0)), NOW, 100),
            clock.plus(400)
        );
        // A file above the clock (the clock went back): the file.
        let file = time(NOW + 10, 0);
        assert_eq!(
            local_ceiling(Some(&file), NOW, 100),
            Nonce::from_bytes(file).plus(400)
        );
        // Near the wrap, the ceiling stays at the top.
        let mut high = [0xff; 24];
        high[0] = 0;
        assert_eq!(
            local_ceiling(Some(&high), NOW, 20_000),
            Nonce::from_bytes([0xff; 24])
        );
    }

    #[test]
    fn a_remote_jump_beyond_the_clock_is_told_once() {
        let ahead = time(NOW + REMOTE_CLOCK_AHEAD + 1, 0);
        let within = time(NOW + REMOTE_CLOCK_AHEAD, 0xff);
        assert!(beyond_clock(&ahead, NOW));
        assert!(!beyond_clock(&within, NOW));
        assert_eq!(remote_jump(Some(&time(NOW, 0)), &within, NOW), None);
        let w = remote_jump(Some(&time(NOW, 0)), &ahead, NOW).unwrap();
        assert!(w.contains(&Nonce::from_bytes(ahead).to_hex()), "{w}");
        assert!(w.contains(&Nonce::from_bytes(time(NOW, 0)).to_hex()), "{w}");
        assert!(
            remote_jump(None, &ahead, NOW)
                .unwrap()
                .contains("from none")
        );
        // Already beyond: said before.
        assert_eq!(remote_jump(Some(&ahead), &[0xfe; 24], NOW), None);
    }
}
