//! Validated configuration values that have no better home.

use crate::text::text_value;

/// A configuration value made by [`text_value!`]: it does not start with
/// '-' (the value may end up in an argument vector), and its errors name
/// the type, the limit and the characters it takes.
macro_rules! config_text {
    ($(#[$doc:meta])* $name:ident, $error:ident, $max:literal, $ok:expr, $what:literal) => {
        text_value! {
            $(#[$doc])*
            $name,
            #[doc = concat!("Why a text is not a [`", stringify!($name), "`].")]
            $error,
            max: $max,
            bytes: $ok,
            whole: |s| !s.starts_with('-'),
            too_long: concat!(
                stringify!($name), ": wrong length ",
                "(1 to ", stringify!($max), " of ", $what, ")"
            ),
            not_allowed: concat!(
                stringify!($name), ": character not allowed ",
                "(1 to ", stringify!($max), " of ", $what, ")"
            ),
        }
    };
}

config_text!(
    /// `remote_host`: a DNS name or an IPv4/IPv6 literal.
    RemoteHost,
    RemoteHostError,
    253,
    |b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'_' | b'%'),
    "letters, digits, '.', '-', ':', '_', '%'"
);

config_text!(
    /// `stats_prefix`: the first component of every Graphite metric name.
    StatsPrefix,
    StatsPrefixError,
    63,
    |b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'),
    "letters, digits, '.', '-', '_'"
);

config_text!(
    /// `user`: a POSIX user name.
    UserName,
    UserNameError,
    32,
    |b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-'),
    "lower-case letters, digits, '_', '-'"
);

config_text!(
    /// `stats_group`: a group name (POSIX's portable characters).
    GroupName,
    GroupNameError,
    32,
    |b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'),
    "letters, digits, '_', '-', '.'"
);

impl StatsPrefix {
    /// A prefix from a host name: dots would split the metric path, so
    /// they become underscores, as the deployed peer does; other characters
    /// that Graphite does not take are dropped. `None` if nothing is left.
    pub fn from_host_name(name: &str) -> Option<StatsPrefix> {
        let cleaned: String = name
            .chars()
            .filter_map(|c| match c {
                '.' => Some('_'),
                c if c.is_ascii_alphanumeric() || c == '-' || c == '_' => Some(c),
                _ => None,
            })
            .take(Self::MAX_LEN)
            .collect();
        cleaned.trim_start_matches('-').parse().ok()
    }

    /// This prefix followed by `.NAME` for a named instance, so that each
    /// instance's metrics have a path of their own below the host's; this
    /// prefix is shortened to make room for the name.
    pub fn with_instance(self, instance: Option<&super::InstanceName>) -> StatsPrefix {
        let Some(name) = instance else {
            return self;
        };
        let room = Self::MAX_LEN.saturating_sub(name.as_str().len() + 1);
        let head: String = self.0.chars().take(room).collect();
        format!("{head}.{name}").parse().unwrap_or(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_check_length_and_characters() {
        assert!("gw-1.example.net".parse::<RemoteHost>().is_ok());
        assert!("2001:2::1".parse::<RemoteHost>().is_ok());
        assert!("-oProxy".parse::<RemoteHost>().is_err());
        assert!("a b".parse::<RemoteHost>().is_err());
        assert!("a".repeat(254).parse::<RemoteHost>().is_err());
        assert!("_vpnd".parse::<UserName>().is_ok());
        assert!("Root".parse::<UserName>().is_err());
        assert!("Domain.Users-1".parse::<GroupName>().is_ok());
        assert!("-wheel".parse::<GroupName>().is_err());
        assert!("a:b".parse::<GroupName>().is_err());
        assert!("gw_a".parse::<StatsPrefix>().is_ok());
        assert!("gw a".parse::<StatsPrefix>().is_err());
        assert!("".parse::<StatsPrefix>().is_err());
    }

    #[test]
    fn errors_name_the_type_the_limit_and_the_characters() {
        assert_eq!("".parse::<UserName>(), Err(UserNameError::Length));
        assert_eq!("-x".parse::<UserName>(), Err(UserNameError::Character));
        assert_eq!(
            "a b".parse::<RemoteHost>().unwrap_err().to_string(),
            "RemoteHost: character not allowed (1 to 253 of letters, digits, '.', '-', ':', '_', '%')"
        );
        assert_eq!(
            "a".repeat(64)
                .parse::<StatsPrefix>()
                .unwrap_err()
                .to_string(),
            "StatsPrefix: wrong length (1 to 63 of letters, digits, '.', '-', '_')"
        );
    }

    #[test]
    fn a_named_instance_has_its_own_path_below_the_host() {
        let host = StatsPrefix::from_host_name("gw1.example.net").unwrap();
        let alice: super::super::InstanceName = "alice".parse().unwrap();
        assert_eq!(
            host.clone().with_instance(Some(&alice)).as_str(),
            "gw1_example_net.alice"
        );
        assert_eq!(host.clone().with_instance(None), host);
        let long = StatsPrefix::from_host_name(&"h".repeat(63)).unwrap();
        let longest: super::super::InstanceName = "n".repeat(32).parse().unwrap();
        let both = long.with_instance(Some(&longest));
        assert_eq!(both.as_str().len(), StatsPrefix::MAX_LEN);
        assert!(both.as_str().ends_with(&format!(".{}", "n".repeat(32))));
    }

    #[test]
    fn host_names_become_prefixes() {
        assert_eq!(
            StatsPrefix::from_host_name("gw1.example.net")
                .unwrap()
                .as_str(),
            "gw1_example_net"
        );
        assert_eq!(
            StatsPrefix::from_host_name("é").map(|p| p.to_string()),
            None
        );
    }
}
