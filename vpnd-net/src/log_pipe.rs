//! The network process's log lines on their way to the parent, both ends
//! of the format: the network process writes each line into its standard
//! error, a pipe the parent reads and relays into its own log, so that it
//! holds neither root's terminal nor a syslog socket. A line is its
//! syslog severity in angle brackets, as sd-daemon(3) has it, then the
//! text: `<4>peer moved`. The writer never blocks: a parent that does not
//! read in time costs lines, counted, never the packet path.

use std::os::fd::AsFd;
use std::sync::atomic::{AtomicU64, Ordering};

use log::Level;
use rustix::io::Errno;

/// The longest line, severity and newline included; a longer one is cut
/// and ends in [`CUT_MARK`]. The parent holds lines to the same length.
pub const MAX_LINE: usize = 4096;

/// What ends a line that was cut.
pub const CUT_MARK: &str = " [cut]";

/// Lines dropped since the start because the pipe was full or gone.
static LINES_DROPPED: AtomicU64 = AtomicU64::new(0);

/// Lines the network process dropped because the pipe to the parent was
/// full (the statistics' `log_lines_dropped`).
pub fn lines_dropped() -> u64 {
    LINES_DROPPED.load(Ordering::Relaxed)
}

/// The syslog severity of a level (the `log` crate's levels are shifted by
/// one: `info!` is NOTICE, see logging.rs).
pub(crate) fn severity(level: Level) -> u8 {
    match level {
        Level::Error => 3,
        Level::Warn => 4,
        Level::Info => 5,
        Level::Debug => 6,
        Level::Trace => 7,
    }
}

/// The level and the text of a line read from the pipe (without its
/// newline). A line without a severity in front (a panic message, or
/// anything else written to the descriptor) is NOTICE; EMERG to ERR are
/// all errors.
pub fn parse(line: &[u8]) -> (Level, &[u8]) {
    match line {
        [b'<', digit @ b'0'..=b'7', b'>', text @ ..] => {
            let level = match digit - b'0' {
                0..=3 => Level::Error,
                4 => Level::Warn,
                5 => Level::Info,
                6 => Level::Debug,
                _ => Level::Trace,
            };
            (level, text)
        }
        _ => (Level::Info, line),
    }
}

/// The pipe's writing end as the network process's logger holds it: the
/// part of a line the pipe did not take, and the lines dropped since the
/// last note about them.
#[derive(Debug, Default)]
pub struct PipeWriter {
    /// Bytes of a line written only in part (a pipe takes at most
    /// PIPE_BUF bytes whole, 512 on the BSDs): sent before anything else,
    /// so that lines never run into each other.
    rest: Vec<u8>,
    /// Dropped since the last note saying so.
    unreported: u64,
}

impl PipeWriter {
    /// Writes `text` at `level` to `pipe` (non-blocking), one line for each
    /// of its lines, or drops and counts them if the pipe is full. After
    /// drops, a warning saying how many goes in the same write as the next
    /// line the pipe takes.
    pub fn send(&mut self, pipe: impl AsFd, level: Level, text: &str) {
        let pipe = pipe.as_fd();
        for piece in text.split('\n') {
            let mut bytes = Vec::new();
            if self.unreported > 0 {
                bytes = format!(
                    "<4>{} log lines dropped: the parent did not read them in time\n",
                    self.unreported
                )
                .into_bytes();
            }
            bytes.extend_from_slice(&line(level, piece));
            if self.flush(pipe) && self.put(pipe, &bytes) {
                self.unreported = 0;
            } else {
                self.unreported += 1;
                LINES_DROPPED.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Sends what is left of a line written in part; true once nothing
    /// is left.
    fn flush(&mut self, pipe: std::os::fd::BorrowedFd<'_>) -> bool {
        while !self.rest.is_empty() {
            match write(pipe, &self.rest) {
                Some(n) => {
                    self.rest.drain(..n);
                }
                None => return false,
            }
        }
        true
    }

    /// Writes `bytes` (nothing left over before): true if the pipe took
    /// them, or the first part of them, the rest kept for [`Self::flush`].
    fn put(&mut self, pipe: std::os::fd::BorrowedFd<'_>, bytes: &[u8]) -> bool {
        match write(pipe, bytes) {
            Some(n) => {
                self.rest.extend_from_slice(&bytes[n..]);
                true
            }
            None => false,
        }
    }
}

/// One write(2): how many bytes the pipe took, `None` if none (full, or
/// the parent gone).
fn write(pipe: std::os::fd::BorrowedFd<'_>, bytes: &[u8]) -> Option<usize> {
    loop {
        match rustix::io::write(pipe, bytes) {
            Ok(0) => return None,
            Ok(n) => return Some(n),
            Err(Errno::INTR) => {}
            Err(_) => return None,
        }
    }
}

/// `<severity>text\n`, cut to [`MAX_LINE`] bytes at a character boundary.
fn line(level: Level, text: &str) -> Vec<u8> {
    let mut out = format!("<{}>", severity(level)).into_bytes();
    let room = MAX_LINE - out.len() - 1;
    if text.len() > room {
        let mut end = room - CUT_MARK.len();
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        out.extend_from_slice(&text.as_bytes()[..end]);
        out.extend_from_slice(CUT_MARK.as_bytes());
    } else {
        out.extend_from_slice(text.as_bytes());
    }
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pipe() -> (std::os::fd::OwnedFd, std::os::fd::OwnedFd) {
        rustix::pipe::pipe_with(rustix::pipe::PipeFlags::NONBLOCK).unwrap()
    }

    fn read_all(fd: &std::os::fd::OwnedFd) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = [0u8; 65536];
        while let Ok(n @ 1..) = rustix::io::read(fd, &mut buf) {
            out.extend_from_slice(&buf[..n]);
        }
        out
    }

    #[test]
    fn lines_carry_their_severity_and_parse_back() {
        for level in [
            Level::Error,
            Level::Warn,
            Level::Info,
            Level::Debug,
            Level::Trace,
        ] {
            let l = line(level, "peer moved");
            assert_eq!(parse(&l[..l.len() - 1]), (level, &b"peer moved"[..]));
        }
        assert_eq!(parse(b"<0>x"), (Level::Error, &b"x"[..]));
        assert_eq!(parse(b"<8>x"), (Level::Info, &b"<8>x"[..]));
        assert_eq!(
            parse(b"thread 'main' panicked"),
            (Level::Info, &b"thread 'main' panicked"[..])
        );
    }

    #[test]
    fn a_long_line_is_cut_at_a_character_boundary_and_marked() {
        let l = line(Level::Info, &"ü".repeat(3000));
        assert!(l.len() <= MAX_LINE, "{}", l.len());
        let text = std::str::from_utf8(&l).unwrap();
        assert!(text.ends_with(" [cut]\n"), "{text}");
        assert_eq!(line(Level::Info, "short"), b"<5>short\n");
    }

    #[test]
    fn a_message_of_several_lines_sends_each_with_its_severity() {
        let (r, w) = pipe();
        PipeWriter::default().send(&w, Level::Warn, "one\ntwo");
        assert_eq!(read_all(&r), b"<4>one\n<4>two\n");
    }

    #[test]
    fn a_full_pipe_drops_and_counts_lines_without_blocking_then_says_so() {
        let (r, w) = pipe();
        let mut writer = PipeWriter::default();
        let before = lines_dropped();
        let text = "x".repeat(1000);
        // A 64 KiB pipe takes some 65 lines; the rest are dropped, and no
        // write blocks (the test would hang).
        for _ in 0..200 {
            writer.send(&w, Level::Info, &text);
        }
        assert!(writer.unreported > 100, "{}", writer.unreported);
        assert!(lines_dropped() - before >= writer.unreported);
        let first = read_all(&r);
        assert!(
            first
                .split(|&b| b == b'\n')
                .all(|l| l.is_empty() || l.len() == 1003)
        );
        writer.send(&w, Level::Info, "after");
        let after = String::from_utf8(read_all(&r)).unwrap();
        assert!(
            after.starts_with("<4>") && after.contains("log lines dropped"),
            "{after}"
        );
        assert!(after.ends_with("<5>after\n"), "{after}");
        assert_eq!(writer.unreported, 0);
    }

    #[test]
    fn the_rest_of_a_line_taken_in_part_goes_before_the_next() {
        let (r, w) = pipe();
        let mut writer = PipeWriter {
            rest: b"tail of a line\n".to_vec(),
            unreported: 0,
        };
        writer.send(&w, Level::Info, "next");
        assert_eq!(read_all(&r), b"tail of a line\n<5>next\n");
    }
}
