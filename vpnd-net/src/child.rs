//! The network process's life: take the IPC socket at its fixed
//! descriptor, receive the start message and the descriptors, enter the
//! sandbox, greet the parent, run the session until told to stop.

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;

use rustix::io::Errno;
use rustix::net::SocketType;
use vpnd_proto::ipc::{self, IPC_VERSION, IpcError, Offloads, Start, ToChild, ToParent, UdpSends};
use vpnd_proto::session::{Entropy, Session, SessionConfig};
use zeroize::Zeroize;

use crate::clock;
use crate::console::Console;
use crate::event_loop::{self, Exit, Io, LoopError};
use crate::os_entropy::OsEntropy;
use crate::report::Reporting;
use crate::sandbox::{Kept, Role, Sandbox, SandboxError};
use crate::transport::{Channel, FrameBuffer, TransportError};
use crate::udp::sockets::UdpSockets;

/// The descriptor the parent places the IPC socket at.
pub const IPC_FD: RawFd = 3;

/// Why the network process stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ChildError {
    /// Descriptor 3 is not the IPC socket.
    #[error(
        "descriptor {IPC_FD} is not the parent's IPC socket ({0}); vpnd starts this process itself"
    )]
    NoChannel(String),
    /// Receiving the start message failed.
    #[error("receiving the start message: {0}")]
    Receive(#[from] TransportError),
    /// The start message did not decode.
    #[error("the start message: {0}")]
    Decode(#[from] IpcError),
    /// The first message was not a start message, or came with the wrong
    /// descriptors.
    #[error("the start message: {0}")]
    BadStart(String),
    /// The keys give no shared key.
    #[error("the static key: {0}")]
    Key(#[from] vpnd_crypto::KeyError),
    /// A descriptor could not be made non-blocking.
    #[error("making the {what} descriptor non-blocking: {errno}")]
    NonBlocking {
        /// Which descriptor.
        what: &'static str,
        /// The error the system call returned.
        errno: Errno,
    },
    /// A sandbox step failed.
    #[error("sandbox: {0}")]
    Sandbox(#[from] SandboxError),
    /// The event loop failed.
    #[error("{0}")]
    Loop(#[from] LoopError),
}

/// Runs the network process; the logger is already installed by the
/// caller. Returns how the session loop ended. `probe`
/// is for the sandbox tests of debug builds (always `None` in release
/// builds, where it does nothing).
pub fn run(probe: Option<String>) -> Result<Exit, ChildError> {
    let ipc = take_channel()?;
    let (start, fds) = receive_start(&ipc)?;
    let mut random = [0u8; 16];
    OsEntropy.fill(&mut random);
    let session_config = SessionConfig::from_start(&start, random, crate::addr::INET6_FAMILY)?;
    let reporting = Reporting {
        stats_prefix: start.stats_prefix.as_str().to_owned(),
        max_key_age: start.config.max_key_age,
    };
    let offloads = start.offloads;
    let console = start.console;
    let udp_sends = start.udp_sends;
    if !crate::sandbox::NAMED_SENDS_ALLOWED && udp_sends != UdpSends::Connected {
        return Err(ChildError::BadStart(
            "sends that name their destination, which this system's sandbox refuses".into(),
        ));
    }
    let sandbox = Sandbox {
        root: start.config.chroot_dir.clone(),
        uid: start.uid,
        gid: start.gid,
    };
    // The secret key leaves memory with the start message (SecretKey
    // zeroizes itself); only the precomputed shared key stays.
    drop(start);
    let io = descriptors(fds, ipc, offloads, console, udp_sends)?;
    sandbox.enter(&kept(&io))?;
    #[cfg(debug_assertions)]
    if let Some(action) = probe {
        crate::sandbox_probe::attempt(&action);
    }
    #[cfg(not(debug_assertions))]
    let _ = probe;
    log::debug!(
        "sandbox entered: root {}, uid {}, gid {}",
        sandbox.root.display(),
        sandbox.uid,
        sandbox.gid
    );
    let hello = ipc::encode(&ToParent::Hello {
        version: IPC_VERSION,
    })?;
    io.ipc.send(&hello, &[])?;
    let mut session = Session::new(session_config, clock::now(), OsEntropy);
    let (exit, io_stats) = event_loop::run(&mut session, io, &reporting)?;
    log::debug!(
        "loop ended: {exit:?}; UDP send errors {}, tun write errors {}",
        io_stats.udp_send_errors,
        io_stats.tun_write_errors
    );
    Ok(exit)
}

/// Descriptor 3, checked to be a sequenced-packet socket.
fn take_channel() -> Result<Channel, ChildError> {
    match rustix::io::fcntl_getfd(unsafe_borrow_ipc_fd()) {
        Ok(_) => {}
        Err(e) => return Err(ChildError::NoChannel(e.to_string())),
    }
    // SAFETY: descriptor 3 is open (checked above) and, in a process vpnd
    // started, the IPC socket that command-fds placed there; nothing else
    // in this process owns or closes it.
    #[allow(unsafe_code)]
    let fd = unsafe { OwnedFd::from_raw_fd(IPC_FD) };
    match rustix::net::sockopt::socket_type(&fd) {
        Ok(SocketType::SEQPACKET) => Ok(Channel::from_fd(fd)),
        Ok(other) => Err(ChildError::NoChannel(format!("socket type {other:?}"))),
        Err(e) => Err(ChildError::NoChannel(e.to_string())),
    }
}

fn unsafe_borrow_ipc_fd() -> std::os::fd::BorrowedFd<'static> {
    // SAFETY: only used for fcntl(F_GETFD), which is harmless on any
    // descriptor number, open or not.
    #[allow(unsafe_code)]
    unsafe {
        std::os::fd::BorrowedFd::borrow_raw(IPC_FD)
    }
}

fn receive_start(ipc: &Channel) -> Result<(Box<Start>, Vec<OwnedFd>), ChildError> {
    let mut frame: Box<FrameBuffer> = Box::new([0; ipc::MAX_FRAME + 1]);
    let received = ipc.recv(&mut frame)?;
    let decoded = ipc::decode_to_child(&frame[..received.len]);
    // The frame held the secret key.
    frame.zeroize();
    match decoded? {
        ToChild::Start(start) if start.version == IPC_VERSION => Ok((start, received.fds)),
        ToChild::Start(start) => Err(ChildError::BadStart(format!(
            "IPC version {} (this is {IPC_VERSION})",
            start.version
        ))),
        _ => Err(ChildError::BadStart("another message came first".into())),
    }
}

/// The descriptors of the start message: tun, UDP, stats and, with
/// `console`, the console's.
fn descriptors(
    fds: Vec<OwnedFd>,
    ipc: Channel,
    offloads: Offloads,
    console: bool,
    udp_sends: UdpSends,
) -> Result<Io, ChildError> {
    let count = fds.len();
    let wrong = || {
        ChildError::BadStart(format!(
            "{count} descriptors (expected tun, UDP, stats{})",
            if console { " and the console" } else { "" }
        ))
    };
    if count != 3 + usize::from(console) {
        return Err(wrong());
    }
    let mut it = fds.into_iter();
    let (Some(tun), Some(udp), Some(stats)) = (it.next(), it.next(), it.next()) else {
        return Err(wrong());
    };
    let input = it.next();
    for (what, fd) in [("tun", &tun), ("UDP", &udp)] {
        set_nonblocking(what, fd)?;
    }
    set_nonblocking("stats", &stats)?;
    Ok(Io {
        tun,
        udp: UdpSockets::new(udp, udp_sends),
        ipc,
        stats: Some(UnixListener::from(stats)),
        offloads,
        // Left blocking: see console.rs.
        console: input.map(Console::new),
    })
}

/// Every descriptor the process keeps into the sandbox, with its role:
/// the session's and the standard ones (spawn.rs gives /dev/null for input
/// and output, and for errors the pipe the parent reads the log from).
fn kept(io: &Io) -> Vec<Kept> {
    let mut kept = vec![
        (Role::Tun, io.tun.as_raw_fd()),
        (Role::Udp, io.udp.listener().as_raw_fd()),
        (Role::Ipc, io.ipc.as_fd().as_raw_fd()),
        (Role::Unused, 0),
        (Role::Output, 1),
        (Role::Output, 2),
    ];
    kept.extend(
        io.stats
            .as_ref()
            .map(|s| (Role::StatsListener, s.as_raw_fd())),
    );
    kept.extend(
        io.console
            .as_ref()
            .map(|c| (Role::Console, c.input().as_raw_fd())),
    );
    kept
}

fn set_nonblocking(what: &'static str, fd: &OwnedFd) -> Result<(), ChildError> {
    crate::transport::set_nonblocking(fd).map_err(|errno| ChildError::NonBlocking { what, errno })
}
