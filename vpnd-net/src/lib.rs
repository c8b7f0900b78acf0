//! The unprivileged network process: the event loop over tun, UDP, IPC and
//! the stats listener; the sandbox; the state reports; the IPC transport
//! the parent reuses. The process's entry (receiving the start message,
//! entering the sandbox) arrives with the rest of the daemon (issue #3).

mod addr;
pub mod clock;
pub mod event_loop;
pub mod report;
pub mod sandbox;
pub mod transport;
