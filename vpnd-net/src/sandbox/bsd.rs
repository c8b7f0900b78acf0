//! DragonFly's and NetBSD's sandbox: chroot and the unprivileged user with
//! a checked group set (credentials.rs), nothing more. Neither system has
//! Capsicum (FreeBSD's, freebsd.rs) or OpenBSD's pledge and unveil, so the
//! network process can still make any system call its user may: start-up
//! says so in the log. (Neither source tree has FreeBSD's
//! sys/sys/capsicum.h, and the `libc` crate declares cap_enter for FreeBSD
//! only and pledge and unveil for OpenBSD only.)

use super::rights::Kept;
use super::{Sandbox, SandboxError, credentials};

/// No step beyond the shared ones can fail here.
#[derive(Debug, thiserror::Error)]
pub enum PlatformError {}

/// Enters `sandbox` (see [`Sandbox::enter`]); there are no per-descriptor
/// rights to apply.
pub(super) fn enter(sandbox: &Sandbox, _kept: &[Kept]) -> Result<(), SandboxError> {
    credentials::enter(sandbox)?;
    log::warn!("sandbox: chroot and user only; this system has no system-call restriction");
    Ok(())
}

/// No per-descriptor rights here.
pub(super) fn limit_received(_: super::Role, _: i32) -> Result<(), PlatformError> {
    Ok(())
}

/// Sends may name their destination here.
pub(super) const NAMED_SENDS_ALLOWED: bool = true;
