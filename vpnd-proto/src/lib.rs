//! The configuration, the wire format, the sans-IO session, the IPC messages,
//! and how an operating system's error reads to an operator.
//!
//! Nothing here touches a socket, a file, a clock or a random source: time
//! and randomness come in as arguments (`clippy.toml` beside this crate keeps
//! it that way), so every part runs deterministically in tests.

pub mod config;
pub mod ipc;
pub mod net;
pub mod os_error;
pub mod session;
mod text;
pub mod time;
pub mod wire;

pub use time::Timestamp;
