//! The IPC transport between parent and network process: one
//! `SOCK_SEQPACKET` frame per message, descriptors by `SCM_RIGHTS`. The
//! parent reuses it; frames from the other side are bounded here, decoded
//! by `vpnd_proto::ipc`.

use std::io::{IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::net::{
    AddressFamily, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, ReturnFlags,
    SendAncillaryBuffer, SendAncillaryMessage, SendFlags, SocketFlags, SocketType, recvmsg,
    sendmsg, socketpair,
};
use vpnd_proto::ipc::MAX_FRAME;

/// The most descriptors one frame carries (the start message: tun, UDP,
/// stats listener).
pub const MAX_FDS: usize = 4;

/// Adds O_NONBLOCK to a descriptor's flags (the loops read until EAGAIN).
pub fn set_nonblocking(fd: impl AsFd) -> Result<(), rustix::io::Errno> {
    let flags = rustix::fs::fcntl_getfl(&fd)?;
    rustix::fs::fcntl_setfl(&fd, flags | rustix::fs::OFlags::NONBLOCK)
}

/// Why a frame could not be sent or received.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The other side closed its end.
    #[error("the other process closed the channel")]
    Closed,
    /// A frame larger than `MAX_FRAME` (its tail was cut by the kernel).
    #[error("a frame over {MAX_FRAME} bytes")]
    Oversized,
    /// More descriptors than [`MAX_FDS`] (the kernel closed the rest).
    #[error("more than {MAX_FDS} descriptors in one frame")]
    TooManyFds,
    /// A frame too large to send.
    #[error("a {0}-byte frame is over the {MAX_FRAME}-byte limit")]
    TooLarge(usize),
    /// The system call failed.
    #[error("{0}")]
    Io(#[from] rustix::io::Errno),
}

/// A frame received, and the descriptors that came with it.
#[derive(Debug)]
pub struct ReceivedFrame {
    /// Bytes of the frame at the start of the buffer.
    pub len: usize,
    /// Descriptors that came with it (close-on-exec).
    pub fds: Vec<OwnedFd>,
}

/// One end of the socketpair.
#[derive(Debug)]
pub struct Channel {
    fd: OwnedFd,
}

/// A receive buffer one byte larger than any valid frame, so an oversized
/// one is noticed rather than cut to size silently.
pub type FrameBuffer = [u8; MAX_FRAME + 1];

impl Channel {
    /// A connected pair, close-on-exec (the parent hands one end to the
    /// child at a fixed descriptor explicitly).
    pub fn pair() -> Result<(Channel, Channel), TransportError> {
        let (a, b) = socketpair(
            AddressFamily::UNIX,
            SocketType::SEQPACKET,
            SocketFlags::CLOEXEC,
            None,
        )?;
        Ok((Channel { fd: a }, Channel { fd: b }))
    }

    /// The end passed in `fd` (the child's inherited descriptor).
    pub fn from_fd(fd: OwnedFd) -> Channel {
        Channel { fd }
    }

    /// The socket itself (to hand one end to the child process).
    pub fn into_fd(self) -> OwnedFd {
        self.fd
    }

    /// Sends one frame, with `fds` if any.
    pub fn send(&self, frame: &[u8], fds: &[BorrowedFd<'_>]) -> Result<(), TransportError> {
        if frame.len() > MAX_FRAME {
            return Err(TransportError::TooLarge(frame.len()));
        }
        if fds.len() > MAX_FDS {
            return Err(TransportError::TooManyFds);
        }
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
        let mut control = SendAncillaryBuffer::new(&mut space);
        if !fds.is_empty() && !control.push(SendAncillaryMessage::ScmRights(fds)) {
            return Err(TransportError::TooManyFds);
        }
        sendmsg(
            &self.fd,
            &[IoSlice::new(frame)],
            &mut control,
            SendFlags::NOSIGNAL,
        )?;
        Ok(())
    }

    /// Receives one frame into `buf`. A frame over the limit, or with more
    /// descriptors than [`MAX_FDS`], is an error (and its descriptors are
    /// closed); end of file is [`TransportError::Closed`].
    pub fn recv(&self, buf: &mut FrameBuffer) -> Result<ReceivedFrame, TransportError> {
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let msg = recvmsg(
            &self.fd,
            &mut [IoSliceMut::new(buf)],
            &mut control,
            RecvFlags::CMSG_CLOEXEC,
        )?;
        let mut fds = Vec::new();
        for m in control.drain() {
            if let RecvAncillaryMessage::ScmRights(received) = m {
                fds.extend(received);
            }
        }
        if msg.flags.contains(ReturnFlags::CTRUNC) {
            return Err(TransportError::TooManyFds);
        }
        if msg.flags.contains(ReturnFlags::TRUNC) || msg.bytes > MAX_FRAME {
            return Err(TransportError::Oversized);
        }
        if msg.bytes == 0 && fds.is_empty() {
            return Err(TransportError::Closed);
        }
        Ok(ReceivedFrame {
            len: msg.bytes,
            fds,
        })
    }
}

impl AsFd for Channel {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn buffer() -> Box<FrameBuffer> {
        Box::new([0u8; MAX_FRAME + 1])
    }

    #[test]
    fn frames_keep_their_boundaries() {
        let (a, b) = Channel::pair().unwrap();
        a.send(b"one", &[]).unwrap();
        a.send(b"second frame", &[]).unwrap();
        let mut buf = buffer();
        let r = b.recv(&mut buf).unwrap();
        assert_eq!(&buf[..r.len], b"one");
        let r = b.recv(&mut buf).unwrap();
        assert_eq!(&buf[..r.len], b"second frame");
        assert!(r.fds.is_empty());
    }

    #[test]
    fn descriptors_travel_and_work() {
        let (a, b) = Channel::pair().unwrap();
        let (reader, writer) = std::io::pipe().unwrap();
        a.send(b"start", &[writer.as_fd()]).unwrap();
        drop(writer);
        let mut buf = buffer();
        let r = b.recv(&mut buf).unwrap();
        assert_eq!(r.fds.len(), 1);
        let mut w = std::fs::File::from(r.fds.into_iter().next().unwrap());
        w.write_all(b"through").unwrap();
        drop(w);
        let mut got = String::new();
        let mut reader = reader;
        reader.read_to_string(&mut got).unwrap();
        assert_eq!(got, "through");
    }

    #[test]
    fn oversized_frames_and_eof_are_errors() {
        let (a, b) = Channel::pair().unwrap();
        assert!(matches!(
            a.send(&vec![0; MAX_FRAME + 1], &[]),
            Err(TransportError::TooLarge(_))
        ));
        // Bypass our own check: the raw socket can carry a larger frame.
        let big = vec![0u8; MAX_FRAME + 100];
        rustix::net::send(&a, &big, SendFlags::empty()).unwrap();
        let mut buf = buffer();
        assert!(matches!(b.recv(&mut buf), Err(TransportError::Oversized)));
        a.send(b"after", &[]).unwrap();
        assert_eq!(b.recv(&mut buf).unwrap().len, 5);
        drop(a);
        assert!(matches!(b.recv(&mut buf), Err(TransportError::Closed)));
    }

    #[test]
    fn too_many_descriptors_are_refused() {
        let (a, _b) = Channel::pair().unwrap();
        let (r, _w) = std::io::pipe().unwrap();
        let fds = vec![r.as_fd(); MAX_FDS + 1];
        assert!(matches!(
            a.send(b"x", &fds),
            Err(TransportError::TooManyFds)
        ));
    }
}
