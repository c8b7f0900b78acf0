//! The tun device, for real, in a network namespace of the test's own
//! (a thread's `unshare`: nothing outside sees it, nothing is left behind).
//! Needs root: skipped with a note outside CI, fails under CI=true.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// unshare(2) has no safe wrapper; this test uses it on its own thread.
#![allow(unsafe_code)]

use std::process::Command;
use std::time::{Duration, Instant};

use rustix::thread::UnshareFlags;
use vpnd_priv::tun::{TunOffloads, open_tun};

/// Runs `f` on a thread in a fresh network namespace; `None` when the
/// process may not (not root) and this is not CI.
fn in_new_netns<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    if !rustix::process::geteuid().is_root() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run this test as root"
        );
        eprintln!("skipped: needs root for a network namespace");
        return None;
    }
    Some(
        std::thread::spawn(move || {
            // SAFETY: only the network namespace is unshared, on a thread
            // of its own; descriptor tables stay shared.
            unsafe { rustix::thread::unshare_unsafe(UnshareFlags::NEWNET) }.unwrap();
            f()
        })
        .join()
        .unwrap(),
    )
}

/// The first packet the kernel writes into the (non-blocking) tun.
fn first_packet(fd: &std::os::fd::OwnedFd) -> Vec<u8> {
    let mut buf = vec![0u8; 70_000];
    let start = Instant::now();
    loop {
        match rustix::io::read(fd, &mut buf) {
            Ok(n) if n > 0 => return buf[..n].to_vec(),
            _ if start.elapsed() > Duration::from_secs(10) => panic!("no packet from the kernel"),
            _ => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

fn ip(args: &[&str]) -> std::process::Output {
    Command::new("ip").args(args).output().unwrap()
}

#[test]
fn a_tun_without_packet_information_appears_and_vanishes() {
    let result = in_new_netns(|| {
        let name = "vpndtest0".parse().unwrap();
        let (fd, offloads) = open_tun(&name, false).unwrap();
        assert_eq!(offloads, TunOffloads::default());
        let shown = ip(&["-o", "link", "show", "vpndtest0"]);
        assert!(shown.status.success(), "{shown:?}");
        assert!(String::from_utf8_lossy(&shown.stdout).contains("POINTOPOINT"));
        // Up with an IPv6 link-local address, the kernel sends router
        // solicitations or MLD reports into it: bare IPv6, no 4-byte header.
        assert!(
            ip(&["link", "set", "dev", "vpndtest0", "up"])
                .status
                .success()
        );
        let first = first_packet(&fd)[0];
        assert_eq!(
            first >> 4,
            6,
            "not a bare IPv6 packet: first byte {first:#x}"
        );
        drop(fd);
        assert!(
            !ip(&["link", "show", "vpndtest0"]).status.success(),
            "the tun outlived its descriptor"
        );
        // A name the kernel refuses is named in the error.
        let e = open_tun(&"lo".parse().unwrap(), true)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("lo: cannot create the tun interface"), "{e}");
    });
    let _ = result;
}

#[test]
fn with_offloads_every_packet_has_a_virtio_net_header() {
    let result = in_new_netns(|| {
        let name = "vpndtest1".parse().unwrap();
        let (fd, offloads) = open_tun(&name, true).unwrap();
        // Linux 6.2 and later have all three (this machine and CI: 6.x).
        assert_eq!(
            offloads,
            TunOffloads {
                vnet_hdr: true,
                tso: true,
                uso: true,
                af_header: false,
            }
        );
        let shown = ip(&["-d", "link", "show", "vpndtest1"]);
        assert!(shown.status.success(), "{shown:?}");
        assert!(
            ip(&["link", "set", "dev", "vpndtest1", "up"])
                .status
                .success()
        );
        let buf = first_packet(&fd);
        assert!(buf.len() > vpnd_offload::vnet::LEN);
        let header = vpnd_offload::vnet::Header::parse(&buf).unwrap();
        assert_eq!(header.gso_type, vpnd_offload::vnet::GSO_NONE, "{header:?}");
        assert_eq!(
            buf[vpnd_offload::vnet::LEN] >> 4,
            6,
            "IPv6 after the header"
        );
    });
    let _ = result;
}
