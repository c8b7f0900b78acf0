//! The default paths, chosen per platform here and nowhere else; vpnd(8)
//! and vpnd.conf(5) list each platform's.

/// The configuration file read without `-c`: FreeBSD's ports install
/// configuration under `/usr/local/etc` (the port's own files), the other
/// systems' packages under `/etc`.
pub const CONFIG_FILE: &str = if cfg!(target_os = "freebsd") {
    "/usr/local/etc/vpnd.conf"
} else {
    "/etc/vpnd.conf"
};

/// The name of the default instance: the file `vpnd.conf` configures it,
/// and its files keep the names they had before instances were named
/// (`vpnd.pid`, `vpnd_stats.sock`, `local_vpnd.nonce`, ...).
pub const DEFAULT_INSTANCE: &str = "vpnd";

/// Where a named instance's pid file and statistics socket go (and the
/// record of shared forwarding): Debian's `/run` (FHS 3.0, 3.15), the
/// BSDs' `/var/run` (hier(7)).
pub const RUNTIME_DIR: &str = if cfg!(target_os = "linux") {
    "/run/vpnd"
} else {
    "/var/run/vpnd"
};

/// Where a named instance's nonce files go: Debian's `/var/lib` (FHS 3.0,
/// 5.8), the BSDs' `/var/db` (hier(7)).
pub const STATE_DIR: &str = if cfg!(target_os = "linux") {
    "/var/lib/vpnd"
} else {
    "/var/db/vpnd"
};

/// The start of a named instance's tun device (`vpnd-alice`), or `None`
/// where a tun cannot be renamed: NetBSD's are `tunN` only (see
/// vpnd-priv's `tun::name`), so there a named instance sets `device`.
pub const INSTANCE_DEVICE_PREFIX: Option<&str> = if cfg!(target_os = "netbsd") {
    None
} else {
    Some("vpnd-")
};

/// `pid_file` of the default instance: in `/var/run` on every platform
/// (on Linux a link to `/run`).
pub const PID_FILE: &str = "/var/run/vpnd.pid";

/// `stats_path`, beside the pid file.
pub const STATS_PATH: &str = "/var/run/vpnd_stats.sock";

/// `local_nonce_file`.
pub const LOCAL_NONCE_FILE: &str = "/var/db/local_vpnd.nonce";

/// `remote_nonce_file`.
pub const REMOTE_NONCE_FILE: &str = "/var/db/remote_vpnd.nonce";

/// `chroot_dir`: the empty directory every system has for this.
pub const CHROOT_DIR: &str = "/var/empty";

/// `ip_path` (Linux's iproute2; the BSDs use their own `ifconfig` and
/// `route`, not configurable: both are in /sbin on all three,
/// sbin/Makefile.inc, `BINDIR?= /sbin`).
pub const IP_PATH: &str = "/sbin/ip";

/// `resolvconf_path`: Debian's resolvconf and FreeBSD's base-system
/// openresolv are both at `/sbin/resolvconf` (FreeBSD
/// sbin/resolvconf/Makefile: `DIST= .../contrib/openresolv`,
/// `SBINDIR= /sbin`).
pub const RESOLVCONF_PATH: &str = "/sbin/resolvconf";

/// `min_pushed_prefix_v4`: a gateway may push at most a /8 (a whole
/// historical class A), never a quarter of the Internet.
pub const MIN_PUSHED_PREFIX_V4: u8 = 8;

/// `min_pushed_prefix_v6`: at most a /16 (2000::/3 is all of the global
/// unicast space).
pub const MIN_PUSHED_PREFIX_V6: u8 = 16;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configuration_file_is_the_platforms() {
        let expected = if cfg!(target_os = "freebsd") {
            "/usr/local/etc/vpnd.conf"
        } else {
            "/etc/vpnd.conf"
        };
        assert_eq!(CONFIG_FILE, expected);
        assert!(PID_FILE.starts_with("/var/run/") && STATS_PATH.starts_with("/var/run/"));
        let (runtime, state) = if cfg!(target_os = "linux") {
            ("/run/vpnd", "/var/lib/vpnd")
        } else {
            ("/var/run/vpnd", "/var/db/vpnd")
        };
        assert_eq!((RUNTIME_DIR, STATE_DIR), (runtime, state));
        assert_eq!(INSTANCE_DEVICE_PREFIX.is_none(), cfg!(target_os = "netbsd"));
    }
}
