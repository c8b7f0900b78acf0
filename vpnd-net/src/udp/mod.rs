//! The UDP socket's data path, both ways: datagrams to send leave in
//! batches ([`send_batch`]), a receive hands over the datagrams the kernel
//! joined ([`recv`]). The system calls that differ by platform sit in one
//! module per platform below these two: sendmmsg, UDP_SEGMENT and UDP_GRO
//! on Linux (linux.rs); sendmmsg and recvmmsg on FreeBSD and NetBSD
//! (mmsg.rs, recv_batch.rs); one sendto or recvfrom each elsewhere
//! (portable.rs, DragonFly among them).

#[cfg(any(target_os = "linux", target_os = "freebsd", target_os = "netbsd"))]
mod partial;
#[cfg(any(target_os = "freebsd", target_os = "netbsd"))]
mod portable;
pub mod recv;
#[cfg(any(
    target_os = "freebsd",
    target_os = "netbsd",
    all(test, target_os = "linux")
))]
mod recv_batch;
pub mod send_batch;
pub mod sockets;

#[cfg_attr(target_os = "linux", path = "linux.rs")]
#[cfg_attr(any(target_os = "freebsd", target_os = "netbsd"), path = "mmsg.rs")]
#[cfg_attr(
    not(any(target_os = "linux", target_os = "freebsd", target_os = "netbsd")),
    path = "portable.rs"
)]
mod os;
