//! The stats socket's connections: each is answered once and closed.
//!
//! A client that writes `status` first (as `vpnd -s` does) gets the status
//! block, one that writes `status json` (`vpnd -s -j`) the status as JSON;
//! any other client gets the Graphite lines, as soon as it writes
//! something else or closes its side, and at the latest after
//! [`REQUEST_WAIT`]. Everything is non-blocking and bounded: at most
//! [`MAX_PENDING`] connections wait for their request (one more is answered
//! with the Graphite lines at once), one read of a few bytes each, one
//! write each of what fits in the socket buffer. A slow or hostile client
//! can delay nothing but its own answer.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::Duration;

use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};
use vpnd_proto::Timestamp;

/// How long a connection may take to send its request.
pub const REQUEST_WAIT: Duration = Duration::from_millis(100);

/// Connections waiting for their request at once.
pub const MAX_PENDING: usize = 8;

/// The request that asks for the status block instead of Graphite lines.
pub const STATUS_REQUEST: &[u8] = b"status";

/// The request that asks for the status as JSON.
pub const STATUS_JSON_REQUEST: &[u8] = b"status json";

/// Which answer a connection gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// The Graphite plaintext lines.
    Graphite,
    /// The status block of `vpnd -s`.
    Status,
    /// The status as JSON, of `vpnd -s -j`.
    StatusJson,
}

#[derive(Debug)]
struct Pending {
    stream: UnixStream,
    deadline: Timestamp,
}

/// The listener and the connections that have not sent their request yet.
#[derive(Debug)]
pub struct StatsServer {
    listener: UnixListener,
    pending: [Option<Pending>; MAX_PENDING],
    first_token: usize,
}

impl StatsServer {
    /// Serves `listener` (non-blocking); the pending connections take the
    /// tokens `first_token .. first_token + MAX_PENDING`.
    pub fn new(listener: UnixListener, first_token: usize) -> Self {
        StatsServer {
            listener,
            pending: Default::default(),
            first_token,
        }
    }

    /// The listener, for registering with the poller.
    pub fn listener(&self) -> &UnixListener {
        &self.listener
    }

    /// True if `token` is one of a pending connection's.
    pub fn owns(&self, token: Token) -> bool {
        (self.first_token..self.first_token + MAX_PENDING).contains(&token.0)
    }

    /// The earliest deadline of a pending connection.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        self.pending.iter().flatten().map(|p| p.deadline).min()
    }

    /// Takes every waiting connection: each either has its request already
    /// or waits in a free slot; with no free slot it is answered at once.
    pub fn accept(
        &mut self,
        registry: &Registry,
        now: Timestamp,
        mut answer: impl FnMut(Answer) -> String,
    ) {
        while let Ok((stream, _)) = self.listener.accept() {
            if stream.set_nonblocking(true).is_err() {
                continue;
            }
            if let Some(kind) = read_request(&stream) {
                reply(stream, &answer(kind));
                continue;
            }
            let Some(slot) = self.pending.iter().position(Option::is_none) else {
                reply(stream, &answer(Answer::Graphite));
                continue;
            };
            let token = Token(self.first_token + slot);
            if registry
                .register(
                    &mut SourceFd(&stream.as_raw_fd()),
                    token,
                    Interest::READABLE,
                )
                .is_err()
            {
                reply(stream, &answer(Answer::Graphite));
                continue;
            }
            self.pending[slot] = Some(Pending {
                stream,
                deadline: now + REQUEST_WAIT,
            });
        }
    }

    /// A pending connection became readable: answered if its request (or
    /// its end) is there.
    pub fn readable(
        &mut self,
        registry: &Registry,
        token: Token,
        answer: impl FnOnce(Answer) -> String,
    ) {
        let slot = token.0.wrapping_sub(self.first_token);
        let Some(Some(p)) = self.pending.get(slot) else {
            return;
        };
        if let Some(kind) = read_request(&p.stream) {
            self.finish(registry, slot, &answer(kind));
        }
    }

    /// Answers every connection whose wait is over with the Graphite
    /// lines (a Graphite reader sends nothing).
    pub fn expire(
        &mut self,
        registry: &Registry,
        now: Timestamp,
        mut answer: impl FnMut(Answer) -> String,
    ) {
        for slot in 0..MAX_PENDING {
            if self.pending[slot]
                .as_ref()
                .is_some_and(|p| p.deadline <= now)
            {
                self.finish(registry, slot, &answer(Answer::Graphite));
            }
        }
    }

    fn finish(&mut self, registry: &Registry, slot: usize, text: &str) {
        if let Some(p) = self.pending[slot].take() {
            let _ = registry.deregister(&mut SourceFd(&p.stream.as_raw_fd()));
            reply(p.stream, text);
        }
    }
}

/// What the client asked for, if it has said: `None` while it is silent.
fn read_request(mut stream: &UnixStream) -> Option<Answer> {
    let mut buf = [0u8; 16];
    match stream.read(&mut buf) {
        // The longer request first: it starts with the shorter.
        Ok(n) if buf[..n].starts_with(STATUS_JSON_REQUEST) => Some(Answer::StatusJson),
        Ok(n) if buf[..n].starts_with(STATUS_REQUEST) => Some(Answer::Status),
        // Anything else, or the end of its side: a Graphite reader.
        Ok(_) => Some(Answer::Graphite),
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => None,
        Err(_) => Some(Answer::Graphite),
    }
}

/// One write of what fits, then the connection closes.
fn reply(mut stream: UnixStream, text: &str) {
    let _ = stream.write(text.as_bytes());
}
