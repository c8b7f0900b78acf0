//! The network process's log, relayed: its standard error is a pipe that
//! the parent reads (spawn.rs); each line is held to
//! [`MAX_LINE`](vpnd_net::log_pipe::MAX_LINE) bytes, made printable and
//! written into the parent's own log (syslog, or stderr with `-f`) as the
//! network process's. What it writes is untrusted text: it reaches root's
//! terminal and log only escaped, and always after the `net` tag, so it
//! cannot pass for a line of the parent's.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::io::Errno;
use vpnd_net::log_pipe::{self, CUT_MARK, MAX_LINE};

use crate::printable::printable;

/// Bytes read from the pipe at one go before the parent looks at its
/// other work again: a network process writing without pause must not
/// keep requests and signals waiting.
pub const BATCH: usize = 64 * 1024;

/// What one look at the pipe found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drained {
    /// The pipe is empty for now.
    Idle,
    /// The batch was read; more may be waiting.
    More,
    /// The network process's end is closed.
    Closed,
}

/// The parent's end of the pipe and the line being read.
#[derive(Debug)]
pub struct NetLog {
    pipe: OwnedFd,
    /// The network process's pid, for the lines on stderr.
    pid: u32,
    lines: Lines,
    closed: bool,
}

impl NetLog {
    /// The log of network process `pid` on `pipe` (non-blocking).
    pub fn new(pipe: OwnedFd, pid: u32) -> NetLog {
        NetLog {
            pipe,
            pid,
            lines: Lines::default(),
            closed: false,
        }
    }

    /// The descriptor, to poll.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.pipe.as_fd()
    }

    /// True once the network process's end is closed.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Reads what the pipe holds, up to `limit` bytes, and relays every
    /// complete line (at the end, the last one too).
    pub fn relay(&mut self, limit: usize) -> Drained {
        let mut buf = [0u8; 4096];
        let mut read = 0;
        while !self.closed {
            if read >= limit {
                return Drained::More;
            }
            match rustix::io::read(&self.pipe, &mut buf) {
                Ok(0) => self.closed = true,
                Ok(n) => {
                    read += n;
                    let pid = self.pid;
                    self.lines.push(&buf[..n], &mut |line| emit(pid, line));
                }
                Err(Errno::INTR) => {}
                Err(Errno::AGAIN) => return Drained::Idle,
                Err(_) => self.closed = true,
            }
        }
        let pid = self.pid;
        self.lines.end(&mut |line| emit(pid, line));
        Drained::Closed
    }
}

/// A line as read: its bytes and whether it was cut.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Line<'a> {
    bytes: &'a [u8],
    cut: bool,
}

/// Relays one line at the level it names.
fn emit(pid: u32, line: Line<'_>) {
    let (level, text) = log_pipe::parse(line.bytes);
    if text.is_empty() {
        return;
    }
    let mut text = printable(text);
    if line.cut {
        text.push_str(CUT_MARK);
    }
    vpnd_net::logging::relay("net", pid, level, &text);
}

/// Bytes from the pipe cut into lines of at most [`MAX_LINE`] bytes: a
/// longer line is relayed cut, and the rest of it up to its newline
/// dropped.
#[derive(Debug, Default)]
struct Lines {
    pending: Vec<u8>,
    /// Dropping the rest of a line that was cut.
    skipping: bool,
}

impl Lines {
    /// Takes `bytes` and hands `out` each line they complete.
    fn push(&mut self, mut bytes: &[u8], out: &mut dyn FnMut(Line<'_>)) {
        while !bytes.is_empty() {
            let (part, rest, ends) = match bytes.iter().position(|&b| b == b'\n') {
                Some(i) => (&bytes[..i], &bytes[i + 1..], true),
                None => (bytes, &[][..], false),
            };
            if self.skipping {
                self.skipping = !ends;
            } else {
                let room = MAX_LINE - self.pending.len();
                if part.len() > room {
                    self.pending.extend_from_slice(&part[..room]);
                    self.flush(true, out);
                    self.skipping = !ends;
                } else {
                    self.pending.extend_from_slice(part);
                    if ends {
                        self.flush(false, out);
                    }
                }
            }
            bytes = rest;
        }
    }

    /// The pipe closed: the last line, if it had no newline.
    fn end(&mut self, out: &mut dyn FnMut(Line<'_>)) {
        if !self.pending.is_empty() {
            self.flush(false, out);
        }
        self.skipping = false;
    }

    fn flush(&mut self, cut: bool, out: &mut dyn FnMut(Line<'_>)) {
        out(Line {
            bytes: &self.pending,
            cut,
        });
        self.pending.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(chunks: &[&[u8]], close: bool) -> Vec<(Vec<u8>, bool)> {
        let mut lines = Lines::default();
        let mut got = Vec::new();
        let mut out = |l: Line<'_>| got.push((l.bytes.to_vec(), l.cut));
        for c in chunks {
            lines.push(c, &mut out);
        }
        if close {
            lines.end(&mut out);
        }
        got
    }

    #[test]
    fn lines_are_taken_as_they_complete() {
        assert_eq!(
            collect(&[b"<5>one\n<4>tw", b"o\n\nthr"], false),
            [
                (b"<5>one".to_vec(), false),
                (b"<4>two".to_vec(), false),
                (Vec::new(), false)
            ]
        );
        assert_eq!(
            collect(&[b"<5>last words"], true),
            [(b"<5>last words".to_vec(), false)]
        );
    }

    #[test]
    fn a_line_over_the_limit_is_cut_and_its_rest_dropped() {
        let long = vec![b'x'; 3 * MAX_LINE];
        let got = collect(&[&long[..5000], &long[5000..], b"yyy\n<5>next\n"], false);
        assert_eq!(got.len(), 2, "{:?}", got.iter().map(|l| l.0.len()));
        assert_eq!(got[0], (vec![b'x'; MAX_LINE], true));
        assert_eq!(got[1], (b"<5>next".to_vec(), false));
        // Exactly the limit, newline after: whole.
        let mut exact = vec![b'z'; MAX_LINE];
        exact.push(b'\n');
        assert_eq!(collect(&[&exact], false), [(vec![b'z'; MAX_LINE], false)]);
    }

    #[test]
    fn the_pipe_is_read_until_it_would_block_or_closes() {
        let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::NONBLOCK).unwrap();
        let mut log = NetLog::new(r, 1);
        assert_eq!(log.relay(BATCH), Drained::Idle);
        rustix::io::write(&w, &[b'a'; 9000]).unwrap();
        assert_eq!(log.relay(4096), Drained::More);
        assert_eq!(log.relay(BATCH), Drained::Idle);
        drop(w);
        assert_eq!(log.relay(BATCH), Drained::Closed);
        assert_eq!(log.relay(BATCH), Drained::Closed);
    }
}
