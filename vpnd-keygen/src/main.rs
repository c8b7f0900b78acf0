//! vpnd-keygen: writes a fresh key pair as `vpnd.conf` lines.
//!
//! `vpnd-keygen NAME` creates `NAME.keypair` (mode 0600, never over an
//! existing file); without NAME it prints the same lines.

mod keypair_file;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use vpnd_crypto::KeyPair;

use keypair_file::{KeygenError, keypair_text, write_new};

/// sysexits.h: the command was used incorrectly.
const EX_USAGE: u8 = 64;
/// sysexits.h: an output file cannot be created.
const EX_CANTCREAT: u8 = 73;
/// sysexits.h: an error while writing.
const EX_IOERR: u8 = 74;

/// Generate a vpnd key pair.
///
/// The `local_sk` line goes into this side's vpnd.conf, the `remote_pk`
/// line into the peer's.
#[derive(Parser, Debug)]
#[command(name = "vpnd-keygen", version)]
struct Args {
    /// Write NAME.keypair (mode 0600, never over an existing file) instead
    /// of printing the key pair.
    name: Option<PathBuf>,
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
                _ => ExitCode::from(EX_USAGE),
            };
        }
    };
    let text = keypair_text(&KeyPair::generate());
    let result = match &args.name {
        None => {
            // Flushed here, not at exit, where a failure would go unseen.
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())
                .and_then(|()| out.flush())
                .map_err(KeygenError::Stdout)
        }
        Some(name) => write_new(name, &text).map(|path| {
            eprintln!("vpnd-keygen: wrote {}", path.display());
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vpnd-keygen: {e}");
            ExitCode::from(match e {
                KeygenError::EmptyName => EX_USAGE,
                KeygenError::Create { .. } => EX_CANTCREAT,
                KeygenError::Write { .. } | KeygenError::Stdout(_) => EX_IOERR,
            })
        }
    }
}
