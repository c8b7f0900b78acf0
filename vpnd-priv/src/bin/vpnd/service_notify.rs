//! The readiness notification of systemd (`Type=notify`): when the service
//! manager names a socket in `NOTIFY_SOCKET`, vpnd in the foreground tells
//! it `READY=1` once the tunnel is set up and `STATUS=` with the error when
//! the start fails. A few lines of the documented datagram protocol
//! (sd_notify(3)), so no library is needed; elsewhere nothing happens.

use std::ffi::OsString;
use std::os::unix::net::UnixDatagram;

/// The service manager's socket, if it gave one.
#[derive(Debug)]
pub struct ServiceNotify {
    socket: Option<OsString>,
}

impl ServiceNotify {
    /// From `NOTIFY_SOCKET` (a path, or `@name` for Linux's abstract
    /// namespace).
    pub fn from_env() -> ServiceNotify {
        ServiceNotify::from_value(std::env::var_os("NOTIFY_SOCKET"))
    }

    /// From the value of `NOTIFY_SOCKET`: unset or empty names no socket.
    fn from_value(value: Option<OsString>) -> ServiceNotify {
        ServiceNotify {
            socket: value.filter(|s| !s.is_empty()),
        }
    }

    /// Start-up is done.
    pub fn ready(&self) {
        let _ = self.send(&format!("READY=1\nMAINPID={}\n", std::process::id()));
    }

    /// Start-up failed with `message`.
    pub fn failed(&self, message: &str) {
        let one_line = message.replace('\n', " ");
        let _ = self.send(&format!("STATUS={one_line}\n"));
    }

    /// Sends `text` if a socket was named: `None` when none was, else
    /// what sending gave. Best effort: the callers drop a failure, as the
    /// service manager only loses a status line.
    fn send(&self, text: &str) -> Option<std::io::Result<usize>> {
        let socket = self.socket.as_ref()?;
        Some(UnixDatagram::unbound().and_then(|sock| send_to(&sock, socket, text.as_bytes())))
    }
}

#[cfg(target_os = "linux")]
fn send_to(sock: &UnixDatagram, socket: &OsString, bytes: &[u8]) -> std::io::Result<usize> {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::net::SocketAddr;
    match socket.as_bytes().strip_prefix(b"@") {
        Some(name) => sock.send_to_addr(bytes, &SocketAddr::from_abstract_name(name)?),
        None => sock.send_to(bytes, socket),
    }
}

/// No abstract namespace here: the name is always a path (FreeBSD's unix(4):
/// the family "uses file system pathnames for addressing", and "All
/// addresses are absolute- or relative-pathnames").
#[cfg(not(target_os = "linux"))]
fn send_to(sock: &UnixDatagram, socket: &OsString, bytes: &[u8]) -> std::io::Result<usize> {
    sock.send_to(bytes, socket)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_and_failure_reach_the_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let manager = UnixDatagram::bind(&path).unwrap();
        let n = ServiceNotify {
            socket: Some(path.clone().into_os_string()),
        };
        n.ready();
        n.failed("peer: does not resolve\nat all");
        let mut buf = [0u8; 256];
        let len = manager.recv(&mut buf).unwrap();
        let text = std::str::from_utf8(&buf[..len]).unwrap();
        assert_eq!(text, format!("READY=1\nMAINPID={}\n", std::process::id()));
        let len = manager.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"STATUS=peer: does not resolve at all\n");
    }

    #[test]
    fn without_a_socket_nothing_is_sent() {
        for unset in [None, Some(OsString::new())] {
            let n = ServiceNotify::from_value(unset);
            assert!(n.socket.is_none());
            assert!(n.send("READY=1\n").is_none());
        }
    }

    #[test]
    fn a_socket_nobody_listens_on_is_an_error_dropped() {
        let n = ServiceNotify::from_value(Some("/nonexistent/notify".into()));
        assert!(matches!(n.send("READY=1\n"), Some(Err(_))));
        n.ready();
        n.failed("peer: does not resolve");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn an_abstract_socket_is_reached() {
        use std::os::linux::net::SocketAddrExt;
        use std::os::unix::net::SocketAddr;
        let name = format!("vpnd-notify-test-{}", std::process::id());
        let address = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let manager = UnixDatagram::bind_addr(&address).unwrap();
        let n = ServiceNotify::from_value(Some(format!("@{name}").into()));
        n.ready();
        let mut buf = [0u8; 256];
        let len = manager.recv(&mut buf).unwrap();
        assert_eq!(
            &buf[..len],
            format!("READY=1\nMAINPID={}\n", std::process::id()).as_bytes()
        );
    }
}
