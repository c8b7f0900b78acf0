//! `vpnd -s`: asks a running vpnd for its status over the stats socket and
//! returns the block the network process answers with (see
//! `vpnd_net::stats_server`).

use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::net::{AddressFamily, SocketAddrUnix, SocketType, sockopt};

use vpnd_net::stats_server::{MAX_PENDING, REQUEST_WAIT, STATUS_REQUEST};
use vpnd_priv::printable::printable;

/// How long the daemon may take to answer, all tries and every byte of the
/// answer together: the network process, which answers, must not be able
/// to keep root's command waiting by sending slowly.
const ANSWER_WAIT: Duration = Duration::from_secs(5);

/// The largest status block we read.
const MAX_ANSWER: usize = 64 * 1024;

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
    /// No complete answer came within [`ANSWER_WAIT`].
    #[error("{path} did not answer within {}s", waited.as_secs_f32())]
    Timeout {
        /// `stats_path`.
        path: PathBuf,
        /// The time it had.
        waited: Duration,
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

/// The status block of the vpnd listening on `path`, within [`ANSWER_WAIT`].
pub fn query(path: &Path) -> Result<String, StatusError> {
    query_within(path, ANSWER_WAIT)
}

/// The status block of the vpnd listening on `path`, or an error once
/// `wait` has passed.
fn query_within(path: &Path, wait: Duration) -> Result<String, StatusError> {
    let deadline = Deadline {
        at: Instant::now() + wait,
        path,
        wait,
    };
    // More tries than the daemon has waiting slots: other clients'
    // connections expire after REQUEST_WAIT, so a slot comes free.
    let tries = MAX_PENDING + 1;
    for _ in 0..tries {
        let text = ask(path, &deadline)?;
        if text.starts_with("vpnd:") {
            return Ok(text);
        }
        std::thread::sleep(REQUEST_WAIT.min(deadline.left()?));
    }
    Err(StatusError::Busy {
        path: path.to_owned(),
        tries,
    })
}

/// When the whole exchange must be over.
struct Deadline<'p> {
    at: Instant,
    path: &'p Path,
    wait: Duration,
}

impl Deadline<'_> {
    /// The time left, never zero (a zero socket timeout means none); an
    /// error once it is over.
    fn left(&self) -> Result<Duration, StatusError> {
        self.at
            .checked_duration_since(Instant::now())
            .filter(|left| !left.is_zero())
            .ok_or_else(|| self.over())
    }

    fn over(&self) -> StatusError {
        StatusError::Timeout {
            path: self.path.to_owned(),
            waited: self.wait,
        }
    }
}

/// One connection: the request, then the answer until the daemon closes,
/// [`MAX_ANSWER`] bytes at most.
fn ask(path: &Path, deadline: &Deadline) -> Result<String, StatusError> {
    let mut stream = connect(path, deadline)?;
    let read_error = |source| StatusError::Read {
        path: path.to_owned(),
        source,
    };
    let mut request = STATUS_REQUEST.to_vec();
    request.push(b'\n');
    // A daemon with every waiting slot taken answers with the Graphite
    // lines at once and closes: our write then fails, the read below gets
    // those lines, and the caller tries again.
    let _ = stream.write_all(&request);
    // Our side is done: the daemon sees the request complete.
    let _ = stream.shutdown(Shutdown::Write);
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    while answer.len() < MAX_ANSWER {
        // The socket's timeout is what is left of the one deadline, not a
        // fresh wait per read.
        stream
            .set_read_timeout(Some(deadline.left()?))
            .map_err(read_error)?;
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(chunk.get(..n).unwrap_or_default()),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Err(deadline.over());
            }
            Err(e) => return Err(read_error(e)),
        }
    }
    answer.truncate(MAX_ANSWER);
    // It comes from the unprivileged network process.
    Ok(printable(&answer))
}

/// Connects within the deadline: on Linux a connect to a listener whose
/// backlog is full waits (for as long as the send timeout), and the
/// network process decides whether it accepts.
fn connect(path: &Path, deadline: &Deadline) -> Result<UnixStream, StatusError> {
    let connect_error = |e: rustix::io::Errno| StatusError::Connect {
        path: path.to_owned(),
        source: e.into(),
    };
    let socket = rustix::net::socket_with(
        AddressFamily::UNIX,
        SocketType::STREAM,
        rustix::net::SocketFlags::CLOEXEC,
        None,
    )
    .map_err(connect_error)?;
    sockopt::set_socket_timeout(&socket, sockopt::Timeout::Send, Some(deadline.left()?))
        .map_err(connect_error)?;
    let address = SocketAddrUnix::new(path).map_err(connect_error)?;
    match rustix::net::connect(&socket, &address) {
        Ok(()) => Ok(UnixStream::from(socket)),
        Err(rustix::io::Errno::AGAIN | rustix::io::Errno::TIMEDOUT) => Err(deadline.over()),
        Err(e) => Err(connect_error(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;

    /// A stats server that answers one byte at a time, `every` apart, for
    /// far longer than the deadline.
    fn dribbling_server(path: &Path, every: Duration) -> std::thread::JoinHandle<()> {
        let listener = UnixListener::bind(path).unwrap();
        std::thread::spawn(move || {
            let Ok((mut stream, _)) = listener.accept() else {
                return;
            };
            for byte in b"vpnd: a status that never ends, one byte at a time\n" {
                if stream.write_all(&[*byte]).is_err() {
                    return;
                }
                std::thread::sleep(every);
            }
        })
    }

    #[test]
    fn an_answer_sent_slowly_is_given_up_at_one_deadline_for_the_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stats.sock");
        // Each byte comes well within the wait, the whole answer far
        // beyond it.
        let server = dribbling_server(&path, Duration::from_millis(400));
        let wait = Duration::from_secs(2);
        let started = Instant::now();
        let result = query_within(&path, wait);
        let took = started.elapsed();
        assert!(
            matches!(result, Err(StatusError::Timeout { .. })),
            "{result:?}"
        );
        assert!(took < wait + Duration::from_secs(1), "took {took:?}");
        server.join().unwrap();
    }

    #[test]
    fn a_listener_that_never_accepts_is_given_up_at_the_deadline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stats.sock");
        let _listener = UnixListener::bind(&path).unwrap();
        let wait = Duration::from_secs(1);
        let started = Instant::now();
        let result = query_within(&path, wait);
        assert!(
            matches!(result, Err(StatusError::Timeout { .. })),
            "{result:?}"
        );
        assert!(started.elapsed() < wait + Duration::from_secs(1));
    }
}
