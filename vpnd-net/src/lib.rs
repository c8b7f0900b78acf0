//! The unprivileged network process: its IPC transport now; the sandbox,
//! the event loop and the tun/UDP I/O arrive with the daemon (issue #3).

pub mod sandbox;
pub mod transport;
