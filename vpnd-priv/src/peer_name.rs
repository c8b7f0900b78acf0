//! Looking `remote_host` up: once at start ([`resolve`], which may wait),
//! and again while vpnd runs ([`Lookups`]: when the network process says
//! its peer is dead, and on SIGHUP) in a thread of its own with a
//! deadline, since a resolver can take far longer than the parent's loop
//! may stand still (getaddrinfo retries each nameserver, and vpnd sets no
//! limit of its own on it). One lookup at a time: a request while one runs
//! joins it, and one that outlived its deadline must end before the next
//! starts, so a hanging resolver costs one thread, not one per request.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use vpnd_proto::config::Remote;

/// How long the parent waits for a lookup's answer while it runs.
pub const LOOKUP_DEADLINE: Duration = Duration::from_secs(10);

/// `remote` (`remote_host` and `remote_port`) resolved, in the resolver's
/// order; blocks until the resolver answers. The error is the resolver's,
/// or that the name has no address.
pub fn resolve(remote: &Remote) -> Result<Vec<SocketAddr>, String> {
    let found: Vec<SocketAddr> = (remote.host.as_str(), remote.port)
        .to_socket_addrs()
        .map_err(|e| e.to_string())?
        .collect();
    if found.is_empty() {
        return Err("resolves to no address".to_owned());
    }
    Ok(found)
}

/// The address to send to among `found`: the one in use while it is
/// still among them (a name with several addresses does not move the
/// tunnel at each lookup), else the first, as at start.
pub fn choose(found: &[SocketAddr], current: Option<SocketAddr>) -> Option<SocketAddr> {
    current
        .filter(|c| found.contains(c))
        .or_else(|| found.first().copied())
}

/// Who wanted a lookup: the network process's answer depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asker {
    /// The network process (`ResolvePeer`): it is answered with the
    /// address found, changed or not.
    Net,
    /// SIGHUP: the network process hears of a changed address only.
    Signal,
}

/// How a lookup ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The resolver's addresses, or its error.
    Answered(Result<Vec<SocketAddr>, String>),
    /// No answer within [`LOOKUP_DEADLINE`]: ignored when it comes.
    TimedOut,
}

/// A lookup that runs.
#[derive(Debug)]
struct Running {
    answer: Receiver<Result<Vec<SocketAddr>, String>>,
    deadline: Instant,
    /// The network process asked (the answer goes to it whatever it is).
    net_asked: bool,
}

/// The lookups of `remote_host` while vpnd runs.
#[derive(Debug)]
pub struct Lookups {
    remote: Remote,
    running: Option<Running>,
    /// The last lookup's thread, kept until it ends (it may outlive its
    /// deadline).
    thread: Option<JoinHandle<()>>,
    /// Wakes the parent's loop when an answer comes.
    waker: Option<Arc<mio::Waker>>,
}

impl Lookups {
    /// The lookups of `remote`.
    pub fn new(remote: Remote) -> Self {
        Lookups {
            remote,
            running: None,
            thread: None,
            waker: None,
        }
    }

    /// `remote_host` as configured.
    pub fn name(&self) -> &str {
        self.remote.host.as_str()
    }

    /// From now on an answer wakes the loop through `waker`.
    pub fn wake_with(&mut self, waker: Arc<mio::Waker>) {
        self.waker = Some(waker);
    }

    /// Starts a lookup for `asker` at `now`, or joins the one that runs.
    /// Returns false when none could start: the last one still runs past
    /// its deadline, or no thread could be made (logged).
    pub fn start(&mut self, asker: Asker, now: Instant) -> bool {
        if let Some(running) = &mut self.running {
            running.net_asked |= asker == Asker::Net;
            return true;
        }
        if self.thread.as_ref().is_some_and(|t| !t.is_finished()) {
            log::warn!(
                "remote_host {}: the last lookup has not ended after {} s; not starting another",
                self.name(),
                LOOKUP_DEADLINE.as_secs()
            );
            return false;
        }
        let (tell, answer) = mpsc::channel();
        let (remote, waker) = (self.remote.clone(), self.waker.clone());
        let spawned = std::thread::Builder::new()
            .name("remote_host".to_owned())
            .spawn(move || {
                // The parent may have stopped waiting: then nobody hears.
                let _ = tell.send(resolve(&remote));
                if let Some(w) = waker {
                    let _ = w.wake();
                }
            });
        match spawned {
            Ok(thread) => {
                self.thread = Some(thread);
                self.running = Some(Running {
                    answer,
                    deadline: now + LOOKUP_DEADLINE,
                    net_asked: asker == Asker::Net,
                });
                true
            }
            Err(e) => {
                log::error!("remote_host {}: no thread to look it up: {e}", self.name());
                false
            }
        }
    }

    /// The lookup's end, once it has one at `now`, and whether the network
    /// process asked for it.
    pub fn poll(&mut self, now: Instant) -> Option<(Outcome, bool)> {
        let running = self.running.as_ref()?;
        let outcome = match running.answer.try_recv() {
            Ok(answer) => Outcome::Answered(answer),
            Err(TryRecvError::Disconnected) => {
                Outcome::Answered(Err("the lookup ended without an answer".to_owned()))
            }
            Err(TryRecvError::Empty) if now >= running.deadline => Outcome::TimedOut,
            Err(TryRecvError::Empty) => return None,
        };
        let net_asked = running.net_asked;
        self.running = None;
        Some((outcome, net_asked))
    }

    /// When the running lookup's deadline passes.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.running.as_ref().map(|r| r.deadline)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(list: &[&str]) -> Vec<SocketAddr> {
        list.iter().map(|a| a.parse().unwrap()).collect()
    }

    #[test]
    fn the_address_in_use_stays_while_the_name_has_it() {
        let found = addrs(&["198.18.0.5:4706", "198.18.0.2:4706"]);
        let current = "198.18.0.2:4706".parse().ok();
        assert_eq!(choose(&found, current), current);
        let moved = "198.18.0.9:4706".parse().ok();
        assert_eq!(choose(&found, moved), Some(found[0]));
        assert_eq!(choose(&found, None), Some(found[0]));
        assert_eq!(choose(&[], current), None);
    }

    fn remote(host: &str) -> Remote {
        Remote {
            host: host.parse().unwrap(),
            port: 4706,
        }
    }

    #[test]
    fn a_lookup_answers_in_its_thread_and_a_second_request_joins_it() {
        let mut l = Lookups::new(remote("198.18.0.2"));
        let now = Instant::now();
        assert!(l.poll(now).is_none());
        assert!(l.start(Asker::Signal, now));
        assert!(l.start(Asker::Net, now), "joined");
        assert_eq!(l.next_deadline(), Some(now + LOOKUP_DEADLINE));
        let deadline = Instant::now() + Duration::from_secs(5);
        let (outcome, net_asked) = loop {
            if let Some(done) = l.poll(now) {
                break done;
            }
            assert!(Instant::now() < deadline, "no answer");
            std::thread::sleep(Duration::from_millis(5));
        };
        assert_eq!(outcome, Outcome::Answered(Ok(addrs(&["198.18.0.2:4706"]))));
        assert!(net_asked);
        assert_eq!(l.next_deadline(), None);
    }

    #[test]
    fn a_lookup_ends_when_its_thread_fails_or_its_deadline_passes() {
        let mut l = Lookups::new(remote("198.18.0.2"));
        let now = Instant::now();
        assert!(l.start(Asker::Net, now));
        // A thread that ended without an answer (its sender dropped).
        l.running = l.running.take().map(|r| Running {
            answer: mpsc::channel().1,
            ..r
        });
        assert!(matches!(
            l.poll(now),
            Some((Outcome::Answered(Err(_)), true))
        ));
        let late = now + LOOKUP_DEADLINE;
        let (_tell, answer) = mpsc::channel();
        l.running = Some(Running {
            answer,
            deadline: now,
            net_asked: false,
        });
        assert_eq!(l.poll(late), Some((Outcome::TimedOut, false)));
        assert!(l.poll(late).is_none());
        // Its thread still hangs: no second one until it ends.
        let (release, hang) = mpsc::channel::<()>();
        l.thread = Some(std::thread::spawn(move || {
            let _ = hang.recv();
        }));
        assert!(!l.start(Asker::Net, late));
        assert_eq!(l.next_deadline(), None);
        drop(release);
        if let Some(t) = l.thread.take() {
            t.join().unwrap();
        }
        assert!(l.start(Asker::Net, late));
    }
}
