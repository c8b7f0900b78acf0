//! `vpnd -s`: asks a running vpnd for its status over the stats socket and
//! returns the block (or with `-j` the JSON object) the network process
//! answers with (see `vpnd_net::stats_server`), checked as the untrusted
//! text it is.

use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::net::{AddressFamily, SocketAddrUnix, SocketType, sockopt};

use vpnd_net::stats_server::{MAX_PENDING, REQUEST_WAIT, STATUS_JSON_REQUEST, STATUS_REQUEST};
use vpnd_priv::printable::printable;

/// How long the daemon may take to answer, all tries and every byte of the
/// answer together: the network process, which answers, must not be able
/// to keep root's command waiting by sending slowly.
const ANSWER_WAIT: Duration = Duration::from_secs(5);

/// The largest status block we read.
const MAX_ANSWER: usize = 64 * 1024;

/// Which status is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The `name: value` block.
    Text,
    /// One JSON object (`-j`).
    Json,
}

impl Format {
    fn request(self) -> &'static [u8] {
        match self {
            Format::Text => STATUS_REQUEST,
            Format::Json => STATUS_JSON_REQUEST,
        }
    }

    /// True if `answer` is the status rather than Graphite lines, which a
    /// daemon with every waiting slot taken sends instead.
    fn is_status(self, answer: &[u8]) -> bool {
        match self {
            Format::Text => answer.starts_with(b"vpnd:"),
            Format::Json => answer.starts_with(b"{"),
        }
    }
}

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
    /// The answer to `status json` is not a JSON object of printable
    /// ASCII.
    #[error("{path} answered with no valid status JSON: {reason}")]
    NotJson {
        /// `stats_path`.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

/// The status of the vpnd listening on `path`, within [`ANSWER_WAIT`].
pub fn query(path: &Path, format: Format) -> Result<String, StatusError> {
    query_within(path, format, ANSWER_WAIT)
}

/// The status of the vpnd listening on `path`, or an error once `wait`
/// has passed.
fn query_within(path: &Path, format: Format, wait: Duration) -> Result<String, StatusError> {
    let deadline = Deadline {
        at: Instant::now() + wait,
        path,
        wait,
    };
    // More tries than the daemon has waiting slots: other clients'
    // connections expire after REQUEST_WAIT, so a slot comes free.
    let tries = MAX_PENDING + 1;
    for _ in 0..tries {
        let answer = ask(path, format.request(), &deadline)?;
        if format.is_status(&answer) {
            return match format {
                // It comes from the unprivileged network process.
                Format::Text => Ok(printable(&answer)),
                Format::Json => checked_json(&answer).map_err(|reason| StatusError::NotJson {
                    path: path.to_owned(),
                    reason,
                }),
            };
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
fn ask(path: &Path, request: &[u8], deadline: &Deadline) -> Result<Vec<u8>, StatusError> {
    let mut stream = connect(path, deadline)?;
    let read_error = |source| StatusError::Read {
        path: path.to_owned(),
        source,
    };
    let mut request = request.to_vec();
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
    Ok(answer)
}

/// The network process's JSON, printed as it came once it is known to be
/// one JSON object of printable ASCII on one line: no escape sequence or
/// Unicode format character reaches root's terminal, and what a script
/// parses is what was checked. (The network process writes only ASCII,
/// escaping what a string would hold beyond it.)
fn checked_json(answer: &[u8]) -> Result<String, String> {
    let text = answer.strip_suffix(b"\n").unwrap_or(answer);
    if let Some(at) = text.iter().position(|b| !(b' '..=b'~').contains(b)) {
        return Err(format!("byte {at} is not printable ASCII"));
    }
    let text = std::str::from_utf8(text).map_err(|e| e.to_string())?;
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(_)) => Ok(format!("{text}\n")),
        Ok(_) => Err("not a JSON object".to_owned()),
        Err(e) => Err(e.to_string()),
    }
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
        let result = query_within(&path, Format::Text, wait);
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
        let result = query_within(&path, Format::Text, wait);
        assert!(
            matches!(result, Err(StatusError::Timeout { .. })),
            "{result:?}"
        );
        assert!(started.elapsed() < wait + Duration::from_secs(1));
    }

    #[test]
    fn json_is_printed_as_it_came_only_when_it_is_an_object_of_printable_ascii() {
        let good = b"{\"vpnd\":\"0.1.0\",\"counters\":{\"keys\":18446744073709551615}}\n";
        assert_eq!(
            checked_json(good).unwrap().as_bytes(),
            good.as_slice(),
            "printed as it came"
        );
        for (bad, why) in [
            (
                b"{\"peer\":\"\x1b[2J\"}\n".as_slice(),
                "not printable ASCII",
            ),
            (
                "{\"peer\":\"\u{202e}\"}\n".as_bytes(),
                "not printable ASCII",
            ),
            (b"{\"vpnd\":".as_slice(), "EOF"),
            (b"[1,2]\n".as_slice(), "not a JSON object"),
            (b"{\"a\":1}\n{\"b\":2}\n".as_slice(), "not printable ASCII"),
            (b"{\"a\":1} {\"b\":2}".as_slice(), "trailing"),
        ] {
            let e = checked_json(bad).unwrap_err();
            assert!(e.contains(why), "{bad:?}: {e}");
        }
    }
}
