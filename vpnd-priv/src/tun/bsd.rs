//! FreeBSD, DragonFly and NetBSD's tun: opened with a 4-byte address-family
//! header before each packet (`TUNSIFHEAD`, so IPv4 and IPv6 both pass),
//! and destroyed when vpnd is done with it (a BSD tun outlives its
//! descriptors). FreeBSD and DragonFly clone a new `tunN` from `/dev/tun`
//! and rename it to the configured name; NetBSD opens `/dev/tunN` itself.
//!
//! The facts relied on, from each system's tun(4) and sources:
//! - `/dev/tun` hands out the lowest unused tun device, whose name
//!   devname(3) tells (FreeBSD and DragonFly share/man/man4/tun.4); the
//!   clone is made only for root (FreeBSD sys/net/if_tuntap.c, tunclone:
//!   `priv_check_cred(cred, PRIV_NET_IFCREATE)`).
//! - FreeBSD: the interface persists after the last close, brought down,
//!   until `ifconfig tunN destroy` (tun.4; if_tuntap.c tundtor only downs
//!   it and purges its addresses). DragonFly's tun.4 says the same, but its
//!   driver destroys a tun cloned from `/dev/tun` at the last close
//!   (sys/net/tun/if_tun.c: tunclone() calls tuncreate() without
//!   TUN_MANUALMAKE, and tunclose() destroys such a unit), so there vpnd
//!   destroys nothing itself ([`destroy`]).
//! - A renamed tun keeps working: FreeBSD's if_tuntap.c (tunrename) gives
//!   the device an alias of the new name; SIOCIFDESTROY finds the cloner
//!   by the driver's name, not the interface's (FreeBSD sys/net/if.c,
//!   ifioctl, case SIOCIFDESTROY, calls sys/net/if_clone.c,
//!   if_clone_destroy, which looks the cloner up by `ifp->if_dname`).
//! - `TUNSIFHEAD` with a non-zero int: "every packet is preceded with a
//!   four byte address family" in network byte order, on read and on write
//!   (tun.4).
//! - `TUNSIFMODE` takes `IFF_POINTOPOINT` and needs the interface down
//!   (tun.4): it is set before the interface is brought up.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use nix::libc;
use rustix::fs::{Mode, OFlags, open};
use rustix::io::Errno;
use rustix::ioctl::{Opcode, Setter, ioctl, opcode};
use rustix::net::{AddressFamily, SocketType, socket};
use vpnd_proto::net::IfName;

use super::name::{self, IFNAMSIZ};
use super::{TunError, TunOffloads};

const _: () = assert!(IFNAMSIZ == libc::IFNAMSIZ);

/// The bytes of `struct ifreq`'s union after `ifr_data`: the union is 16
/// bytes on FreeBSD and DragonFly (LP64), and on NetBSD as large as its
/// `struct sockaddr_storage ifru_space` member (sys/net/if.h, struct
/// ifreq).
#[cfg(not(target_os = "netbsd"))]
const UNION_REST: usize = 16 - size_of::<*mut libc::c_char>();
#[cfg(target_os = "netbsd")]
const UNION_REST: usize = size_of::<libc::sockaddr_storage>() - size_of::<*mut libc::c_char>();

/// `struct ifreq` (sys/net/if.h): the name, then the union, of which vpnd
/// uses `ifr_data` (a pointer, first in the union's storage).
#[repr(C)]
struct IfReq {
    name: [u8; IFNAMSIZ],
    data: *mut libc::c_char,
    _rest: [u8; UNION_REST],
}

// The layout against the libc crate: FreeBSD's `ifreq` itself; on FreeBSD
// and DragonFly also libc's SIOCGIFADDR, `_IOWR('i', 33, struct ifreq)`,
// whose size bits are sizeof(struct ifreq); NetBSD's libc has neither, and
// its `struct ifreq` is IFNAMSIZ plus the sockaddr_storage in the union
// (NetBSD sys/net/if.h, struct ifreq: 144 bytes on LP64).
#[cfg(target_os = "freebsd")]
const _: () = {
    assert!(size_of::<IfReq>() == size_of::<libc::ifreq>());
    assert!(std::mem::offset_of!(IfReq, data) == std::mem::offset_of!(libc::ifreq, ifr_ifru));
};
#[cfg(not(target_os = "netbsd"))]
const _: () = assert!(((libc::SIOCGIFADDR >> 16) & 0x1fff) as usize == size_of::<IfReq>());
#[cfg(target_os = "netbsd")]
const _: () = assert!(size_of::<IfReq>() == IFNAMSIZ + size_of::<libc::sockaddr_storage>());

/// `_IOW('i', 121, struct ifreq)`: FreeBSD sys/sys/sockio.h:123,
/// DragonFly sys/sys/sockio.h:124, NetBSD sys/sys/sockio.h:124 (the copies
/// read; the `#define SIOCIFDESTROY` line).
const SIOCIFDESTROY: Opcode = opcode::write::<IfReq>(b'i', 121);
#[cfg(not(target_os = "netbsd"))]
const _: () = assert!(SIOCIFDESTROY as u64 == 0x8020_6979);
#[cfg(target_os = "netbsd")]
const _: () = {
    assert!(SIOCIFDESTROY as u64 == 0x8090_6979);
    // NetBSD's libc has the _IOW macro: the encodings agree.
    assert!(SIOCIFDESTROY as u64 == libc::_IOW::<IfReq>(b'i' as libc::c_ulong, 121) as u64);
};

/// `TUNSIFHEAD`, `_IOW('t', 96, int)`: FreeBSD sys/net/if_tun.h:45,
/// DragonFly sys/net/tun/if_tun.h:47; NetBSD's is `_IOW('t', 66, int)`,
/// sys/net/if_tun.h:59.
#[cfg(not(target_os = "netbsd"))]
const TUNSIFHEAD: Opcode = opcode::write::<libc::c_int>(b't', 96);
#[cfg(not(target_os = "netbsd"))]
const _: () = assert!(TUNSIFHEAD as u64 == 0x8004_7460);
#[cfg(target_os = "netbsd")]
const TUNSIFHEAD: Opcode = opcode::write::<libc::c_int>(b't', 66);
#[cfg(target_os = "netbsd")]
const _: () = {
    assert!(TUNSIFHEAD as u64 == 0x8004_7442);
    assert!(TUNSIFHEAD as u64 == libc::_IOW::<libc::c_int>(b't' as libc::c_ulong, 66) as u64);
};

/// Opens the tun `name` with the address-family header; vpnd asks for no
/// offload on the BSDs, whose tun has none to give: FreeBSD's
/// sys/net/if_tuntap.c (tuncreate) gives a tun only IFCAP_LINKSTATE (the
/// checksum and virtio-header offloads are the tap's, TAPSVNETHDR), and
/// NetBSD's sys/net/if_tun.c (tunattach0) and DragonFly's
/// sys/net/tun/if_tun.c (tuncreate) set no capabilities. See
/// [`super::open_tun`].
pub(super) fn open_tun(name: &IfName, _offload: bool) -> Result<(OwnedFd, TunOffloads), TunError> {
    let fd = unit::open(name)?;
    let offloads = TunOffloads {
        af_header: true,
        ..TunOffloads::default()
    };
    Ok((fd, offloads))
}

/// Destroys the interface `name` (`SIOCIFDESTROY` on a socket); one that
/// is already gone (ENXIO, no interface of that name) is not an error.
/// The ENXIO: if_clone_destroy, `if (ifp == NULL) return (ENXIO)` after
/// looking the name up (FreeBSD sys/net/if_clone.c; NetBSD sys/net/if.c).
pub(super) fn destroy(name: &IfName) -> Result<(), TunError> {
    // DragonFly: the last close destroyed it; and its SIOCIFDESTROY finds
    // the cloner by the name given (sys/net/if_clone.c, if_clone_destroy
    // through if_clone_lookup), which a renamed tun no longer starts with
    // (EINVAL).
    if cfg!(target_os = "dragonfly") {
        return Ok(());
    }
    match if_ioctl::<SIOCIFDESTROY>(IfReq::named(name)) {
        Ok(()) | Err(Errno::NXIO) => Ok(()),
        Err(errno) => Err(TunError::Destroy {
            name: name.clone(),
            errno,
        }),
    }
}

impl IfReq {
    /// A request for the interface `name`, its union zeroed.
    fn named(name: &IfName) -> IfReq {
        IfReq {
            name: name::ifr_name(name),
            data: std::ptr::null_mut(),
            _rest: [0; UNION_REST],
        }
    }
}

/// Issues the interface ioctl `OPCODE` (one that reads a `struct ifreq`)
/// on a datagram socket made for it.
fn if_ioctl<const OPCODE: Opcode>(req: IfReq) -> Result<(), Errno> {
    let sock = socket(AddressFamily::INET, SocketType::DGRAM, None)?;
    set_ifreq::<OPCODE>(sock.as_fd(), req)
}

#[allow(unsafe_code)]
fn set_ifreq<const OPCODE: Opcode>(fd: BorrowedFd<'_>, req: IfReq) -> Result<(), Errno> {
    // SAFETY: the opcodes passed here (SIOCIFDESTROY, SIOCSIFNAME) are
    // `_IOW` of a `struct ifreq`, which `IfReq` lays out (checked above
    // against libc); the kernel copies it in, and `ifr_data`, when set,
    // points to a NUL-terminated buffer the caller keeps alive. Setter
    // passes a pointer to its copy of `req`.
    unsafe { ioctl(fd, Setter::<OPCODE, IfReq>::new(req)) }
}

/// Sets the int-valued tun ioctl `OPCODE` (`TUNSIFHEAD`, `TUNSIFMODE`).
#[allow(unsafe_code)]
fn set_int<const OPCODE: Opcode>(fd: BorrowedFd<'_>, value: libc::c_int) -> Result<(), Errno> {
    // SAFETY: the opcodes passed here are `_IOW(.., int)`: the kernel copies
    // an int in from the pointer, which Setter passes to a local.
    unsafe { ioctl(fd, Setter::<OPCODE, libc::c_int>::new(value)) }
}

/// Opens the tun device `path` read-write, non-blocking and close-on-exec.
/// O_NONBLOCK at open is what makes reads return EWOULDBLOCK on FreeBSD:
/// sys/net/if_tuntap.c, tunread, tests `flag & O_NONBLOCK`, the file's
/// flags (sys/fs/devfs/devfs_vnops.c, devfs_read_f), and tunioctl takes
/// FIONBIO as a no-op. On DragonFly sys/net/tun/if_tun.c, tunread, tests
/// IO_NDELAY, which sys/vfs/devfs/devfs_vnops.c (devfs_fo_read) sets from
/// the file's FNONBLOCK. NetBSD's tunread ignores it: see netbsd.rs.
fn open_device(path: &str) -> Result<OwnedFd, Errno> {
    open(
        path,
        OFlags::RDWR | OFlags::CLOEXEC | OFlags::NONBLOCK,
        Mode::empty(),
    )
}

/// Puts the opened tun into multi-af mode.
fn set_af_header(fd: &OwnedFd, name: &IfName) -> Result<(), TunError> {
    set_int::<TUNSIFHEAD>(fd.as_fd(), 1).map_err(|errno| TunError::Create {
        name: name.clone(),
        errno,
    })
}

// How the unit is found: cloned and renamed, or opened by number.
#[cfg_attr(not(target_os = "netbsd"), path = "bsd_clone.rs")]
#[cfg_attr(target_os = "netbsd", path = "netbsd.rs")]
mod unit;
