//! The UDP socket's data path, both ways: datagrams to send leave in
//! batches ([`send_batch`]), a receive hands over the datagrams the kernel
//! joined ([`recv`]). The system calls that differ by platform (sendmmsg,
//! UDP_SEGMENT and UDP_GRO on Linux; one sendto or recvfrom each
//! elsewhere) sit in one module per platform below these two.

pub mod recv;
pub mod send_batch;

#[cfg_attr(target_os = "linux", path = "linux.rs")]
#[cfg_attr(not(target_os = "linux"), path = "portable.rs")]
mod os;
