//! The command line.

use std::path::PathBuf;

use clap::{ArgAction, Parser};

/// vpnd: a privilege-separated NaCl VPN daemon.
#[derive(Parser, Debug)]
#[command(name = "vpnd", version, about)]
pub struct Args {
    /// More log output: once for informational messages, twice for debug.
    #[arg(short, long, action = ArgAction::Count)]
    pub verbose: u8,

    /// Stay in the foreground and log to standard error.
    #[arg(short, long)]
    pub foreground: bool,

    /// The configuration file (the default is the platform's).
    #[arg(
        short,
        long = "config",
        value_name = "FILE",
        default_value = vpnd_proto::config::defaults::CONFIG_FILE
    )]
    pub config: PathBuf,

    /// Check the configuration and exit: 0 with "configuration OK", or
    /// every error as path:line: parameter: value: reason. With -v, print
    /// the configuration (secret key redacted).
    #[arg(short = 'n', long = "check")]
    pub check: bool,

    /// Print the status of the vpnd running with this configuration (role,
    /// state, peer, session and key age, traffic, drops by reason), asked
    /// over its stats socket, and exit. Only stats_path is read from the
    /// file: the secret key need not be valid.
    #[arg(short = 's', long = "status", conflicts_with = "check")]
    pub status: bool,

    /// With -s: print the status as one JSON object (the schema is in
    /// vpnd(8), STATISTICS), every counter a 64-bit integer.
    #[arg(short = 'j', long = "json")]
    pub json: bool,

    /// Internal: run as the network process vpnd starts (with the IPC
    /// socket at descriptor 3). Not for use by hand.
    #[arg(long = "net-process", hide = true)]
    pub net_process: bool,

    /// Internal, debug builds only: make the network process try a
    /// forbidden action right after entering its sandbox (the tests prove
    /// the sandbox holds). Release builds have no such option.
    #[cfg(debug_assertions)]
    #[arg(long = "sandbox-probe", hide = true, value_name = "ACTION")]
    pub sandbox_probe: Option<String>,
}
