//! `vpnd -s`: asks a running vpnd for its status over the stats socket and
//! returns the block the network process answers with (see
//! `vpnd_net::stats_server`).

use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use vpnd_net::stats_server::{MAX_PENDING, REQUEST_WAIT, STATUS_REQUEST};
use vpnd_priv::printable::printable;

/// How long the daemon may take to answer.
const ANSWER_WAIT: Duration = Duration::from_secs(5);

/// The largest status block we read.
const MAX_ANSWER: u64 = 64 * 1024;

/// Why there is no status.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    /// Nobody listens there: vpnd is not running with this configuration.
    #[error(
        "cannot connect to the stats socket {path}: {source} (is vpnd running with this configuration?)"
    )]
    Connect {
        /// `stats_path`.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The connection broke or timed out.
    #[error("reading the status from {path}: {source}")]
    Read {
        /// `stats_path`.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// Every try was answered with Graphite lines: the stats socket is busy
    /// with other clients.
    #[error(
        "{path} answered with Graphite lines, not the status, {tries} times: too many other clients waiting"
    )]
    Busy {
        /// `stats_path`.
        path: PathBuf,
        /// How many connections were tried.
        tries: usize,
    },
}

/// The status block of the vpnd listening on `path`.
pub fn query(path: &Path) -> Result<String, StatusError> {
    // More tries than the daemon has waiting slots: other clients'
    // connections expire after REQUEST_WAIT, so a slot comes free.
    let tries = MAX_PENDING + 1;
    for _ in 0..tries {
        let text = ask(path)?;
        if text.starts_with("vpnd:") {
            return Ok(text);
        }
        std::thread::sleep(REQUEST_WAIT);
    }
    Err(StatusError::Busy {
        path: path.to_owned(),
        tries,
    })
}

fn ask(path: &Path) -> Result<String, StatusError> {
    let mut stream = UnixStream::connect(path).map_err(|source| StatusError::Connect {
        path: path.to_owned(),
        source,
    })?;
    let read_error = |source| StatusError::Read {
        path: path.to_owned(),
        source,
    };
    stream
        .set_read_timeout(Some(ANSWER_WAIT))
        .map_err(read_error)?;
    let mut request = STATUS_REQUEST.to_vec();
    request.push(b'\n');
    // A daemon with every waiting slot taken answers with the Graphite
    // lines at once and closes: our write then fails, the read below gets
    // those lines, and the caller tries again.
    let _ = stream.write_all(&request);
    // Our side is done: the daemon sees the request complete.
    let _ = stream.shutdown(Shutdown::Write);
    let mut answer = Vec::new();
    stream
        .take(MAX_ANSWER)
        .read_to_end(&mut answer)
        .map_err(read_error)?;
    // It comes from the unprivileged network process.
    Ok(printable(&answer))
}
