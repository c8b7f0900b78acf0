//! What the network process reports: the state dump (SIGUSR1, console
//! `stats`), the Graphite lines of the stats socket (doc/protocol.md
//! "Statistics") and the status block that `vpnd -s` prints. The names
//! and lines are documented in vpnd(8); change them there too.

use std::fmt::Write;
use std::time::Duration;

use vpnd_proto::Timestamp;
use vpnd_proto::config::Role;
use vpnd_proto::session::{DropReason, Entropy, Session};

/// Counters of what the event loop itself saw (the session counts the
/// rest).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct IoStats {
    /// Datagrams the kernel refused to send.
    pub udp_send_errors: u64,
    /// Packets the tun refused (full queue).
    pub tun_write_errors: u64,
    /// Packets dropped for their address family at a tun that carries it
    /// in a header (the BSDs'): read behind an unknown family or shorter
    /// than the header, or to be written and neither IPv4 nor IPv6.
    pub tun_family_drops: u64,
    /// Frames from the tun whose offload header could not be used.
    pub offload_refused: u64,
    /// Large packets from the tun split into segments (TSO, USO).
    pub offload_split: u64,
    /// Packets joined from the peer's segments, written as one.
    pub offload_joined: u64,
    /// Requests the parent refused, by its count (`ToChild::Refusals`).
    pub refused_requests: u64,
    /// The offloads in use (UDP segmentation may be given up at run time).
    pub offloads: vpnd_proto::ipc::Offloads,
    /// Log lines dropped because the parent did not read them in time
    /// (log_pipe.rs counts them).
    pub log_lines_dropped: u64,
}

/// `H:MM:SS`, as the deployed peer prints durations.
fn hms(d: Duration) -> String {
    let s = d.as_secs();
    format!("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::NetGw => "NET GW",
        Role::HostGw => "HOST GW",
        Role::Host => "HOST",
    }
}

/// The state dump, one line per item, in the deployed peer's order.
pub fn state_dump<E: Entropy>(s: &Session<E>, now: Timestamp, max_key_age: u32) -> String {
    let st = s.stats();
    let mut out = String::new();
    let mut line = |text: String| {
        out.push_str(&text);
        out.push('\n');
    };
    line("--- vpnd statistics ---".into());
    line(format!("version: {}", env!("CARGO_PKG_VERSION")));
    line(format!("{} is {}:", role_name(s.role()), s.state().name()));
    line(format!(
        "sessions: {}, keys used: {} (max age {max_key_age} sec.)",
        st.sessions, st.keys
    ));
    let key = if s.key_is_ephemeral() {
        "ephemeral"
    } else {
        "pre-shared"
    };
    line(format!("current key: {key}"));
    line(format!(
        "time inactive/active: {}/{}",
        hms(s.time_inactive(now)),
        hms(s.time_active(now))
    ));
    line(format!(
        "data bytes rx/tx: {}/{}",
        st.rx_data_bytes, st.tx_data_bytes
    ));
    line(format!(
        "packets rx/tx: {}/{}",
        st.rx_packets, st.tx_packets
    ));
    line(format!("late rx packets: {}", st.rx_late));
    line(format!("late rx packets (cur key): {}", st.rx_cur_key_late));
    line(format!("bad nonces: {}", st.bad_nonces));
    line(format!("nonces since reset: {}", s.nonces_since_reset()));
    line(format!("decrypt failures: {}", st.decrypt_failures));
    line(format!(
        "retransmits (pi/kss/ksa/kr): {}/{}/{}/{}",
        st.peer_info_retransmits,
        st.key_switch_start_retransmits,
        st.key_ack_retransmits,
        st.key_ready_retransmits
    ));
    match s.last_heard(now) {
        Some(ago) => line(format!("last peer message: {} sec. ago", ago.as_secs())),
        None => line("last peer message: never".into()),
    }
    match s.peer() {
        Some(p) => line(format!("peer: {p}")),
        None => line("peer: none".into()),
    }
    let drops: Vec<String> = DropReason::ALL
        .iter()
        .filter(|r| st.drops_of(**r) > 0)
        .map(|r| format!("{} {}", r.name(), st.drops_of(*r)))
        .collect();
    line(format!(
        "drops: {}",
        if drops.is_empty() {
            "none".into()
        } else {
            drops.join(", ")
        }
    ));
    line("--- vpnd nonces ---".into());
    line(format!("TX nonce: {}", s.send_nonce().to_hex()));
    line(format!("RX nonce: {}", s.recv_nonce().to_hex()));
    out
}

/// The Graphite plaintext lines, `PREFIX.vpnd.NAME VALUE UNIXTIME`: the
/// deployed peer's names first (dashboards use them), then ours.
pub fn graphite<E: Entropy>(
    s: &Session<E>,
    io: &IoStats,
    now: Timestamp,
    prefix: &str,
    unix_time: u64,
) -> String {
    let mut out = String::new();
    for (name, value) in counters(s, io, now) {
        let _ = writeln!(out, "{prefix}.vpnd.{name} {value} {unix_time}");
    }
    for (name, value) in drops(s) {
        let _ = writeln!(out, "{prefix}.vpnd.drops.{name} {value} {unix_time}");
    }
    out
}

/// How many metrics [`counters`] gives.
pub const COUNTERS: usize = 27;

/// Every counter and gauge of the Graphite lines but the drops, by its
/// metric name (without the prefix), the deployed peer's first: the
/// Graphite lines and `vpnd -s -j` are made from this one list.
pub fn counters<E: Entropy>(
    s: &Session<E>,
    io: &IoStats,
    now: Timestamp,
) -> [(&'static str, u64); COUNTERS] {
    let st = s.stats();
    let session_secs = s.session_age(now).map_or(0, |d| d.as_secs());
    [
        ("keys", st.keys),
        ("sessions", st.sessions),
        ("rx.data_bytes", st.rx_data_bytes),
        ("tx.data_bytes", st.tx_data_bytes),
        ("rx.packets", st.rx_packets),
        ("tx.packets", st.tx_packets),
        ("rx.late", st.rx_late),
        ("rx._cur_key_late", st.rx_cur_key_late),
        ("bad_nonces", st.bad_nonces),
        ("decrypt_failures", st.decrypt_failures),
        ("peer_info_retransmits", st.peer_info_retransmits),
        (
            "key_switch_start_retransmits",
            st.key_switch_start_retransmits,
        ),
        ("key_ack_retransmits", st.key_ack_retransmits),
        ("key_ready_retransmits", st.key_ready_retransmits),
        ("cur_sess_secs", session_secs),
        ("key_age_secs", s.key_age(now).as_secs()),
        ("state", u64::from(s.state().number())),
        ("peer_deaths", st.peer_deaths),
        ("peer_restarts", st.peer_restarts),
        ("udp_send_errors", io.udp_send_errors),
        ("tun_write_errors", io.tun_write_errors),
        ("tun_family_drops", io.tun_family_drops),
        ("offload_refused", io.offload_refused),
        ("offload_split", io.offload_split),
        ("offload_joined", io.offload_joined),
        ("log_lines_dropped", io.log_lines_dropped),
        ("refused_requests", io.refused_requests),
    ]
}

/// The drops by reason, every reason in its documented order.
pub fn drops<E: Entropy>(s: &Session<E>) -> impl Iterator<Item = (&'static str, u64)> + '_ {
    let st = s.stats();
    DropReason::ALL
        .into_iter()
        .map(move |r| (r.name(), st.drops_of(r)))
}

/// The status block `vpnd -s` prints: `name: value` lines, then the drops
/// by reason, one indented line each.
pub fn status<E: Entropy>(
    s: &Session<E>,
    io: &IoStats,
    now: Timestamp,
    reporting: &Reporting,
) -> String {
    let st = s.stats();
    let mut out = String::new();
    let mut field = |name: &str, value: String| {
        let _ = writeln!(out, "{:<19}{value}", format!("{name}:"));
    };
    field("vpnd", env!("CARGO_PKG_VERSION").into());
    field("role", s.role().as_str().into());
    field("state", s.state().name().into());
    field(
        "peer",
        s.peer().map_or_else(|| "none".into(), |p| p.to_string()),
    );
    field(
        "session age",
        s.session_age(now).map_or_else(|| "no session".into(), hms),
    );
    field(
        "key",
        if s.key_is_ephemeral() {
            format!(
                "ephemeral, age {} (max {} s)",
                hms(s.key_age(now)),
                reporting.max_key_age
            )
        } else {
            "pre-shared (no session key)".into()
        },
    );
    field("sessions/keys", format!("{}/{}", st.sessions, st.keys));
    field(
        "received",
        format!("{} bytes, {} packets", st.rx_data_bytes, st.rx_packets),
    );
    field(
        "sent",
        format!("{} bytes, {} packets", st.tx_data_bytes, st.tx_packets),
    );
    field(
        "last heard",
        s.last_heard(now)
            .map_or_else(|| "never".into(), |d| format!("{} s ago", d.as_secs())),
    );
    field(
        "peer deaths",
        format!("{} (restarts seen {})", st.peer_deaths, st.peer_restarts),
    );
    field(
        "send errors",
        format!("udp {}, tun {}", io.udp_send_errors, io.tun_write_errors),
    );
    field("tun family drops", io.tun_family_drops.to_string());
    field(
        "offloads",
        format!(
            "{} (split {}, joined {}, refused {})",
            io.offloads, io.offload_split, io.offload_joined, io.offload_refused
        ),
    );
    field("log lines dropped", io.log_lines_dropped.to_string());
    field("refused requests", io.refused_requests.to_string());
    // What the nonce files are to hold, as `vpnd -n` prints them: a
    // poisoned remote value (far above the peer's local one) shows here.
    field("local nonce", s.local_reset_point().to_hex());
    field("remote nonce", s.recv_nonce().to_hex());
    let total: u64 = st.drops.iter().sum();
    field("drops", total.to_string());
    for r in DropReason::ALL {
        let _ = writeln!(out, "  {:<17}{}", r.name(), st.drops_of(r));
    }
    out
}

/// What the reports need besides the session.
#[derive(Debug, Clone)]
pub struct Reporting {
    /// The Graphite prefix.
    pub stats_prefix: String,
    /// `max_key_age`, for the state dump and the status.
    pub max_key_age: u32,
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use vpnd_crypto::{KeyPair, Nonce, SecretKey, SharedKey};
    use vpnd_proto::session::{SeededEntropy, SessionConfig};
    use vpnd_proto::wire::Inet6Family;

    pub(crate) fn session() -> Session<SeededEntropy> {
        let a = KeyPair::from_secret(SecretKey::from_bytes([1; 32]));
        let config = SessionConfig {
            role: Role::NetGw,
            static_key: SharedKey::precompute(&a.public, &a.secret).unwrap(),
            peer: Some("198.18.0.2:4706".parse().unwrap()),
            push: None,
            min_pushed_prefix: vpnd_proto::config::MinPushedPrefix::default(),
            inet6_family: Inet6Family::LINUX,
            max_key_age: Duration::from_secs(60),
            max_key_packets: 100_000,
            nonce_reset_incr: 10_000,
            send_nonce: Nonce::from_u64(1),
            recv_nonce: Nonce::default(),
        };
        let mut s = Session::new(config, Timestamp::ZERO, SeededEntropy::new(1));
        s.local_nonce_saved(Timestamp::ZERO, Nonce::from_u64(10_001));
        s
    }

    #[test]
    fn the_dump_has_every_item() {
        let s = session();
        let now = Timestamp::ZERO + Duration::from_secs(3725);
        let dump = state_dump(&s, now, 60);
        for item in [
            "NET GW is INIT:",
            "sessions: 0, keys used: 0 (max age 60 sec.)",
            "current key: pre-shared",
            "time inactive/active: 1:02:05/0:00:00",
            "packets rx/tx: 0/1",
            "retransmits (pi/kss/ksa/kr): 0/0/0/0",
            "last peer message: never",
            "peer: 198.18.0.2:4706",
            "drops: none",
            "TX nonce: 020000000000000000000000000000000000000000000000",
        ] {
            assert!(dump.contains(item), "missing {item:?} in\n{dump}");
        }
    }

    #[test]
    fn graphite_names_are_the_deployed_ones_first() {
        let s = session();
        let text = graphite(
            &s,
            &IoStats::default(),
            Timestamp::ZERO,
            "gw_a",
            1_800_000_000,
        );
        let names: Vec<&str> = text.lines().map(|l| l.split(' ').next().unwrap()).collect();
        let deployed = [
            "keys",
            "sessions",
            "rx.data_bytes",
            "tx.data_bytes",
            "rx.packets",
            "tx.packets",
            "rx.late",
            "rx._cur_key_late",
            "bad_nonces",
            "decrypt_failures",
            "peer_info_retransmits",
            "key_switch_start_retransmits",
            "key_ack_retransmits",
            "key_ready_retransmits",
        ];
        for (i, name) in deployed.iter().enumerate() {
            assert_eq!(names[i], format!("gw_a.vpnd.{name}"));
        }
        assert!(text.contains("gw_a.vpnd.tx.packets 1 1800000000\n"));
        assert!(text.contains("gw_a.vpnd.drops.decrypt_failure 0 1800000000\n"));
        assert!(text.lines().all(|l| l.split(' ').count() == 3));
    }

    #[test]
    fn the_status_names_role_state_peer_and_every_drop_reason() {
        let s = session();
        let io = IoStats {
            udp_send_errors: 3,
            tun_write_errors: 0,
            tun_family_drops: 4,
            offload_refused: 2,
            offload_split: 0,
            offload_joined: 0,
            refused_requests: 7,
            offloads: vpnd_proto::ipc::Offloads {
                tun_tso: true,
                udp_gro: true,
                ..Default::default()
            },
            log_lines_dropped: 7,
        };
        let reporting = Reporting {
            stats_prefix: "gw_a".into(),
            max_key_age: 60,
        };
        let text = status(
            &s,
            &io,
            Timestamp::ZERO + Duration::from_secs(61),
            &reporting,
        );
        for line in [
            "role:              net-gw\n",
            "state:             INIT\n",
            "peer:              198.18.0.2:4706\n",
            "session age:       no session\n",
            "key:               pre-shared (no session key)\n",
            "sent:              0 bytes, 1 packets\n",
            "send errors:       udp 3, tun 0\n",
            "tun family drops:  4\n",
            "log lines dropped: 7\n",
            "refused requests:  7\n",
            "offloads:          tun TSO, UDP GRO (split 0, joined 0, refused 2)\n",
            "local nonce:       112700000000000000000000000000000000000000000000\n",
            "remote nonce:      000000000000000000000000000000000000000000000000\n",
            "drops:             0\n",
            "  decrypt_failure  0\n",
            "  bad_packet_size  0\n",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
        assert_eq!(text.lines().count(), 19 + DropReason::ALL.len());
    }
}
