//! The harness of vpnd's end-to-end tests: network namespaces that delete
//! themselves, vpnd daemons that stop themselves, key pairs and
//! configurations, traffic from threads placed inside a namespace.
//!
//! Everything is named uniquely per test process and test, so tests run
//! in parallel; addresses come from 198.18.0.0/15 only. Under `CI=true` a
//! test that lacks root or a tool fails; elsewhere it is skipped loudly
//! (`can_run!`, `has_tools!`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod capture;
pub mod daemon;
pub mod manual;
pub mod netns;
pub mod numbered;
pub mod pair;
pub mod prerequisites;
pub mod procstat;
pub mod relay;
pub mod rogue;
pub mod site;
pub mod traffic;

/// A name unique to this process and `tag`, at most 15 bytes (an
/// interface name's limit).
pub fn unique(tag: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let name = format!("{tag}{}x{n}", std::process::id() % 100_000);
    assert!(name.len() <= 15, "name {name} too long");
    name
}

/// The workspace's target directory's binary `name` (built by `cargo
/// build`, which `cargo test` of the workspace does first).
pub fn binary(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/<test> (a test) or target/<profile>/<binary>
    // (vpnd-soak) -> target/<profile>/<name>
    let mut dir = exe.parent().unwrap();
    if dir.ends_with("deps") {
        dir = dir.parent().unwrap();
    }
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --workspace --bins` first (scripts/test does)",
        path.display()
    );
    path
}
