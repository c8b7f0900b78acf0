//! The network process's system-call filter (seccomp-bpf, Linux): the last
//! step of the sandbox. An allow list of what the event loop, the logger
//! and the allocator call; anything else kills the process. Opening a
//! file is the one exception: it fails with EACCES instead, because the C
//! library's time-zone lookup (the syslog line's timestamp) tries
//! `/etc/localtime` and copes with failure.
//!
//! The list is written for what this process does after the filter is in
//! place: poll, receive and send datagrams and IPC frames, read and write
//! the tun, accept stats connections, read the console, read the clock,
//! draw random bytes, allocate, log, exit.

use std::collections::BTreeMap;

use nix::libc;
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

/// Why the filter could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    /// This CPU architecture has no filter (seccompiler knows x86_64,
    /// aarch64 and riscv64).
    #[error("no system-call filter for the {0} architecture")]
    Architecture(&'static str),
    /// Building or loading the filter failed.
    #[error("{0}")]
    Seccomp(#[from] seccompiler::Error),
    /// A rule did not build.
    #[error("{0}")]
    Backend(#[from] seccompiler::BackendError),
}

/// prctl(2)'s "read the auxiliary vector" (Linux 6.4), not yet in libc.
const PR_GET_AUXV: u64 = 0x4155_5856;

/// System calls allowed whatever their arguments.
const ALLOWED: &[libc::c_long] = &[
    // The event loop.
    libc::SYS_epoll_create1,
    libc::SYS_epoll_ctl,
    libc::SYS_epoll_pwait,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_epoll_wait,
    // The console: a zero-timeout poll before each read of a descriptor
    // that stays blocking.
    libc::SYS_ppoll,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_poll,
    libc::SYS_read,
    libc::SYS_write,
    libc::SYS_writev,
    libc::SYS_recvfrom,
    libc::SYS_sendto,
    libc::SYS_recvmsg,
    libc::SYS_sendmsg,
    libc::SYS_recvmmsg,
    libc::SYS_sendmmsg,
    libc::SYS_accept4,
    libc::SYS_getsockname,
    libc::SYS_close,
    // Time and randomness.
    libc::SYS_clock_gettime,
    libc::SYS_clock_getres,
    libc::SYS_gettimeofday,
    libc::SYS_getrandom,
    // The allocator and the runtime.
    libc::SYS_brk,
    libc::SYS_munmap,
    libc::SYS_mremap,
    libc::SYS_madvise,
    libc::SYS_futex,
    libc::SYS_sched_yield,
    libc::SYS_rt_sigreturn,
    libc::SYS_rt_sigprocmask,
    libc::SYS_sigaltstack,
    libc::SYS_restart_syscall,
    libc::SYS_getpid,
    libc::SYS_gettid,
    libc::SYS_exit,
    libc::SYS_exit_group,
    // Let through here only so that the second filter can answer EACCES.
    libc::SYS_openat,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_open,
];

/// Builds the filter for this architecture.
pub fn build() -> Result<Vec<BpfProgram>, FilterError> {
    let arch = TargetArch::try_from(std::env::consts::ARCH)
        .map_err(|_| FilterError::Architecture(std::env::consts::ARCH))?;
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> =
        ALLOWED.iter().map(|n| (*n, Vec::new())).collect();
    let arg = |index, op, value| SeccompCondition::new(index, SeccompCmpArgLen::Dword, op, value);
    let no_exec = || arg(2, SeccompCmpOp::MaskedEq(libc::PROT_EXEC as u64), 0);
    // Memory, never executable (no code made at run time).
    rules.insert(libc::SYS_mmap, vec![SeccompRule::new(vec![no_exec()?])?]);
    rules.insert(
        libc::SYS_mprotect,
        vec![SeccompRule::new(vec![no_exec()?])?],
    );
    // Descriptor flags: non-blocking mode only.
    rules.insert(
        libc::SYS_fcntl,
        [libc::F_GETFL, libc::F_SETFL, libc::F_GETFD]
            .iter()
            .map(|cmd| SeccompRule::new(vec![arg(1, SeccompCmpOp::Eq, *cmd as u64)?]))
            .collect::<Result<_, _>>()?,
    );
    // FIONBIO's type differs between architectures.
    #[allow(clippy::unnecessary_cast)]
    let fionbio = libc::FIONBIO as u64;
    rules.insert(
        libc::SYS_ioctl,
        vec![SeccompRule::new(vec![arg(1, SeccompCmpOp::Eq, fionbio)?])?],
    );
    // rustix finds the vDSO (for clock_gettime) through the auxiliary
    // vector, which it reads with prctl(PR_GET_AUXV) the first time.
    rules.insert(
        libc::SYS_prctl,
        vec![SeccompRule::new(vec![arg(
            0,
            SeccompCmpOp::Eq,
            PR_GET_AUXV,
        )?])?],
    );
    let allow_list: BpfProgram = SeccompFilter::new(
        rules,
        SeccompAction::KillProcess,
        SeccompAction::Allow,
        arch,
    )?
    .try_into()?;
    // The second filter turns opening a file into EACCES; the kernel takes
    // the stricter verdict of the two (ERRNO over ALLOW), and everything
    // else stays as the allow list says.
    let mut opens: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    opens.insert(libc::SYS_openat, Vec::new());
    #[cfg(target_arch = "x86_64")]
    opens.insert(libc::SYS_open, Vec::new());
    let open_fails: BpfProgram = SeccompFilter::new(
        opens,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EACCES as u32),
        arch,
    )?
    .try_into()?;
    // Installed in this order: seccompiler calls prctl and seccomp for
    // each, which the allow list (last) would not let through.
    Ok(vec![open_fails, allow_list])
}

/// Installs the filter on this (single-threaded) process. Needs
/// no-new-privs, which the sandbox sets first.
pub fn install() -> Result<(), FilterError> {
    for program in build()? {
        seccompiler::apply_filter(&program)?;
    }
    Ok(())
}
