//! vpnd: the command line and the privileged parent.
//!
//! Exit codes follow sysexits(3) and are chosen here only.

use std::process::ExitCode;

use clap::Parser;

use vpnd_priv::cli::Args;
use vpnd_priv::load::{self, LoadError};

/// sysexits.h codes.
mod sysexits {
    pub const EX_USAGE: u8 = 64;
    pub const EX_NOINPUT: u8 = 66;
    pub const EX_UNAVAILABLE: u8 = 69;
    pub const EX_CONFIG: u8 = 78;
}

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    ExitCode::SUCCESS
                }
                _ => ExitCode::from(sysexits::EX_USAGE),
            };
        }
    };
    let loaded = match load::load(&args.config) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("vpnd: {e}");
            return ExitCode::from(match e {
                LoadError::Read { .. } => sysexits::EX_NOINPUT,
                LoadError::Invalid(_) => sysexits::EX_CONFIG,
            });
        }
    };
    for warning in &loaded.warnings {
        eprintln!("vpnd: warning: {warning}");
    }
    if args.check {
        if args.verbose > 0 {
            print!(
                "{}",
                loaded.config.to_text(vpnd_proto::config::Secrets::Redacted)
            );
        }
        println!("{}: configuration OK", args.config.display());
        return ExitCode::SUCCESS;
    }
    // The privilege-separated daemon is the next piece of work (issue #3);
    // until it lands, vpnd only checks configurations.
    eprintln!(
        "vpnd: running the tunnel is not available in this build; use -n to check a configuration"
    );
    ExitCode::from(sysexits::EX_UNAVAILABLE)
}
