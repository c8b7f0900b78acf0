//! The real clock the event loop feeds the session: one that keeps
//! counting through suspend (PROTOCOL.md timers must see suspended time
//! pass, or a laptop that slept would keep a dead session).

use vpnd_proto::Timestamp;

/// Now, on `CLOCK_BOOTTIME` (Linux) or the monotonic clock elsewhere
/// (FreeBSD's counts through suspend already).
pub fn now() -> Timestamp {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let id = rustix::time::ClockId::Boottime;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let id = rustix::time::ClockId::Monotonic;
    let t = rustix::time::clock_gettime(id);
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
