//! FreeBSD and DragonFly: a new `tunN` cloned from `/dev/tun`, set up and
//! renamed to the configured name; destroyed again if that fails.

use std::ffi::CStr;
use std::os::fd::{AsFd, OwnedFd};

use nix::libc;
use rustix::io::Errno;
use rustix::ioctl::{Opcode, opcode};
use vpnd_proto::net::IfName;

use super::{IfReq, TunError, destroy, if_ioctl, name, open_device, set_af_header, set_int};

/// The cloning device (tun.4: "the special control device /dev/tun").
const CLONE_DEVICE: &str = "/dev/tun";

/// `SIOCSIFNAME`, `_IOW('i', 40, struct ifreq)`: FreeBSD
/// sys/sys/sockio.h:81, DragonFly sys/sys/sockio.h:90 (the copies read).
/// The new name is read from the string `ifr_data` points to, and a name
/// that exists is EEXIST (both systems' sys/net/if.c, ifhwioctl, case
/// SIOCSIFNAME: `copyinstr(ifr->ifr_data, new_name, IFNAMSIZ, NULL)`).
const SIOCSIFNAME: Opcode = opcode::write::<IfReq>(b'i', 40);
const _: () = assert!(SIOCSIFNAME as u64 == 0x8020_6928);

/// `TUNSIFMODE`, `_IOW('t', 94, int)`: FreeBSD sys/net/if_tun.h:43,
/// DragonFly sys/net/tun/if_tun.h:45.
const TUNSIFMODE: Opcode = opcode::write::<libc::c_int>(b't', 94);
const _: () = assert!(TUNSIFMODE as u64 == 0x8004_745e);

/// The longest device name devname_r(3) writes, with its NUL: FreeBSD's
/// SPECNAMELEN is 255 (sys/sys/param.h); a tun's is a few bytes.
const DEVNAME_MAX: usize = 256;

/// Clones a tun, makes it point to point with the address-family header,
/// and renames it to `name`. Its open flag alone makes it non-blocking on
/// both systems (see `open_device` in bsd.rs).
pub(super) fn open(name: &IfName) -> Result<OwnedFd, TunError> {
    let fd = open_device(CLONE_DEVICE).map_err(|errno| TunError::Open {
        device: CLONE_DEVICE,
        errno,
    })?;
    let unit = unit_name(&fd).map_err(|errno| TunError::Create {
        name: name.clone(),
        errno,
    })?;
    // The clone exists from here on, and outlives the descriptor: a setup
    // that fails destroys it.
    if let Err(e) = set_up(&fd, &unit, name) {
        drop(fd);
        if let Err(d) = destroy(&unit) {
            log::warn!("{d}");
        }
        return Err(e);
    }
    Ok(fd)
}

fn set_up(fd: &OwnedFd, unit: &IfName, name: &IfName) -> Result<(), TunError> {
    let create = |errno| TunError::Create {
        name: name.clone(),
        errno,
    };
    // Point to point is already the default (FreeBSD sys/net/if_tuntap.c
    // and DragonFly sys/net/tun/if_tun.c, tuncreate: `IFF_POINTOPOINT`);
    // it is set so that it is not assumed.
    set_int::<TUNSIFMODE>(fd.as_fd(), libc::IFF_POINTOPOINT).map_err(create)?;
    set_af_header(fd, name)?;
    // Renaming to its own name would fail (the name exists).
    if unit != name {
        rename(unit, name).map_err(create)?;
    }
    Ok(())
}

/// `SIOCSIFNAME`: the interface `from` becomes `to`.
fn rename(from: &IfName, to: &IfName) -> Result<(), Errno> {
    let mut new_name = name::ifr_name(to);
    let mut req = IfReq::named(from);
    req.data = new_name.as_mut_ptr().cast();
    // `new_name` lives until the end of this function, past the call.
    if_ioctl::<SIOCSIFNAME>(req)
}

/// The clone's interface name: its device's name (tun.4: "use devname(3)
/// to determine which"), from the descriptor's device number.
fn unit_name(fd: &OwnedFd) -> Result<IfName, Errno> {
    let rdev = rustix::fs::fstat(fd)?.st_rdev;
    let mut buf = [0u8; DEVNAME_MAX];
    devname(rdev, &mut buf)?;
    let name = CStr::from_bytes_until_nul(&buf).map_err(|_| Errno::NODEV)?;
    // A device number devname_r cannot name comes back as `#C...`, which
    // is no interface name (lib/libc/gen/devname.c, devname_r: formatted
    // `#%c:%d:0x%x` on FreeBSD, `#%c%d:0x%x` on DragonFly; `#` and `:`
    // are not in IfName).
    name.to_str()
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(Errno::NODEV)
}

/// devname_r(3) of the character device `rdev` into `buf`.
#[allow(unsafe_code)]
fn devname(rdev: libc::dev_t, buf: &mut [u8; DEVNAME_MAX]) -> Result<(), Errno> {
    // The length is an int on FreeBSD and a size_t on DragonFly (each
    // one's lib/libc/gen/devname.c, devname_r).
    let len = DEVNAME_MAX.try_into().map_err(|_| Errno::INVAL)?;
    // SAFETY: devname_r writes at most `len` bytes, NUL included, into
    // `buf`, which is that long and lives past the call.
    let p = unsafe { libc::devname_r(rdev, libc::S_IFCHR, buf.as_mut_ptr().cast(), len) };
    if p.is_null() {
        return Err(Errno::NODEV);
    }
    Ok(())
}
