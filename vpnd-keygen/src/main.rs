//! vpnd-keygen: writes a fresh key pair as `vpnd.conf` lines, or the
//! public key of a secret key.
//!
//! `vpnd-keygen NAME` creates `NAME.keypair` (mode 0600, never over an
//! existing file); without NAME it prints the same lines. `vpnd-keygen -y`
//! reads a secret key on standard input and prints its `remote_pk` line.

mod keypair_file;
mod secret_input;

use std::ffi::OsString;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use clap::Parser;
use vpnd_crypto::KeyPair;
use vpnd_proto::os_error::without_os_error_codes;

use keypair_file::{KeygenError, keypair_text, write_new};
use secret_input::InputError;

/// sysexits.h: the command was used incorrectly.
const EX_USAGE: u8 = 64;
/// sysexits.h: the input data was incorrect.
const EX_DATAERR: u8 = 65;
/// sysexits.h: an output file cannot be created.
const EX_CANTCREAT: u8 = 73;
/// sysexits.h: an error while reading or writing.
const EX_IOERR: u8 = 74;

/// Generate a vpnd key pair.
///
/// The `local_sk` line goes into this side's vpnd.conf, the `remote_pk`
/// line into the peer's.
#[derive(Parser, Debug)]
#[command(name = "vpnd-keygen", version)]
struct Args {
    /// Read a secret key on standard input (a local_sk line, as in a
    /// vpnd.conf or a .keypair file, or the key's 64 hex digits alone) and
    /// print the remote_pk line of its public key.
    #[arg(short = 'y', conflicts_with = "name")]
    public: bool,

    /// Write NAME.keypair (mode 0600, never over an existing file) instead
    /// of printing the key pair.
    // An OsString, not a PathBuf: clap refuses an empty path as "no value
    // supplied", where the name was given and is empty.
    name: Option<OsString>,
}

/// Why vpnd-keygen failed: what it says, and its exit status.
struct Failure {
    message: String,
    code: u8,
}

impl From<KeygenError> for Failure {
    fn from(e: KeygenError) -> Failure {
        let code = match e {
            KeygenError::EmptyName => EX_USAGE,
            KeygenError::Create { .. } => EX_CANTCREAT,
            KeygenError::Write { .. } | KeygenError::Stdout(_) => EX_IOERR,
        };
        Failure {
            message: e.to_string(),
            code,
        }
    }
}

impl From<InputError> for Failure {
    fn from(e: InputError) -> Failure {
        let code = match e {
            InputError::Read(_) => EX_IOERR,
            _ => EX_DATAERR,
        };
        Failure {
            message: e.to_string(),
            code,
        }
    }
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
    let result = if args.public {
        print_public_key()
    } else {
        generate(args.name.as_deref().map(Path::new))
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            // The system's words, without Rust's "(os error N)".
            eprintln!("vpnd-keygen: {}", without_os_error_codes(&failure.message));
            ExitCode::from(failure.code)
        }
    }
}

/// A new pair, into `name`.keypair or onto standard output.
fn generate(name: Option<&Path>) -> Result<(), Failure> {
    let text = keypair_text(&KeyPair::generate());
    match name {
        None => print(&text)?,
        Some(name) => {
            let path = write_new(name, &text)?;
            eprintln!("vpnd-keygen: wrote {}", path.display());
        }
    }
    Ok(())
}

/// `-y`: the public key of the secret key on standard input, as the line
/// for the peer's vpnd.conf.
fn print_public_key() -> Result<(), Failure> {
    let secret = secret_input::read_secret(std::io::stdin().lock())?;
    print(&format!("remote_pk: {}\n", secret.public_key().to_hex()))?;
    Ok(())
}

/// Writes `text` on standard output, flushed here rather than at exit,
/// where a failure would go unseen.
fn print(text: &str) -> Result<(), KeygenError> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(KeygenError::Stdout)
}
