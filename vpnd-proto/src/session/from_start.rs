//! The session's settings from the start message the parent sends: the one
//! place where the configuration file's words become the session's.

use std::time::Duration;

use vpnd_crypto::{KeyError, Nonce, SharedKey};

use super::{SessionConfig, initial_send_nonce};
use crate::config::{MinPushedPrefix, RoleConfig};
use crate::ipc::Start;
use crate::wire::{Inet6Family, Pushed};

impl SessionConfig {
    /// The session for `start`. `random` is 16 fresh random bytes for the
    /// send counter (used when no nonce file is above them); `inet6_family`
    /// is this system's `AF_INET6` (see [`Inet6Family`]). Fails only if
    /// `remote_pk` gives an all-zero shared key, which the configuration
    /// parser already refuses.
    pub fn from_start(
        start: &Start,
        random: [u8; 16],
        inet6_family: Inet6Family,
    ) -> Result<SessionConfig, KeyError> {
        let c = &start.config;
        let push = match &c.role {
            RoleConfig::HostGw {
                local_network,
                host_addr,
                resolv_addr,
                resolv_domain,
            } => Some(Pushed {
                host: *host_addr,
                network: *local_network,
                resolver: *resolv_addr,
                domain: resolv_domain.clone(),
            }),
            RoleConfig::NetGw { .. } | RoleConfig::Host { .. } => None,
        };
        let min_pushed_prefix = match &c.role {
            RoleConfig::Host {
                min_pushed_prefix, ..
            } => *min_pushed_prefix,
            RoleConfig::NetGw { .. } | RoleConfig::HostGw { .. } => MinPushedPrefix::default(),
        };
        Ok(SessionConfig {
            role: c.role(),
            static_key: SharedKey::precompute(&c.remote_pk, &c.local_sk)?,
            peer: start.peer,
            push,
            min_pushed_prefix,
            inet6_family,
            max_key_age: Duration::from_secs(u64::from(c.max_key_age)),
            max_key_packets: u64::from(c.max_key_packets),
            nonce_reset_incr: u64::from(c.nonce_reset_incr),
            send_nonce: initial_send_nonce(
                start.local_nonce.map(Nonce::from_bytes),
                start.unix_time,
                random,
            ),
            recv_nonce: Nonce::from_bytes(start.remote_nonce),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::path::Path;

    use super::*;
    use crate::config::{self, Role};
    use crate::ipc::IPC_VERSION;

    fn start(role_lines: &str, local_nonce: Option<[u8; 24]>) -> Start {
        let text = format!(
            "local_sk: 845b920bda4cd49d251d3329144a0cf8bdaaa07502626fa87f08e80faedab11f\n\
             remote_pk: 9d8d78b9c9e6661e552f2f1af02095ee2f8743fa2e6183f41bb7077ef51b5379\n\
             max_key_age: 90\nmax_key_packets: 5000\n{role_lines}"
        );
        Start {
            version: IPC_VERSION,
            config: config::parse(Path::new("t"), &text).unwrap(),
            stats_prefix: "gw".parse().unwrap(),
            peer: None,
            local_nonce,
            remote_nonce: [2; 24],
            unix_time: 1_800_000_000,
            uid: 65534,
            gid: 65534,
            offloads: Default::default(),
            console: false,
            udp_sends: Default::default(),
        }
    }

    #[test]
    fn host_gw_pushes_its_configured_values() {
        let s = start(
            "role: host-gw\nlocal_network: 198.19.1.0/24\nhost_addr: 198.19.3.2/24\n\
             resolv_addr: 198.19.1.53\nresolv_domain: vpnd.test\n",
            None,
        );
        let c = SessionConfig::from_start(&s, [7; 16], Inet6Family::LINUX).unwrap();
        assert_eq!(c.role, Role::HostGw);
        let push = c.push.unwrap();
        assert_eq!(push.host.to_string(), "198.19.3.2/24");
        assert_eq!(push.network.to_string(), "198.19.1.0/24");
        assert_eq!(push.resolver.unwrap().to_string(), "198.19.1.53");
        assert_eq!(push.domain.unwrap().as_str(), "vpnd.test");
        assert_eq!(c.max_key_age, Duration::from_secs(90));
        assert_eq!(c.max_key_packets, 5000);
        assert_eq!(c.recv_nonce, Nonce::from_bytes([2; 24]));
    }

    #[test]
    fn a_host_takes_its_configured_push_minimums() {
        let host = "role: host\nremote_host: 198.18.0.2\n";
        let c = SessionConfig::from_start(&start(host, None), [7; 16], Inet6Family::LINUX).unwrap();
        assert_eq!(c.min_pushed_prefix, MinPushedPrefix { v4: 8, v6: 16 });
        let wide = format!("{host}min_pushed_prefix_v4: 2\nmin_pushed_prefix_v6: 3\n");
        let c =
            SessionConfig::from_start(&start(&wide, None), [7; 16], Inet6Family::LINUX).unwrap();
        assert_eq!(c.min_pushed_prefix, MinPushedPrefix { v4: 2, v6: 3 });
    }

    #[test]
    fn send_counter_starts_above_the_nonce_file_and_the_clock() {
        let net_gw = "role: net-gw\nremote_host: 198.18.0.2\n";
        let fresh =
            SessionConfig::from_start(&start(net_gw, None), [0; 16], Inet6Family::LINUX).unwrap();
        assert_eq!(
            fresh.send_nonce,
            Nonce::from_time_and_random(1_800_000_000, [0; 16])
        );
        assert!(fresh.push.is_none());
        let far = [0xff; 24];
        let saved =
            SessionConfig::from_start(&start(net_gw, Some(far)), [0; 16], Inet6Family::LINUX)
                .unwrap();
        assert_eq!(saved.send_nonce, Nonce::from_bytes(far));
    }
}
