//! Debug builds only: the network process tries one forbidden action right
//! after entering its sandbox, so that the end-to-end tests can prove from
//! outside that the sandbox holds. The process then exits: 98 when the
//! action failed with an error, 99 when it succeeded (the sandbox leaks);
//! the system-call filter may instead kill it (SIGSYS).

use std::process::Command;

/// Exit status: the action was refused with an error.
pub const REFUSED: i32 = 98;
/// Exit status: the action succeeded.
pub const SUCCEEDED: i32 = 99;

/// Tries `action` ("open", "socket", "exec", "setuid") and exits.
pub fn attempt(action: &str) -> ! {
    let result: Result<(), String> = match action {
        "open" => std::fs::File::open("/")
            .map(drop)
            .map_err(|e| e.to_string()),
        "socket" => std::net::UdpSocket::bind("0.0.0.0:0")
            .map(drop)
            .map_err(|e| e.to_string()),
        "exec" => Command::new("/bin/true")
            .status()
            .map(drop)
            .map_err(|e| e.to_string()),
        "setuid" => crate::sandbox::regain_root().map_err(|e| e.to_string()),
        other => Err(format!("unknown probe {other}")),
    };
    match result {
        Ok(()) => {
            log::error!("probe {action}: succeeded");
            std::process::exit(SUCCEEDED)
        }
        Err(e) => {
            log::error!("probe {action}: refused: {e}");
            std::process::exit(REFUSED)
        }
    }
}
