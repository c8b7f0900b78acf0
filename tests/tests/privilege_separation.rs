//! The network process as the kernel sees it (`/proc`): the unprivileged
//! user's uid, gid and groups, every capability set empty, no-new-privs,
//! the system-call filter (seccomp mode 2),
//! its root the chroot directory, and only the descriptors it needs: none
//! of them one of root's (its terminal, its log).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use vpnd_tests::pair::Pair;

fn field<'a>(status: &'a str, name: &str) -> &'a str {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .unwrap_or_else(|| panic!("{name} missing in status"))
        .trim()
}

#[test]
fn the_network_process_is_unprivileged_chrooted_and_holds_only_its_descriptors() {
    if !vpnd_tests::can_run!() {
        return;
    }
    let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
    let (uid, gid) = (nobody.uid.as_raw(), nobody.gid.as_raw());
    let pair = Pair::new("priv", "");
    let (da, _db) = pair.start_both();
    let net = da.net_pid().unwrap();
    let status = std::fs::read_to_string(format!("/proc/{net}/status")).unwrap();
    assert_eq!(field(&status, "Uid"), format!("{uid}\t{uid}\t{uid}\t{uid}"));
    assert_eq!(field(&status, "Gid"), format!("{gid}\t{gid}\t{gid}\t{gid}"));
    assert_eq!(field(&status, "Groups"), gid.to_string());
    for set in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        assert_eq!(field(&status, set), "0000000000000000", "{set}");
    }
    assert_eq!(field(&status, "NoNewPrivs"), "1");
    assert_eq!(field(&status, "Seccomp"), "2", "system-call filter");
    let root = std::fs::read_link(format!("/proc/{net}/root")).unwrap();
    assert_eq!(root, pair.dir.join("empty"));

    // 0-2, the IPC socket, the tun, the UDP and stats sockets, the poller
    // and, vpnd being in the foreground, the console: a pipe the parent
    // relays its standard input into, not that input itself.
    let roots: Vec<String> = (0..=2)
        .map(|n| {
            let t = std::fs::read_link(format!("/proc/{}/fd/{n}", da.pid())).unwrap();
            t.to_string_lossy().into_owned()
        })
        .collect();
    let mut fds: Vec<(i32, String)> = std::fs::read_dir(format!("/proc/{net}/fd"))
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let n = e.file_name().to_string_lossy().parse().unwrap();
            let target = std::fs::read_link(e.path()).unwrap();
            (n, target.to_string_lossy().into_owned())
        })
        .collect();
    fds.sort();
    let kinds: Vec<&str> = fds
        .iter()
        .filter(|(n, _)| *n > 2)
        .map(|(_, t)| match t.as_str() {
            "/dev/net/tun" => "tun",
            t if t.starts_with("socket:") => "socket",
            t if t.contains("eventpoll") => "poller",
            t if t.starts_with("pipe:") && !roots.iter().any(|r| r == t) => "console",
            other => panic!("unexpected descriptor {other}: {fds:?}"),
        })
        .collect();
    let count = |k| kinds.iter().filter(|x| **x == k).count();
    assert_eq!(
        (
            count("socket"),
            count("tun"),
            count("poller"),
            count("console")
        ),
        (3, 1, 1, 1),
        "{fds:?}"
    );
    assert_eq!(kinds.len(), 6, "{fds:?}");
    // Input and output are /dev/null, errors a pipe the parent reads:
    // never root's terminal or log, nor any descriptor of the parent's.
    let standard: Vec<&str> = fds
        .iter()
        .filter(|(n, _)| *n <= 2)
        .map(|(_, t)| t.as_str())
        .collect();
    assert_eq!(standard[..2], ["/dev/null", "/dev/null"], "{fds:?}");
    assert!(
        standard[2].starts_with("pipe:") && !roots.iter().any(|r| r == standard[2]),
        "errors to {}, the parent's are {roots:?}",
        standard[2]
    );
    assert_ne!(standard[2], da.log.to_string_lossy(), "{fds:?}");
    // Non-blocking at its end: a parent that does not read costs log
    // lines, not the packet path.
    let fdinfo = std::fs::read_to_string(format!("/proc/{net}/fdinfo/2")).unwrap();
    let flags = u32::from_str_radix(field(&fdinfo, "flags"), 8).unwrap();
    assert_ne!(flags & nix::libc::O_NONBLOCK as u32, 0, "{fdinfo}");
    // The parent still runs as root: it owns the network.
    let parent = std::fs::read_to_string(format!("/proc/{}/status", da.pid())).unwrap();
    assert!(field(&parent, "Uid").starts_with("0\t"));
}
