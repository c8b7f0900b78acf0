//! The undo record: everything vpnd changed on the system (the network
//! changes in the ledger, the stats socket, the tun kept open and, where
//! it outlives its descriptors, the tun interface itself, the pid file),
//! undone when it is dropped, so that no exit path leaves anything behind.
//! A panic runs no destructor in a release build: each record here is
//! also kept for the panic hook ([`last_resort`](crate::last_resort)).

use std::os::fd::OwnedFd;
use std::path::PathBuf;

use crate::exec::Executor;
use crate::last_resort;
use crate::netconf::Platform;
use crate::pid_file::PidFile;

/// What vpnd changed on the system; dropping it undoes all of it, newest
/// first.
#[derive(Debug)]
pub struct Cleanup<P: Platform> {
    /// Makes the network changes and keeps their ledger.
    pub executor: Executor<P>,
    /// The stats socket's path, once it is created.
    stats_path: Option<PathBuf>,
    /// A second descriptor of the tun, so that the device outlives the
    /// network process until its changes are undone (a Linux tun vanishes
    /// with its last descriptor; a BSD one is destroyed after them). The
    /// parent never reads or writes it.
    tun: Option<OwnedFd>,
    /// The pid file, removed when dropped, after the rest.
    _pid_file: PidFile,
}

impl<P: Platform> Cleanup<P> {
    /// The record of a start that has written its pid file and made
    /// nothing else yet.
    pub fn new(executor: Executor<P>, pid_file: PidFile) -> Self {
        last_resort::pid_file_created(pid_file.path().to_path_buf());
        Cleanup {
            executor,
            stats_path: None,
            tun: None,
            _pid_file: pid_file,
        }
    }

    /// Keeps `tun` (a second descriptor of the device) open until the
    /// network changes on it are undone.
    pub fn hold_tun(&mut self, tun: OwnedFd) {
        last_resort::tun_held(self.executor.device.clone());
        self.tun = Some(tun);
    }

    /// Records the stats socket created at `path`, removed on exit.
    pub fn stats_socket_created(&mut self, path: PathBuf) {
        last_resort::stats_socket_created(path.clone());
        self.stats_path = Some(path);
    }
}

impl<P: Platform> Drop for Cleanup<P> {
    fn drop(&mut self) {
        for e in self.executor.undo_all() {
            log::error!("undoing a network change: {e}");
        }
        if let Some(p) = &self.stats_path {
            let _ = std::fs::remove_file(p);
        }
        // Held means created: FreeBSD and NetBSD keep the interface after
        // its last descriptor, so it is destroyed once its changes are
        // undone (DragonFly destroys it at the last close: tun/bsd.rs).
        if self.tun.take().is_some()
            && let Err(e) = crate::tun::destroy(&self.executor.device)
        {
            log::error!("{e}");
        }
        // The pid file goes with its field, next; nothing is left for a
        // panic to undo.
        last_resort::disarm();
    }
}
