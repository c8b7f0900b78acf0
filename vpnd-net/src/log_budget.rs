//! A bound on log lines that the peer can cause: its debug strings are
//! logged at the default level, so a peer sending them in a stream must
//! not turn into one log line per datagram. At most [`LINES`] lines per
//! [`WINDOW`]; the rest are counted and the count is logged once. The
//! parent bounds other things the network process may ask for the same way
//! ([`LogBudget::per`]).

use std::time::Duration;

use vpnd_proto::Timestamp;

/// Lines allowed per window.
pub const LINES: u32 = 5;

/// How long a window lasts; the count of lines starts again after it.
pub const WINDOW: Duration = Duration::from_secs(10);

/// What to do with one more line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allowance {
    /// Log it; `suppressed` lines were dropped in the previous windows
    /// (log that too when non-zero).
    Log {
        /// Lines not logged since the last one that was.
        suppressed: u64,
    },
    /// Do not log it (counted).
    Suppress,
}

/// Lines logged in the current window, and those dropped since the last
/// one that was logged.
#[derive(Debug)]
pub struct LogBudget {
    limit: u32,
    window: Duration,
    window_start: Option<Timestamp>,
    used: u32,
    suppressed: u64,
}

impl LogBudget {
    /// A full budget of [`LINES`] per [`WINDOW`].
    pub fn new() -> Self {
        Self::per(LINES, WINDOW)
    }

    /// A full budget of `limit` per `window`.
    pub fn per(limit: u32, window: Duration) -> Self {
        LogBudget {
            limit,
            window,
            window_start: None,
            used: 0,
            suppressed: 0,
        }
    }

    /// One more line at `now`.
    pub fn take(&mut self, now: Timestamp) -> Allowance {
        let expired = self
            .window_start
            .is_none_or(|start| now.saturating_since(start) >= self.window);
        if expired {
            self.window_start = Some(now);
            self.used = 0;
        }
        if self.used >= self.limit {
            self.suppressed += 1;
            return Allowance::Suppress;
        }
        self.used += 1;
        let suppressed = std::mem::take(&mut self.suppressed);
        Allowance::Log { suppressed }
    }
}

impl Default for LogBudget {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_is_cut_to_the_budget_and_the_rest_counted() {
        let mut b = LogBudget::new();
        let t0 = Timestamp::ZERO;
        for _ in 0..LINES {
            assert_eq!(b.take(t0), Allowance::Log { suppressed: 0 });
        }
        for i in 0..1000u64 {
            assert_eq!(b.take(t0 + Duration::from_millis(i)), Allowance::Suppress);
        }
        assert_eq!(b.take(t0 + WINDOW), Allowance::Log { suppressed: 1000 });
        assert_eq!(b.take(t0 + WINDOW), Allowance::Log { suppressed: 0 });
    }
}
