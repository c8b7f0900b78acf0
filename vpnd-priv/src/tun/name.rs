//! What each platform accepts as the tun's name, and the name as the
//! kernel's `struct ifreq` carries it: pure, so every platform's rules are
//! tested wherever the tests run.

use vpnd_proto::net::IfName;

/// `IFNAMSIZ` on Linux and on the three BSDs (`sys/net/if.h`), checked
/// against the `libc` crate where the tun code is compiled.
pub(super) const IFNAMSIZ: usize = 16;

/// How a platform names its tun devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Naming {
    /// Any interface name: Linux creates the tun under the name asked for;
    /// FreeBSD and DragonFly clone a `tunN` and rename it (`SIOCSIFNAME`).
    Any,
    /// NetBSD: the device is `/dev/tunN` and the interface keeps its name
    /// `tunN`, so only such a name can be asked for (NetBSD
    /// sys/net/if_tun.c, tunopen: the unit is the device's minor).
    Numbered,
}

impl Naming {
    /// This system's rule.
    pub const NATIVE: Naming = if cfg!(target_os = "netbsd") {
        Naming::Numbered
    } else {
        Naming::Any
    };
}

/// Whether `name` is a device this platform can open, and if not why.
pub fn check(name: &IfName, naming: Naming) -> Result<(), String> {
    match naming {
        Naming::Any => Ok(()),
        Naming::Numbered => unit(name).map(|_| ()).ok_or_else(|| {
            "must be tun followed by a unit number (tun0, tun1, ...): NetBSD's tun devices are /dev/tunN and cannot be renamed".to_owned()
        }),
    }
}

/// The unit number of a `tunN` name: decimal digits, no leading zero
/// (`tun01` is not the interface `/dev/tun1` makes: NetBSD sys/net/if.c,
/// if_initname, writes the unit with `%d`).
pub fn unit(name: &IfName) -> Option<u32> {
    let digits = name.as_str().strip_prefix("tun")?;
    let leading_zero = digits.len() > 1 && digits.starts_with('0');
    if digits.is_empty() || leading_zero || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// `ifr_name`: the name NUL-padded to [`IFNAMSIZ`] (an [`IfName`] holds
/// at most 15 bytes, so the NUL always fits).
pub fn ifr_name(name: &IfName) -> [u8; IFNAMSIZ] {
    let mut out = [0; IFNAMSIZ];
    let bytes = name.as_str().as_bytes();
    let n = bytes.len().min(IFNAMSIZ - 1);
    out[..n].copy_from_slice(&bytes[..n]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> IfName {
        s.parse().unwrap()
    }

    #[test]
    fn netbsd_takes_tun_and_a_unit_number_only() {
        for ok in ["tun0", "tun1", "tun42", "tun65535"] {
            assert_eq!(check(&name(ok), Naming::Numbered), Ok(()), "{ok}");
        }
        assert_eq!(unit(&name("tun42")), Some(42));
        for bad in ["vpn0", "tun", "tun01", "tun1a", "tap0", "xtun0", "tun-1"] {
            assert!(check(&name(bad), Naming::Numbered).is_err(), "{bad}");
        }
    }

    #[test]
    fn linux_freebsd_and_dragonfly_take_any_name() {
        for ok in ["vpn0", "tun0", "wan-tunnel", "tun01"] {
            assert_eq!(check(&name(ok), Naming::Any), Ok(()), "{ok}");
        }
    }

    #[test]
    fn the_native_rule_is_the_platforms() {
        let expected = if cfg!(target_os = "netbsd") {
            Naming::Numbered
        } else {
            Naming::Any
        };
        assert_eq!(Naming::NATIVE, expected);
    }

    #[test]
    fn ifr_name_is_nul_padded() {
        let got = ifr_name(&name("vpn0"));
        assert_eq!(&got[..5], b"vpn0\0");
        assert!(got[4..].iter().all(|&b| b == 0));
        let longest = "a".repeat(15);
        let got = ifr_name(&name(&longest));
        assert_eq!(&got[..15], longest.as_bytes());
        assert_eq!(got[15], 0);
    }
}
