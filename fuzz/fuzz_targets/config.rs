//! Configuration files. Invariants: no panic; every error names a line
//! of the file; a configuration that parses prints (secret included) to a
//! text that parses to the same configuration, and `stats_path` read
//! alone is the one it holds.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use vpnd_proto::config::{self, Secrets};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("fuzz.conf");
    match config::parse(path, text) {
        Ok(c) => {
            let alone = config::parse_stats_path(path, text).expect("stats_path alone parses");
            assert_eq!(alone, c.stats_path);
            let printed = c.to_text(Secrets::Included);
            assert_eq!(config::parse(path, &printed).expect("printed parses"), c);
        }
        Err(errors) => {
            assert!(!errors.to_string().is_empty());
        }
    }
});
