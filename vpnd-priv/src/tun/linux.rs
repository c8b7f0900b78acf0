//! Linux's tun: the `/dev/net/tun` clone device, without the
//! packet-information header (DATA carries bare IP packets, doc/protocol.md),
//! with a virtio-net header and TSO/USO where the kernel offers them.
// The TUNSETIFF ioctl has no safe wrapper; this module is the one place
// that issues it.
#![allow(unsafe_code)]

use std::os::fd::OwnedFd;

use rustix::fs::{Mode, OFlags, open};
use rustix::ioctl::{Updater, ioctl, opcode};
use vpnd_proto::net::IfName;

use super::{TunError, TunOffloads};

/// The clone device every tun is made from.
const CLONE_DEVICE: &str = "/dev/net/tun";

const IFF_TUN: i16 = 0x0001;
const IFF_NO_PI: i16 = 0x1000;
const IFF_VNET_HDR: i16 = 0x4000;

/// `TUNSETOFFLOAD` bits: what vpnd accepts from the kernel.
const TUN_F_CSUM: usize = 0x01;
const TUN_F_TSO4: usize = 0x02;
const TUN_F_TSO6: usize = 0x04;
const TUN_F_TSO_ECN: usize = 0x08;
const TUN_F_USO4: usize = 0x20;
const TUN_F_USO6: usize = 0x40;
const IFNAMSIZ: usize = 16;

/// `struct ifreq` as TUNSETIFF reads it: the name, then the flags; the
/// union is 24 bytes on every Linux ABI, so the struct is 40.
#[repr(C)]
struct IfReq {
    name: [u8; IFNAMSIZ],
    flags: i16,
    _union_rest: [u8; 22],
}

/// `_IOW('T', 202, int)`: the kernel declares it with an int even though it
/// takes a `struct ifreq`.
const TUNSETIFF: rustix::ioctl::Opcode = opcode::write::<rustix::ffi::c_int>(b'T', 202);

/// `_IOW('T', 208, unsigned int)`, the flags passed by value.
const TUNSETOFFLOAD: rustix::ioctl::Opcode = opcode::write::<rustix::ffi::c_uint>(b'T', 208);

/// With `offload`, asks for a virtio-net header and for checksum, TSO and
/// USO offloads, taking what the kernel has; see [`super::open_tun`].
pub(super) fn open_tun(name: &IfName, offload: bool) -> Result<(OwnedFd, TunOffloads), TunError> {
    if offload && let Ok(fd) = create(name, IFF_TUN | IFF_NO_PI | IFF_VNET_HDR) {
        let tso = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN;
        let mut offloads = TunOffloads {
            vnet_hdr: true,
            ..TunOffloads::default()
        };
        if set_offload(&fd, tso | TUN_F_USO4 | TUN_F_USO6).is_ok() {
            (offloads.tso, offloads.uso) = (true, true);
        } else if set_offload(&fd, tso).is_ok() {
            offloads.tso = true;
        } else if set_offload(&fd, TUN_F_CSUM).is_err() {
            // A header but nothing offered: the plain tun is simpler.
            drop(fd);
            return Ok((create(name, IFF_TUN | IFF_NO_PI)?, TunOffloads::default()));
        }
        return Ok((fd, offloads));
    }
    Ok((create(name, IFF_TUN | IFF_NO_PI)?, TunOffloads::default()))
}

fn set_offload(fd: &OwnedFd, flags: usize) -> Result<(), rustix::io::Errno> {
    // SAFETY: TUNSETOFFLOAD takes an unsigned int by value; the flags are
    // bits the kernel defines (it refuses unknown ones with EINVAL).
    unsafe {
        ioctl(
            fd,
            rustix::ioctl::IntegerSetter::<TUNSETOFFLOAD>::new_usize(flags),
        )
    }
}

fn create(name: &IfName, flags: i16) -> Result<OwnedFd, TunError> {
    let fd = open(
        CLONE_DEVICE,
        OFlags::RDWR | OFlags::CLOEXEC | OFlags::NONBLOCK,
        Mode::empty(),
    )
    .map_err(|errno| TunError::Open {
        device: CLONE_DEVICE,
        errno,
    })?;
    let mut req = IfReq {
        name: [0; IFNAMSIZ],
        flags,
        _union_rest: [0; 22],
    };
    // IfName holds at most 15 bytes: the NUL always fits.
    let bytes = name.as_str().as_bytes();
    let n = bytes.len().min(IFNAMSIZ - 1);
    req.name[..n].copy_from_slice(&bytes[..n]);
    // SAFETY: TUNSETIFF reads and writes a `struct ifreq`, which `IfReq`
    // lays out (name at 0, flags at 16, 40 bytes in all); the pointer is
    // valid for the call.
    let result = unsafe { ioctl(&fd, Updater::<TUNSETIFF, IfReq>::new(&mut req)) };
    result.map_err(|errno| TunError::Create {
        name: name.clone(),
        errno,
    })?;
    Ok(fd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_has_the_kernels_layout() {
        assert_eq!(std::mem::size_of::<IfReq>(), 40);
        assert_eq!(std::mem::offset_of!(IfReq, flags), 16);
        assert_eq!(TUNSETIFF as u64, 0x4004_54ca);
        assert_eq!(TUNSETOFFLOAD as u64, 0x4004_54d0);
    }
}
