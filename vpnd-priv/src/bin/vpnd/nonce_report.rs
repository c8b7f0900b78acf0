//! What `vpnd -n` says about the nonce files: each one's value (as the
//! peer's `vpnd -n` prints its own, to compare or to reset from) or why
//! vpnd would not start from it or could not write it, with the same
//! checks as the start.

use std::io::ErrorKind;

use vpnd_crypto::Nonce;
use vpnd_priv::nonce_bounds;
use vpnd_priv::nonce_file::{self, NonceFileError};
use vpnd_proto::config::Config;

/// One line per nonce file that the start would take, and for each other
/// one its parameter and the error that would stop the start.
pub fn report(config: &Config) -> (String, Vec<(&'static str, NonceFileError)>) {
    let now = vpnd_net::clock::unix_time();
    let mut out = String::new();
    let mut errors = Vec::new();
    for (name, path, what, absent) in [
        (
            "local_nonce_file",
            &config.local_nonce_file,
            "above every nonce sent",
            "the send counter starts from the clock",
        ),
        (
            "remote_nonce_file",
            &config.remote_nonce_file,
            "the highest received",
            "every nonce of the peer is new",
        ),
    ] {
        let value = match nonce_file::read(path) {
            Ok(Some(n)) if name == "remote_nonce_file" && nonce_bounds::beyond_clock(&n, now) => {
                format!(
                    "{} (ahead of the clock: {})",
                    Nonce::from_bytes(n).to_hex(),
                    nonce_bounds::BEYOND_CLOCK
                )
            }
            Ok(Some(n)) => format!("{} ({what})", Nonce::from_bytes(n).to_hex()),
            Ok(None) => format!("absent ({absent})"),
            Err(NonceFileError::Read { source, .. })
                if source.kind() == ErrorKind::PermissionDenied =>
            {
                unreadable()
            }
            Err(e) => {
                errors.push((name, e));
                continue;
            }
        };
        if let Err(e) = nonce_file::check_place_writable(path) {
            errors.push((name, e));
            continue;
        }
        out.push_str(&format!("{name} {}: {value}\n", path.display()));
    }
    (out, errors)
}

/// Without root the files are usually closed to `vpnd -n`.
fn unreadable() -> String {
    format!(
        "not readable by uid {} (run vpnd -n as root to see it)",
        rustix::process::geteuid().as_raw()
    )
}
