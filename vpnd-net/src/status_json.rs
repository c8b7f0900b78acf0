//! The status as one JSON object (`vpnd -s -j`, the stats socket's
//! `status json` request): the fields of the text status, and every
//! counter of the Graphite lines under its metric name as a 64-bit
//! integer. The schema is in vpnd(8), STATISTICS; change it there too.

use serde_json::{Map, Value, json};
use vpnd_proto::Timestamp;
use vpnd_proto::session::{Entropy, Session};

use crate::report::{IoStats, Reporting, counters, drops};

/// The object, on one line ending in a newline.
pub fn status_json<E: Entropy>(
    s: &Session<E>,
    io: &IoStats,
    now: Timestamp,
    reporting: &Reporting,
) -> String {
    let mut counted: Map<String, Value> = counters(s, io, now)
        .into_iter()
        .map(|(name, value)| (name.to_owned(), Value::from(value)))
        .collect();
    let mut total: u64 = 0;
    for (name, value) in drops(s) {
        total = total.saturating_add(value);
        counted.insert(format!("drops.{name}"), Value::from(value));
    }
    let st = s.stats();
    let status = json!({
        "vpnd": env!("CARGO_PKG_VERSION"),
        "role": s.role().as_str(),
        "state": s.state().name(),
        "peer": s.peer().map(|p| p.to_string()),
        "session_age_secs": s.session_age(now).map(|d| d.as_secs()),
        "key": if s.key_is_ephemeral() { "ephemeral" } else { "pre-shared" },
        "max_key_age_secs": u64::from(reporting.max_key_age),
        "sessions": st.sessions,
        "keys": st.keys,
        "last_heard_secs": s.last_heard(now).map(|d| d.as_secs()),
        "offloads": io.offloads.to_string(),
        "local_nonce": s.local_reset_point().to_hex(),
        "remote_nonce": s.recv_nonce().to_hex(),
        "drops": total,
        "counters": counted,
    });
    // A Value of strings and integers always serializes; were it not to,
    // the client gets an empty object, which it reports, not a hang.
    let mut text = serde_json::to_string(&status).unwrap_or_else(|_| "{}".to_owned());
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{graphite, tests::session};
    use std::time::Duration;

    #[test]
    fn every_graphite_counter_is_a_64_bit_integer_and_the_fields_are_there() {
        let s = session();
        let io = IoStats {
            udp_send_errors: u64::MAX,
            refused_requests: 7,
            ..IoStats::default()
        };
        let reporting = Reporting {
            stats_prefix: "gw_a".into(),
            max_key_age: 60,
        };
        let now = Timestamp::ZERO + Duration::from_secs(61);
        let text = status_json(&s, &io, now, &reporting);
        assert!(text.ends_with("}\n") && text.lines().count() == 1, "{text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        let counted = v["counters"].as_object().unwrap();
        let lines = graphite(&s, &io, now, "gw_a", 0);
        for line in lines.lines() {
            let mut fields = line.split(' ');
            let name = fields.next().unwrap().strip_prefix("gw_a.vpnd.").unwrap();
            let want: u64 = fields.next().unwrap().parse().unwrap();
            assert_eq!(counted[name].as_u64(), Some(want), "{name} in {text}");
        }
        assert_eq!(counted.len(), lines.lines().count());
        assert_eq!(counted["udp_send_errors"].as_u64(), Some(u64::MAX));
        assert_eq!(counted["refused_requests"].as_u64(), Some(7));
        assert_eq!(v["vpnd"], env!("CARGO_PKG_VERSION"));
        assert_eq!(v["role"], "net-gw");
        assert_eq!(v["state"], "INIT");
        assert_eq!(v["peer"], "198.18.0.2:4706");
        assert!(v["session_age_secs"].is_null() && v["last_heard_secs"].is_null());
        assert_eq!(v["key"], "pre-shared");
        assert_eq!(v["max_key_age_secs"].as_u64(), Some(60));
        assert_eq!(v["sessions"].as_u64(), Some(0));
        assert_eq!(v["keys"].as_u64(), Some(0));
        assert_eq!(v["offloads"], "none");
        assert_eq!(
            v["local_nonce"],
            "112700000000000000000000000000000000000000000000"
        );
        assert_eq!(v["remote_nonce"], "00".repeat(24));
        assert_eq!(v["drops"].as_u64(), Some(0));
    }
}
