//! The privileged parent of vpnd: command line, configuration loading, the
//! network changes it makes on the network process's behalf and the policy
//! that decides which requests it grants.
//!
//! A library beside the `vpnd` binary so that every pure part (command
//! builders, policy, undo ledger) is unit-tested on every platform.

pub mod cli;
pub mod console;
pub mod daemonize;
pub mod exec;
pub mod ledger;
pub mod load;
pub mod netconf;
pub mod nonce_file;
pub mod pid_file;
pub mod policy;
pub mod serve;
pub mod service_notify;
pub mod sockets;
pub mod spawn;
pub mod startup;
pub mod status;
pub mod tun;
