//! The unprivileged network process. So far: the IPC transport, the
//! sandbox and the state reports; the event loop and the tun/UDP I/O
//! arrive with the rest of the daemon (issue #3).

pub mod report;
pub mod sandbox;
pub mod transport;
