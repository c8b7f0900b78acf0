//! Closing descriptors a process inherited without asking for them (a
//! shell's, a service manager's): vpnd holds only what it opened.

use std::os::fd::RawFd;

/// The most descriptors tried, whatever the limit says.
const CEILING: u64 = 1 << 16;

/// Closes every descriptor from `first` up to the descriptor limit.
/// Call first thing in `main`, before anything is opened, so no open
/// file of this program is closed behind its owner's back.
pub fn close_from(first: RawFd) {
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .unwrap_or(CEILING)
        .min(CEILING);
    let last = RawFd::try_from(limit).unwrap_or(RawFd::MAX);
    for fd in first..last {
        // EBADF for the (many) descriptors that are not open.
        let _ = nix::unistd::close(fd);
    }
}
