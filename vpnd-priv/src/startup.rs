//! The parent's start, as root, once the binary has resolved the user and
//! the peer and checked the chroot directory ([`Resolved`]): read the
//! nonce files, write the pid file, create the tun (up while vpnd runs), the UDP socket and the stats socket, start
//! the network process, hand it its configuration and descriptors (in the
//! foreground a pipe the console is relayed into), forget the secret key and
//! wait for its greeting. Any failure undoes what was done ([`Cleanup`] is
//! dropped).

use std::net::SocketAddr;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use vpnd_proto::config::{Config, RoleConfig, StatsPrefix};
use vpnd_proto::ipc::{self, IPC_VERSION, Offloads, Start, ToChild, TunFraming, UdpSends};

use crate::cleanup::Cleanup;
use crate::exec::{ExecError, Executor, Sysctls};
use crate::forwarding::{self, SharedForwarding};
use crate::ledger::{Ledger, Scope};
use crate::netconf::{self, Change, Platform, Tools};
use crate::nonce_bounds;
use crate::nonce_file::{self, NonceFileError};
use crate::pid_file::{PidFile, PidFileError};
use crate::serve::{GreetingError, Parent, PeerSockets};
use crate::sockets::{self, SocketError};
use crate::spawn::{self, ChildLogging, SpawnError};

/// How long the network process may take to greet.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

/// Why vpnd could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A nonce file, named by its parameter (the operator looks for that
    /// in the configuration).
    #[error("{parameter} {error}")]
    NonceFile {
        /// `local_nonce_file` or `remote_nonce_file`.
        parameter: &'static str,
        /// What is wrong with it.
        error: NonceFileError,
    },
    /// The pid file.
    #[error("{0}")]
    PidFile(#[from] PidFileError),
    /// The runtime or state directory.
    #[error("{0}")]
    Directory(#[from] crate::instance_dirs::DirError),
    /// The tun device.
    #[error("{0}")]
    Tun(String),
    /// A network command.
    #[error("{0}")]
    Network(#[from] ExecError),
    /// The UDP or stats socket.
    #[error("{0}")]
    Socket(#[from] SocketError),
    /// Starting the network process.
    #[error("{0}")]
    Spawn(#[from] SpawnError),
    /// The start message could not be made or sent.
    #[error("network process: {0}")]
    Child(String),
    /// An environment variable vpnd reads has a value it does not take.
    #[error("{0}")]
    Environment(String),
    /// The network process did not greet.
    #[error("network process: {0}")]
    Greeting(#[from] GreetingError),
}

/// What the binary found out before the start, without root.
#[derive(Debug, Clone, Copy)]
pub struct Resolved {
    /// The uid the network process runs as (`user`, never 0).
    pub uid: u32,
    /// Its primary group (never 0).
    pub gid: u32,
    /// The statistics socket's group (`stats_group`; 0, root's, unset).
    pub stats_gid: u32,
    /// The peer's address (`remote_host` resolved); `None` for a host-gw.
    pub peer: Option<SocketAddr>,
}

/// The value of the nonce file `parameter` names at `path`, once it is
/// proved writable: a place vpnd cannot write stops the start, rather
/// than failing every later save.
fn usable_nonce_file(parameter: &'static str, path: &Path) -> Result<Option<[u8; 24]>, StartError> {
    let named = |error| StartError::NonceFile { parameter, error };
    let nonce = nonce_file::read(path).map_err(named)?;
    nonce_file::check_writable(path, nonce.as_ref()).map_err(named)?;
    Ok(nonce)
}

/// Starts everything; on success the network process is running and has
/// greeted.
pub fn start(
    config: Config,
    resolved: Resolved,
    logging: ChildLogging,
) -> Result<Parent<impl Platform>, StartError> {
    let Resolved {
        uid,
        gid,
        stats_gid,
        peer,
    } = resolved;
    let udp_sends = udp_sends()?;
    let dirs = crate::instance_dirs::dirs();
    let forwarding_dir = forwarding_record_dir(&dirs);
    crate::instance_dirs::prepare(
        &dirs,
        &[
            &config.pid_file,
            &config.stats_path,
            &config.local_nonce_file,
            &config.remote_nonce_file,
            &forwarding_dir,
        ],
    )?;
    let local_nonce = usable_nonce_file("local_nonce_file", &config.local_nonce_file)?;
    let remote_nonce = usable_nonce_file("remote_nonce_file", &config.remote_nonce_file)?;
    if let Some(remote) = remote_nonce
        .as_ref()
        .filter(|r| nonce_bounds::beyond_clock(r, vpnd_net::clock::unix_time()))
    {
        log::warn!(
            "{}: holds {}, {}",
            config.remote_nonce_file.display(),
            vpnd_crypto::Nonce::from_bytes(*remote).to_hex(),
            nonce_bounds::BEYOND_CLOCK
        );
    }
    let pid_file = PidFile::create(&config.pid_file)?;
    let (tools, warning) = programs(&config)?;
    if let Some(warning) = warning {
        log::warn!("{warning}");
    }
    let executor = Executor {
        platform: netconf::platform(),
        device: config.device.clone(),
        tools,
        sysctls: Sysctls {
            root: PathBuf::from("/"),
        },
        ledger: Ledger::default(),
        forwarding: SharedForwarding::new(forwarding_dir),
    };
    let mut cleanup = Cleanup::new(executor, pid_file);
    let offload = offload_wanted();
    let (tun, tun_offloads) = open_tun(&config, offload)?;
    cleanup.hold_tun(
        tun.try_clone()
            .map_err(|e| StartError::Tun(format!("{}: {e}", config.device)))?,
    );
    cleanup.executor.apply(&[Change::LinkUp], Scope::Process)?;
    let udp = sockets::udp(config.local_port, udp_sends == UdpSends::Connected)?;
    let (udp_gso, udp_gro) = if offload {
        sockets::udp_offloads(&udp)
    } else {
        (false, false)
    };
    let offloads = Offloads {
        tun_framing: match (tun_offloads.vnet_hdr, tun_offloads.af_header) {
            (true, _) => TunFraming::VnetHdr,
            (false, true) => TunFraming::AfHeader,
            (false, false) => TunFraming::Bare,
        },
        tun_tso: tun_offloads.tso,
        tun_uso: tun_offloads.uso,
        udp_gso,
        udp_gro,
    };
    let stats = sockets::stats_listener(&config.stats_path, stats_gid)?;
    cleanup.stats_socket_created(config.stats_path.clone());
    log::info!(
        "started: role {}, device {}, UDP port {}, peer {}",
        config.role().as_str(),
        config.device,
        config.local_port,
        peer.map_or(
            "learnt from the first authenticated datagram".to_owned(),
            |p| p.to_string()
        )
    );
    if udp_sends == UdpSends::Connected {
        log::info!("UDP: sends leave by a socket connected to the peer");
    }
    if offload {
        log::info!("offloads: {offloads}");
    } else {
        log::info!("offloads: none ({OFFLOAD_ENV}=off)");
    }
    if let Some(warning) = crate::policy::mtu_warning(peer.as_ref(), config.mtu) {
        log::warn!("{warning}");
    }
    let net = spawn::spawn(logging)?;
    let udp_for_peers = match udp_sends {
        UdpSends::Connected => Some(PeerSockets {
            listener: udp
                .try_clone()
                .map_err(|e| StartError::Child(format!("the UDP socket: {e}")))?,
            gro: udp_gro,
        }),
        UdpSends::Addressed => None,
    };
    let unix_time = vpnd_net::clock::unix_time();
    let mut parent = Parent::new(
        net,
        &config,
        peer,
        (local_nonce, remote_nonce),
        unix_time,
        cleanup,
        udp_for_peers,
    );
    // The host name (and a named instance's name), unless configured;
    // "vpnd" for a host name with no character Graphite takes.
    let stats_prefix = match (config.stats_prefix.clone(), host_name_prefix()) {
        (Some(p), _) => p,
        (None, Some(host)) => host.with_instance(config.instance.as_ref()),
        (None, None) => "vpnd"
            .parse::<StatsPrefix>()
            .map_err(|e| StartError::Child(format!("stats prefix: {e}")))?
            .with_instance(config.instance.as_ref()),
    };
    // In the foreground, standard input is the console: the parent reads
    // it and hands the network process a pipe with what was typed.
    let console = logging
        .foreground
        .then(|| {
            crate::console_relay::start()
                .map_err(|e| log::warn!("console: {e}; none"))
                .ok()
                .flatten()
        })
        .flatten();
    let start = Start {
        version: IPC_VERSION,
        config,
        stats_prefix,
        peer,
        local_nonce,
        remote_nonce: remote_nonce.unwrap_or([0; 24]),
        unix_time,
        uid,
        gid,
        offloads,
        console: console.is_some(),
        udp_sends,
    };
    let fds = [Some(tun), Some(udp), Some(OwnedFd::from(stats)), console];
    send_start(&parent, start, fds.into_iter().flatten().collect())?;
    parent.await_hello(HELLO_TIMEOUT)?;
    Ok(parent)
}

/// The programs root runs for `config`, each checked to be an executable
/// file: a missing one that the start needs (`ip_path` on Linux) is an
/// error; a host's missing `resolvconf_path` only costs the resolver, and
/// is the warning returned. The start and `vpnd -n` both ask this.
pub fn programs(config: &Config) -> Result<(Tools, Option<String>), StartError> {
    let (resolvconf, warning) = match &config.role {
        RoleConfig::Host {
            resolvconf_path, ..
        } => (
            resolvconf_path.clone(),
            (!crate::exec::is_executable(resolvconf_path)).then(|| {
                format!(
                    "resolvconf_path {}: not an executable file; a resolver the gateway pushes will not be configured",
                    resolvconf_path.display()
                )
            }),
        ),
        _ => (
            PathBuf::from(vpnd_proto::config::defaults::RESOLVCONF_PATH),
            None,
        ),
    };
    let tools = Tools {
        ip: config.ip_path.clone(),
        resolvconf,
        up_script: config.up_script.clone(),
        down_script: config.down_script.clone(),
    };
    crate::exec::check_programs(&netconf::platform(), &tools)?;
    Ok((tools, warning))
}

fn send_start<P: Platform>(
    parent: &Parent<P>,
    start: Start,
    fds: Vec<OwnedFd>,
) -> Result<(), StartError> {
    // The frame is wiped when dropped; the start message (and the secret
    // key in it) is dropped here, and SecretKey wipes itself.
    let frame = ipc::encode(&ToChild::Start(Box::new(start)))
        .map_err(|e| StartError::Child(format!("encoding the start message: {e}")))?;
    let borrowed: Vec<_> = fds.iter().map(|f| f.as_fd()).collect();
    parent
        .net
        .channel
        .send(&frame, &borrowed)
        .map_err(|e| StartError::Child(format!("sending the start message: {e}")))
}

fn host_name_prefix() -> Option<StatsPrefix> {
    let name = nix::unistd::gethostname().ok()?;
    StatsPrefix::from_host_name(&name.to_string_lossy())
}

/// The environment variable that makes every send leave by a socket
/// connected to the peer (`VPND_UDP_SENDS=connected`), as it must on
/// FreeBSD, so that the path FreeBSD takes runs and is tested here.
pub const UDP_SENDS_ENV: &str = "VPND_UDP_SENDS";

/// How the network process sends: by connected sockets where its sandbox
/// refuses a send that names its destination, or where
/// [`UDP_SENDS_ENV`] says `connected`; naming it otherwise.
fn udp_sends() -> Result<UdpSends, StartError> {
    let wanted = std::env::var(UDP_SENDS_ENV);
    let sends = match wanted.as_deref() {
        Err(_) | Ok("") => None,
        Ok("connected") => Some(UdpSends::Connected),
        Ok("addressed") => Some(UdpSends::Addressed),
        Ok(other) => {
            return Err(StartError::Environment(format!(
                "{UDP_SENDS_ENV}={other}: not connected or addressed"
            )));
        }
    };
    match sends {
        Some(UdpSends::Addressed) if !vpnd_net::sandbox::NAMED_SENDS_ALLOWED => {
            Err(StartError::Environment(format!(
                "{UDP_SENDS_ENV}=addressed: this system's sandbox refuses a send that names its destination"
            )))
        }
        Some(s) => Ok(s),
        None if vpnd_net::sandbox::NAMED_SENDS_ALLOWED => Ok(UdpSends::Addressed),
        None => Ok(UdpSends::Connected),
    }
}

/// The environment variable that turns the kernel offloads off, for
/// diagnosis and tests (`VPND_OFFLOAD=off`).
pub const OFFLOAD_ENV: &str = "VPND_OFFLOAD";

/// False when [`OFFLOAD_ENV`] says `off` (or `0`, `no`).
fn offload_wanted() -> bool {
    !matches!(
        std::env::var(OFFLOAD_ENV).as_deref(),
        Ok("off" | "0" | "no")
    )
}

fn open_tun(
    config: &Config,
    offload: bool,
) -> Result<(OwnedFd, crate::tun::TunOffloads), StartError> {
    crate::tun::open_tun(&config.device, offload).map_err(|e| StartError::Tun(e.to_string()))
}

/// Where the instances keep their shared record of forwarding: in the
/// runtime directory. Debug builds (tests) may name a scratch directory
/// in `VPND_TEST_FORWARDING_DIR`; release builds always share the one.
fn forwarding_record_dir(dirs: &vpnd_proto::config::InstanceDirs) -> PathBuf {
    #[cfg(debug_assertions)]
    if let Some(p) = std::env::var_os("VPND_TEST_FORWARDING_DIR") {
        return p.into();
    }
    dirs.runtime.join(forwarding::RECORD_DIR_NAME)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nonce_file_that_cannot_be_written_is_named_by_parameter_and_directory() {
        let path = Path::new("/nonexistent/db/local_vpnd.nonce");
        let e = usable_nonce_file("local_nonce_file", path).unwrap_err();
        assert_eq!(
            e.to_string(),
            "local_nonce_file /nonexistent/db/local_vpnd.nonce: cannot write: \
             the directory /nonexistent/db does not exist \
             (create it, root's and writable by root alone)"
        );
    }
}
