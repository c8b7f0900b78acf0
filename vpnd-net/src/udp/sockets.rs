//! The network process's UDP sockets, and which one a datagram leaves by.
//!
//! Where a send may name its destination ([`UdpSends::Addressed`]) the
//! socket from the start message does everything. Where it may not
//! ([`UdpSends::Connected`]: FreeBSD's capability mode refuses such a send,
//! sandbox/freebsd.rs) that socket only receives, from any sender, and the
//! datagrams for the peer leave by a socket the parent bound to the same
//! port and connected to the peer, on a request its policy checks
//! (doc/design.md, "Platforms"). Until that socket arrives, the control
//! datagrams for the new address wait here (a few: they start or answer a
//! key exchange, and the peer would otherwise wait for its retry) and DATA
//! is dropped and counted as a refused send.

use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::time::Duration;

use vpnd_proto::Timestamp;
use vpnd_proto::ipc::UdpSends;

use crate::addr;

/// Control datagrams held for an address the parent has not connected yet.
pub const HELD: usize = 8;

/// After a refusal, how long before the parent is asked again.
pub const RETRY_AFTER: Duration = Duration::from_secs(1);

/// The socket connected to the peer.
#[derive(Debug)]
struct PeerSocket {
    /// The peer as the batch writes destinations (socket form).
    to: SocketAddr,
    fd: OwnedFd,
}

/// Where the request for a connected socket stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Request {
    /// Nothing wanted.
    Idle,
    /// A send wanted this address (socket form); not asked yet.
    Wanted(SocketAddr),
    /// Asked; waiting for the answer.
    Asked(SocketAddr),
}

/// A `PeerConnected` or `PeerRefused` for an address that was not asked
/// for: the parent never sends one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an answer for {0}, which was not asked for")]
pub struct NotAsked(pub SocketAddr);

/// The sockets, and the connected socket's request.
#[derive(Debug)]
pub struct UdpSockets {
    listener: OwnedFd,
    is_v6: bool,
    sends: UdpSends,
    peer: Option<PeerSocket>,
    request: Request,
    /// After a refusal: nothing is asked before this time.
    quiet_until: Option<Timestamp>,
    held: Vec<Vec<u8>>,
}

impl UdpSockets {
    /// The socket from the start message (bound to `local_port`), sending
    /// as `sends` says.
    pub fn new(listener: OwnedFd, sends: UdpSends) -> UdpSockets {
        let is_v6 = matches!(
            rustix::net::getsockname(&listener)
                .ok()
                .and_then(|a| SocketAddr::try_from(a).ok()),
            Some(SocketAddr::V6(_))
        );
        UdpSockets {
            listener,
            is_v6,
            sends,
            peer: None,
            request: Request::Idle,
            quiet_until: None,
            held: Vec::new(),
        }
    }

    /// The socket that hears every sender.
    pub fn listener(&self) -> &OwnedFd {
        &self.listener
    }

    /// The socket connected to the peer, if there is one.
    pub fn peer_socket(&self) -> Option<&OwnedFd> {
        self.peer.as_ref().map(|p| &p.fd)
    }

    /// `addr` as a destination on these sockets (IPv4 as mapped IPv6 on
    /// an IPv6 socket).
    pub fn destination(&self, addr: SocketAddr) -> SocketAddr {
        addr::for_socket(addr, self.is_v6)
    }

    /// The socket a datagram for `to` (socket form) leaves by, and the
    /// address to name (`None` on a socket connected to it); `None` when
    /// no socket may send to `to` yet.
    pub fn route(&self, to: SocketAddr) -> Option<(&OwnedFd, Option<SocketAddr>)> {
        match (self.sends, &self.peer) {
            (UdpSends::Addressed, _) => Some((&self.listener, Some(to))),
            (UdpSends::Connected, Some(p)) if p.to == to => Some((&p.fd, None)),
            (UdpSends::Connected, _) => None,
        }
    }

    /// A datagram for `to` found no socket ([`route`](Self::route)):
    /// the parent is to be asked for one, and a control datagram waits
    /// for it (at most [`HELD`], for the latest address only). True if
    /// the datagram was kept.
    pub fn unrouted(&mut self, to: SocketAddr, control: Option<&[u8]>) -> bool {
        match self.request {
            Request::Asked(a) | Request::Wanted(a) if a == to => {}
            Request::Asked(_) => {
                // The answer for the old address comes first; a later
                // send asks for this one.
                self.held.clear();
                return false;
            }
            Request::Idle | Request::Wanted(_) => {
                self.held.clear();
                self.request = Request::Wanted(to);
            }
        }
        match control {
            Some(datagram) if self.held.len() < HELD => {
                self.held.push(datagram.to_vec());
                true
            }
            _ => false,
        }
    }

    /// The address to ask the parent to connect to (canonical, as the
    /// session knows it): once per address, and not within [`RETRY_AFTER`]
    /// of a refusal.
    pub fn take_request(&mut self, now: Timestamp) -> Option<SocketAddr> {
        if self.quiet_until.is_some_and(|t| now < t) {
            return None;
        }
        match self.request {
            Request::Wanted(to) => {
                self.request = Request::Asked(to);
                Some(addr::canonical(to))
            }
            _ => None,
        }
    }

    /// The parent connected `fd` to `peer` (canonical), as asked, or
    /// renewed the socket connected to it (its source address changed):
    /// sends to it leave by it now. Returns the socket it replaces (to
    /// take off the poller and close) and the control datagrams held for
    /// it, in order.
    pub fn connected(
        &mut self,
        peer: SocketAddr,
        fd: OwnedFd,
    ) -> Result<(Option<OwnedFd>, Vec<Vec<u8>>), NotAsked> {
        let to = self.destination(peer);
        let held = if self.request == Request::Asked(to) {
            self.request = Request::Idle;
            std::mem::take(&mut self.held)
        } else if self.peer.as_ref().is_some_and(|p| p.to == to) {
            Vec::new()
        } else {
            return Err(NotAsked(peer));
        };
        let old = self.peer.replace(PeerSocket { to, fd }).map(|p| p.fd);
        Ok((old, held))
    }

    /// The parent refused to connect to `peer` (canonical): what was held
    /// for it is dropped; nothing is asked for [`RETRY_AFTER`].
    pub fn refused(&mut self, peer: SocketAddr, now: Timestamp) -> Result<(), NotAsked> {
        if self.request != Request::Asked(self.destination(peer)) {
            return Err(NotAsked(peer));
        }
        self.held.clear();
        self.request = Request::Idle;
        self.quiet_until = Some(now + RETRY_AFTER);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;

    fn sockets(sends: UdpSends) -> UdpSockets {
        let s = UdpSocket::bind("[::]:0").unwrap();
        UdpSockets::new(OwnedFd::from(s), sends)
    }

    fn fd() -> OwnedFd {
        OwnedFd::from(UdpSocket::bind("127.0.0.1:0").unwrap())
    }

    const PEER: &str = "198.18.0.2:4706";

    #[test]
    fn addressed_sends_name_the_destination_on_the_one_socket() {
        let s = sockets(UdpSends::Addressed);
        let to = s.destination(PEER.parse().unwrap());
        assert_eq!(to.to_string(), "[::ffff:198.18.0.2]:4706");
        let (fd, name) = s.route(to).unwrap();
        assert!(std::ptr::eq(fd, s.listener()));
        assert_eq!(name, Some(to));
    }

    #[test]
    fn connected_sends_wait_for_the_parents_socket() {
        let now = vpnd_proto::Timestamp::ZERO;
        let mut s = sockets(UdpSends::Connected);
        let peer: SocketAddr = PEER.parse().unwrap();
        let to = s.destination(peer);
        assert!(s.route(to).is_none());
        // Control datagrams wait (up to HELD), DATA does not; one request.
        assert!(!s.unrouted(to, None));
        for k in 0..HELD + 2 {
            assert_eq!(s.unrouted(to, Some(&[k as u8])), k < HELD);
        }
        assert_eq!(s.take_request(now), Some(peer));
        assert_eq!(s.take_request(now), None);
        assert!(!s.unrouted(to, None));
        assert_eq!(s.take_request(now), None, "asked once");
        let (old, held) = s.connected(peer, fd()).unwrap();
        assert!(old.is_none());
        assert_eq!(held, (0..HELD as u8).map(|k| vec![k]).collect::<Vec<_>>());
        let (_, name) = s.route(to).unwrap();
        assert_eq!(name, None, "a connected socket names no destination");
        // The parent renews the socket of the peer unasked (its source
        // address changed); a socket for another address nobody asked for
        // is the parent's error.
        let (old, held) = s.connected(peer, fd()).unwrap();
        assert!(old.is_some() && held.is_empty());
        let other: SocketAddr = "198.18.0.7:4706".parse().unwrap();
        assert_eq!(s.connected(other, fd()).unwrap_err(), NotAsked(other));
    }

    #[test]
    fn a_move_replaces_the_socket_and_a_refusal_waits_before_asking_again() {
        let now = vpnd_proto::Timestamp::ZERO;
        let mut s = sockets(UdpSends::Connected);
        let (first, second): (SocketAddr, SocketAddr) =
            (PEER.parse().unwrap(), "198.18.0.3:4706".parse().unwrap());
        s.unrouted(s.destination(first), None);
        assert_eq!(s.take_request(now), Some(first));
        s.connected(first, fd()).unwrap();
        // The peer moved.
        assert!(s.route(s.destination(second)).is_none());
        s.unrouted(s.destination(second), Some(b"k"));
        assert_eq!(s.take_request(now), Some(second));
        assert!(s.refused(first, now).is_err(), "not the address asked");
        s.refused(second, now).unwrap();
        s.unrouted(s.destination(second), Some(b"k"));
        assert_eq!(s.take_request(now), None, "within RETRY_AFTER");
        let later = now + RETRY_AFTER;
        assert_eq!(s.take_request(later), Some(second));
        let (old, held) = s.connected(second, fd()).unwrap();
        assert!(old.is_some(), "the first peer's socket, to close");
        assert_eq!(held, [b"k".to_vec()], "held since the refusal");
        assert!(s.route(s.destination(first)).is_none());
    }
}
