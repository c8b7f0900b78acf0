//! Configuration files. Invariants: no panic; every error names a line
//! of the file; a configuration that parses prints (secret included) to a
//! text that parses to the same configuration.

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
            let printed = c.to_text(Secrets::Included);
            assert_eq!(config::parse(path, &printed).expect("printed parses"), c);
        }
        Err(errors) => {
            assert!(!errors.to_string().is_empty());
        }
    }
});
