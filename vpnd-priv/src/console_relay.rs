//! The console of a vpnd in the foreground, relayed: the parent reads its
//! own standard input (root's terminal, as a rule) in a thread of its own
//! and passes the bytes on through a pipe, which is all the network
//! process gets (console.rs reads it). Handed the terminal itself, the
//! network process could read what is typed after vpnd ends, make the
//! shell's terminal non-blocking (the flag belongs to the open file, which
//! it would share with the shell), change its modes, or, where no
//! system-call filter stops the ioctl, push characters into the shell's
//! input (TIOCSTI). And the parent, in the terminal's foreground process
//! group, may read it; the network process, in a group of its own, would
//! be stopped by SIGTTIN.

use std::os::fd::{AsFd, OwnedFd};

use rustix::event::{PollFd, PollFlags};
use rustix::io::Errno;

/// Starts relaying standard input; returns the pipe's reading end for the
/// network process, or `None` if standard input is a file (no console, as
/// vpnd(8) says). The end of standard input closes the pipe, and the
/// relay ends when the network process is gone.
pub fn start() -> std::io::Result<Option<OwnedFd>> {
    let input = std::io::stdin().as_fd().try_clone_to_owned()?;
    let kind = rustix::fs::FileType::from_raw_mode(rustix::fs::fstat(&input)?.st_mode);
    if kind == rustix::fs::FileType::RegularFile {
        return Ok(None);
    }
    let (theirs, ours) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
    std::thread::Builder::new()
        .name("console".to_owned())
        .spawn(move || relay(&input, &ours))?;
    Ok(Some(theirs))
}

/// Copies `input` to `output` until either ends. `input` stays blocking
/// (its flags are the shell's too) and is read only once poll(2) says it
/// has something: a vpnd in the background of a shell is not stopped for
/// reading the terminal before anything was typed.
fn relay(input: &OwnedFd, output: &OwnedFd) {
    let mut buf = [0u8; 4096];
    loop {
        let mut fds = [PollFd::new(input, PollFlags::IN)];
        match rustix::event::poll(&mut fds, None) {
            Ok(_) | Err(Errno::INTR) => {}
            Err(_) => return,
        }
        let n = match rustix::io::read(input, &mut buf) {
            Ok(0) => return,
            Ok(n) => n,
            Err(Errno::INTR) | Err(Errno::AGAIN) => continue,
            Err(_) => return,
        };
        let mut rest = &buf[..n];
        while !rest.is_empty() {
            match rustix::io::write(output, rest) {
                Ok(w) => rest = &rest[w..],
                Err(Errno::INTR) => {}
                // The network process is gone.
                Err(_) => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_comes_in_goes_out_and_the_end_closes_the_pipe() {
        let (input, typed) = rustix::pipe::pipe().unwrap();
        let (theirs, ours) = rustix::pipe::pipe().unwrap();
        let t = std::thread::spawn(move || relay(&input, &ours));
        rustix::io::write(&typed, b"stats\nhello\n").unwrap();
        drop(typed);
        t.join().unwrap();
        let mut buf = [0u8; 64];
        let n = rustix::io::read(&theirs, &mut buf).unwrap();
        assert_eq!(&buf[..n], b"stats\nhello\n");
        assert_eq!(rustix::io::read(&theirs, &mut buf).unwrap(), 0);
    }
}
