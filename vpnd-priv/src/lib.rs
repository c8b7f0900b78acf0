//! What vpnd does as root: the parent's start-up (tun, sockets, nonce and
//! pid files, spawning the network process), serving the network
//! process's requests under the policy, running the commands that change
//! the network, and the ledger that undoes them.
//!
//! The `vpnd` binary (`src/bin/vpnd/`) holds what needs no root: the
//! command line, loading the configuration, `vpnd -n` and `vpnd -s`,
//! daemonizing, service-manager readiness, the checks of the user, the
//! chroot directory and the peer's address; it calls [`startup::start`]
//! and [`serve`]. A library so that every pure part (command builders,
//! policy, undo ledger) is unit-tested on every platform.

pub mod cleanup;
pub mod console_relay;
pub mod core_dumps;
pub mod exec;
pub mod forwarding;
pub mod hooks;
pub mod instance_dirs;
pub mod last_resort;
pub mod ledger;
pub mod net_log;
pub mod netconf;
pub mod nonce_bounds;
pub mod nonce_file;
pub mod peer_name;
pub mod pid_file;
pub mod policy;
pub mod printable;
pub mod safe_path;
pub mod serve;
pub mod sockets;
pub mod spawn;
pub mod startup;
pub mod tun;
