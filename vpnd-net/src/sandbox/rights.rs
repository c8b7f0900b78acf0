//! What each descriptor the network process keeps may still do once it is
//! sandboxed, as data: FreeBSD's Capsicum applies this table (freebsd.rs);
//! the other systems have no per-descriptor rights and pass it over. Pure
//! and on every platform, so its test runs on Linux too.

use std::os::fd::RawFd;

/// What a descriptor is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The tun device: packets in and out.
    Tun,
    /// The UDP socket: datagrams in and out.
    Udp,
    /// The IPC socket to the parent.
    Ipc,
    /// The stats listener; the connections it accepts get its rights.
    StatsListener,
    /// The console's input (a vpnd in the foreground): a pipe the parent
    /// writes what root types into.
    Console,
    /// Standard output (/dev/null) or error (the pipe the parent reads the
    /// log lines from): lines are written there.
    Output,
    /// Standard input (/dev/null): nothing is done with it.
    Unused,
}

/// The most rights one role has (freebsd.rs passes them as a fixed list).
pub const MAX_RIGHTS: usize = 5;

/// A descriptor and what it is for, as the sandbox is handed them.
pub type Kept = (Role, RawFd);

// Capsicum's rights, as sys/sys/capsicum.h builds them (CAPRIGHT(idx, bit)
// = 1 << (57 + idx) | bit; the same in libc's freebsd/mod.rs `cap_right!`).
// They are mirrored here, not taken from libc, so that the table and its
// test exist on every platform; freebsd.rs checks at compile time that
// each equals libc's. Rights from different words (idx 0 and 1) must not be
// or-ed together: each is one element of a list.
const fn right(idx: u32, bit: u64) -> u64 {
    (1u64 << (57 + idx)) | bit
}
/// read(2), recv(2) (CAP_RECV is CAP_READ).
pub const CAP_READ: u64 = right(0, 0x1);
/// write(2), send(2) (CAP_SEND is CAP_WRITE).
pub const CAP_WRITE: u64 = right(0, 0x2);
/// fcntl(2), limited further by the fcntl rights.
pub const CAP_FCNTL: u64 = right(0, 0x8000);
/// accept(2).
pub const CAP_ACCEPT: u64 = right(0, 0x2000_0000);
/// getsockname(2).
pub const CAP_GETSOCKNAME: u64 = right(0, 0x2_0000_0000);
/// select(2), poll(2), kevent(2) on the descriptor.
pub const CAP_EVENT: u64 = right(1, 0x20);
/// ioctl(2), limited further by the ioctl list.
pub const CAP_IOCTL: u64 = right(1, 0x80);
/// F_GETFL for cap_fcntls_limit (sys/sys/capsicum.h CAP_FCNTL_GETFL).
pub const CAP_FCNTL_GETFL: u32 = 1 << 3;
/// F_SETFL (CAP_FCNTL_SETFL).
pub const CAP_FCNTL_SETFL: u32 = 1 << 4;

/// The one ioctl the network process issues after the sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ioctl {
    /// Non-blocking on or off: std's `set_nonblocking` on an accepted
    /// stats connection (ioctl(FIONBIO) on the BSDs: Socket::set_nonblocking
    /// in Rust's library/std/src/sys/net/connection/socket/unix.rs).
    Fionbio,
}

/// What one role may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rights {
    /// The role.
    pub role: Role,
    /// cap_rights_limit(2)'s rights.
    pub rights: &'static [u64],
    /// cap_fcntls_limit(2)'s commands (meaningful with CAP_FCNTL: FreeBSD's
    /// kern_cap_rights_limit() in sys/kern/sys_capability.c empties the
    /// list of a descriptor without it).
    pub fcntls: u32,
    /// cap_ioctls_limit(2)'s commands (meaningful with CAP_IOCTL: without
    /// it the list is emptied the same way, and cap_ioctl_check() refuses
    /// every command).
    pub ioctls: &'static [Ioctl],
}

/// The table. Why each right:
/// - tun: the loop reads and writes packets and polls it (kevent).
/// - UDP: recvmsg/sendmsg; getsockname once when the loop starts (is the
///   socket IPv6?).
/// - IPC: sendmsg/recvmsg; the loop makes it non-blocking after the
///   sandbox (F_GETFL, F_SETFL).
/// - stats listener: accept; an accepted descriptor has its listener's
///   rights (FreeBSD's kern_accept4 allocates it with the listener's
///   filecaps: sys/kern/uipc_syscalls.c, `falloc_caps(td, &nfp, &fd, ...,
///   &fcaps)`), so the connection's read, write and FIONBIO (std's
///   `set_nonblocking` is ioctl(FIONBIO)) are the listener's too.
/// - console: read, and poll(2) to see whether a line is waiting.
/// - standard output and error: write; standard input: nothing.
pub const TABLE: &[Rights] = &[
    Rights {
        role: Role::Tun,
        rights: &[CAP_READ, CAP_WRITE, CAP_EVENT],
        fcntls: 0,
        ioctls: &[],
    },
    Rights {
        role: Role::Udp,
        rights: &[CAP_READ, CAP_WRITE, CAP_EVENT, CAP_GETSOCKNAME],
        fcntls: 0,
        ioctls: &[],
    },
    Rights {
        role: Role::Ipc,
        rights: &[CAP_READ, CAP_WRITE, CAP_EVENT, CAP_FCNTL],
        fcntls: CAP_FCNTL_GETFL | CAP_FCNTL_SETFL,
        ioctls: &[],
    },
    Rights {
        role: Role::StatsListener,
        rights: &[CAP_ACCEPT, CAP_EVENT, CAP_READ, CAP_WRITE, CAP_IOCTL],
        fcntls: 0,
        ioctls: &[Ioctl::Fionbio],
    },
    Rights {
        role: Role::Console,
        rights: &[CAP_READ, CAP_EVENT],
        fcntls: 0,
        ioctls: &[],
    },
    Rights {
        role: Role::Output,
        rights: &[CAP_WRITE],
        fcntls: 0,
        ioctls: &[],
    },
    Rights {
        role: Role::Unused,
        rights: &[],
        fcntls: 0,
        ioctls: &[],
    },
];

/// The rights of `role`.
pub fn rights_of(role: Role) -> Option<&'static Rights> {
    TABLE.iter().find(|r| r.role == role)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROLES: [Role; 7] = [
        Role::Tun,
        Role::Udp,
        Role::Ipc,
        Role::StatsListener,
        Role::Console,
        Role::Output,
        Role::Unused,
    ];

    // Rights sys/sys/capsicum.h defines that nothing here may hold: no
    // new names (connect, bind, listen, the *at lookups), no execution,
    // no mapping, no socket options.
    const FORBIDDEN: &[u64] = &[
        right(0, 0x80_0000_0000 | 0x400),  // CAP_BINDAT
        right(0, 0x100_0000_0000 | 0x400), // CAP_CONNECTAT
        right(0, 0x4000_0000),             // CAP_BIND
        right(0, 0x8000_0000),             // CAP_CONNECT
        right(0, 0x8_0000_0000),           // CAP_LISTEN
        right(0, 0x400),                   // CAP_LOOKUP
        right(0, 0x80),                    // CAP_FEXECVE
        right(0, 0x40),                    // CAP_CREATE
        right(0, 0x10),                    // CAP_MMAP
        right(0, 0x20_0000_0000),          // CAP_SETSOCKOPT
        right(0, 0x800),                   // CAP_FCHDIR
        right(1, 0x800),                   // CAP_PDKILL
    ];

    #[test]
    fn every_role_has_one_entry() {
        for role in ROLES {
            assert_eq!(
                TABLE.iter().filter(|r| r.role == role).count(),
                1,
                "{role:?}"
            );
        }
        assert_eq!(TABLE.len(), ROLES.len());
    }

    #[test]
    fn no_role_has_more_than_max_rights() {
        for r in TABLE {
            assert!(r.rights.len() <= MAX_RIGHTS, "{:?}", r.role);
        }
    }

    #[test]
    fn every_polled_descriptor_has_event() {
        for role in [
            Role::Tun,
            Role::Udp,
            Role::Ipc,
            Role::StatsListener,
            Role::Console,
        ] {
            let r = rights_of(role).map(|r| r.rights).unwrap_or_default();
            assert!(r.contains(&CAP_EVENT), "{role:?}");
        }
    }

    #[test]
    fn no_role_can_name_a_new_object_or_execute() {
        for r in TABLE {
            for &right in r.rights {
                // Same word (bit 57 + idx) and every bit of the forbidden
                // right present: the right is held.
                let holds = |f: u64| right & f == f;
                assert!(
                    !FORBIDDEN.iter().any(|&f| holds(f)),
                    "{:?} holds {right:#x}",
                    r.role
                );
            }
        }
    }

    #[test]
    fn each_right_is_from_one_word() {
        // Or-ing rights of both words gives a value cap_rights_init
        // refuses; the table lists them one by one.
        let word_bits = (1u64 << 57) | (1u64 << 58);
        for r in TABLE {
            for &right in r.rights {
                let w = right & word_bits;
                assert!(w == 1 << 57 || w == 1 << 58, "{:?} {right:#x}", r.role);
            }
        }
    }

    #[test]
    fn fcntl_and_ioctl_only_where_the_loop_calls_them() {
        for r in TABLE {
            assert_eq!(r.rights.contains(&CAP_FCNTL), r.fcntls != 0, "{:?}", r.role);
            assert_eq!(
                r.rights.contains(&CAP_IOCTL),
                !r.ioctls.is_empty(),
                "{:?}",
                r.role
            );
        }
        assert_eq!(
            rights_of(Role::Ipc).map(|r| r.fcntls),
            Some(CAP_FCNTL_GETFL | CAP_FCNTL_SETFL)
        );
        let with_ioctl: Vec<Role> = TABLE
            .iter()
            .filter(|r| !r.ioctls.is_empty())
            .map(|r| r.role)
            .collect();
        assert_eq!(with_ioctl, [Role::StatsListener]);
    }

    #[test]
    fn only_the_udp_socket_may_ask_its_name() {
        for r in TABLE {
            assert_eq!(
                r.rights.contains(&CAP_GETSOCKNAME),
                r.role == Role::Udp,
                "{:?}",
                r.role
            );
        }
    }
}
