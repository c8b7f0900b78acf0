//! The console of a vpnd in the foreground: lines typed on the parent's
//! standard input, which the parent copies into a pipe whose reading end
//! it hands over at start (vpnd-priv's console_relay.rs). `stats` logs the
//! state and counters; an empty line is ignored; any other line goes to
//! the peer as a debug string, as the deployed vpnd does. The network
//! process parses it, not root: what the terminal types is input like any
//! other. The descriptor is left blocking and read only when poll(2) says
//! a read will not block.

use std::os::fd::{AsFd, OwnedFd};

use vpnd_proto::ipc::MAX_DEBUG_STRING;

/// What a console line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `stats`.
    Stats,
    /// Any other line, cut to [`MAX_DEBUG_STRING`] bytes.
    Say(Vec<u8>),
}

/// The console's descriptor and the bytes read from it that do not yet
/// end a line.
#[derive(Debug)]
pub struct Console {
    input: OwnedFd,
    pending: Vec<u8>,
    closed: bool,
}

impl Console {
    /// The console on `input` (the pipe the parent relays its standard
    /// input into).
    pub fn new(input: OwnedFd) -> Console {
        Console {
            input,
            pending: Vec::new(),
            closed: false,
        }
    }

    /// The descriptor, to register with the poller.
    pub fn input(&self) -> &OwnedFd {
        &self.input
    }

    /// True once the input reached its end.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Reads what the input has without blocking and returns the
    /// complete lines' commands.
    pub fn read(&mut self) -> Vec<Command> {
        let mut buf = [0u8; 4096];
        while !self.closed && readable(&self.input) {
            match rustix::io::read(self.input.as_fd(), &mut buf) {
                Ok(0) => self.closed = true,
                Ok(n) => self.pending.extend_from_slice(&buf[..n]),
                Err(rustix::io::Errno::INTR) => {}
                Err(_) => self.closed = true,
            }
            // A line longer than the limit is cut, not buffered forever.
            if self.pending.len() > 4 * MAX_DEBUG_STRING && !self.pending.contains(&b'\n') {
                self.pending.push(b'\n');
            }
        }
        if self.closed && !self.pending.is_empty() && !self.pending.ends_with(b"\n") {
            self.pending.push(b'\n');
        }
        self.take_lines()
    }

    fn take_lines(&mut self) -> Vec<Command> {
        let Some(end) = self.pending.iter().rposition(|&b| b == b'\n') else {
            return Vec::new();
        };
        let rest = self.pending.split_off(end + 1);
        let complete = std::mem::replace(&mut self.pending, rest);
        complete
            .split(|&b| b == b'\n')
            .filter_map(parse_line)
            .collect()
    }
}

/// The command of one line (without its newline); `None` for an empty one.
pub fn parse_line(line: &[u8]) -> Option<Command> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    match line {
        b"" => None,
        b"stats" => Some(Command::Stats),
        text => Some(Command::Say(
            text[..text.len().min(MAX_DEBUG_STRING)].to_vec(),
        )),
    }
}

fn readable(fd: &impl AsFd) -> bool {
    let mut fds = [rustix::event::PollFd::new(fd, rustix::event::PollFlags::IN)];
    matches!(rustix::event::poll(&mut fds, Some(&rustix::event::Timespec::default())), Ok(n) if n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_become_commands() {
        assert_eq!(parse_line(b"stats"), Some(Command::Stats));
        assert_eq!(parse_line(b"stats\r"), Some(Command::Stats));
        assert_eq!(parse_line(b""), None);
        assert_eq!(
            parse_line(b"hi there"),
            Some(Command::Say(b"hi there".to_vec()))
        );
        let long = vec![b'x'; 5000];
        assert_eq!(
            parse_line(&long),
            Some(Command::Say(vec![b'x'; MAX_DEBUG_STRING]))
        );
    }

    #[test]
    fn only_complete_lines_are_taken() {
        let (r, _w) = rustix::pipe::pipe().unwrap();
        let mut c = Console::new(r);
        c.pending.extend_from_slice(b"stats\n\nhel");
        assert_eq!(c.take_lines(), vec![Command::Stats]);
        c.pending.extend_from_slice(b"lo\n");
        assert_eq!(c.take_lines(), vec![Command::Say(b"hello".to_vec())]);
        assert!(c.take_lines().is_empty());
    }

    #[test]
    fn lines_are_read_as_they_come_and_the_end_is_seen() {
        let (r, w) = rustix::pipe::pipe().unwrap();
        let mut c = Console::new(r);
        assert!(c.read().is_empty(), "nothing written: no read blocks");
        rustix::io::write(&w, b"stats\nhel").unwrap();
        assert_eq!(c.read(), vec![Command::Stats]);
        rustix::io::write(&w, b"lo").unwrap();
        drop(w);
        assert_eq!(c.read(), vec![Command::Say(b"hello".to_vec())]);
        assert!(c.is_closed());
    }
}
