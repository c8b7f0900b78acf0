//! The real clock the event loop feeds the session: one that keeps
//! counting through suspend (doc/protocol.md's timers must see suspended time
//! pass, or a laptop that slept would keep a dead session).

use rustix::time::ClockId;
use vpnd_proto::Timestamp;

/// The clock that counts through suspend: Linux's monotonic clock stops
/// there, its boot-time clock does not.
#[cfg(any(target_os = "linux", target_os = "android"))]
const THROUGH_SUSPEND: ClockId = ClockId::Boottime;
/// Elsewhere the monotonic clock. Whether a BSD's counts through suspend
/// is not settled by its source: FreeBSD's CLOCK_MONOTONIC and CLOCK_UPTIME
/// are both nanouptime() (sys/kern/kern_time.c, kern_clock_gettime()), and
/// its clock_gettime(2) says CLOCK_UPTIME counts while the machine runs.
/// Where it stops, a host that slept sees its timers (peer dead, key age)
/// run on from where they were: a dead session is found 20 s of running
/// time after the resume rather than at once.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const THROUGH_SUSPEND: ClockId = ClockId::Monotonic;

/// Now, on the clock that counts through suspend.
pub fn now() -> Timestamp {
    let t = rustix::time::clock_gettime(THROUGH_SUSPEND);
    let nanos = u64::try_from(t.tv_sec).unwrap_or(0) * 1_000_000_000
        + u64::try_from(t.tv_nsec).unwrap_or(0);
    Timestamp::from_nanos(nanos)
}

/// The Unix time in seconds (for the nonce counter's start and the
/// Graphite lines).
pub fn unix_time() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
