//! The operating system's random source (getrandom(2)), for the daemon.

use vpnd_proto::session::Entropy;

/// Random bytes from the kernel. getrandom(2) needs no file, so it works
/// inside the chroot.
#[derive(Debug, Default)]
pub struct OsEntropy;

impl Entropy for OsEntropy {
    fn fill(&mut self, dest: &mut [u8]) {
        if let Err(e) = getrandom::fill(dest) {
            // Without randomness no key may be made; the parent sees the
            // child end and undoes the network.
            log::error!("random source failed: {e}");
            std::process::abort();
        }
    }
}
