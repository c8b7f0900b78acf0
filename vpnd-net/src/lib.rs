//! The unprivileged network process: the event loop over tun, UDP, IPC,
//! the stats listener and the console; the one ordered way out to the peer
//! (`outbound`, `udp`); the sandbox; the state reports; the IPC transport
//! the parent reuses; the process's entry ([`child::run`]) and the logger
//! both processes share. Platform code sits in one module per platform
//! (`sandbox/`, `udp/`), chosen in one line each.

mod addr;
pub mod child;
pub mod clock;
pub mod console;
pub mod event_loop;
pub mod inherited;
pub mod log_budget;
pub mod log_pipe;
pub mod logging;
mod os_entropy;
mod outbound;
mod outbox;
mod peer_lookup;
pub mod report;
pub mod sandbox;
#[cfg(debug_assertions)]
mod sandbox_probe;
pub mod stats_server;
pub mod status_json;
#[cfg(target_os = "linux")]
pub mod syscall_filter;
pub mod transport;
pub mod tun_io;
pub mod udp;
