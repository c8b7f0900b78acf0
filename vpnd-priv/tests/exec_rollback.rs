//! Applying network changes with real processes (stub `ip` and
//! `resolvconf` that record what they are asked): failures name the
//! command and its stderr, half-applied plans are rolled back, forwarding
//! is restored to what it was, by the last of the instances using it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use vpnd_priv::exec::{ExecError, Executor, Sysctls, run, run_within};
use vpnd_priv::forwarding::SharedForwarding;
use vpnd_priv::hooks::HookEnv;
use vpnd_priv::ledger::{Ledger, Scope};
use vpnd_priv::netconf::{Argv, Change, Family, Linux, Tools};
use vpnd_proto::config::{Remote, RoleConfig};

/// A directory with the stubs, their log and a fake `/proc/sys`, removed
/// when dropped.
struct Scratch(tempfile::TempDir);

impl Scratch {
    fn new() -> Scratch {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("proc/sys/net/ipv4/conf/all")).unwrap();
        std::fs::create_dir_all(d.join("proc/sys/net/ipv6/conf/all")).unwrap();
        std::fs::write(d.join("proc/sys/net/ipv4/conf/all/forwarding"), "0\n").unwrap();
        std::fs::write(d.join("proc/sys/net/ipv6/conf/all/forwarding"), "1\n").unwrap();
        Scratch(dir)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }

    /// A stub that logs its arguments (and stdin) and fails when its
    /// arguments contain `fail_on`.
    fn stub(&self, name: &str, fail_on: &str) -> PathBuf {
        let path = self.join(name);
        let log = self.join("calls.log");
        let script = format!(
            "#!/bin/sh\necho \"{name} $*\" >> {log}\n\
             if [ \"$1\" = -a ]; then cat >> {log}; fi\n\
             case \"$*\" in *'{fail_on}'*) echo 'RTNETLINK answers: File exists' >&2; exit 2;; esac\nexit 0\n",
            log = log.display()
        );
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.join("calls.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn forwarding(&self, v: &str) -> String {
        std::fs::read_to_string(self.join(&format!("proc/sys/net/{v}/conf/all/forwarding")))
            .unwrap()
    }

    fn executor(&self, fail_on: &str) -> Executor<Linux> {
        Executor {
            platform: Linux,
            device: "vpn0".parse().unwrap(),
            tools: Tools {
                ip: self.stub("ip", fail_on),
                resolvconf: self.stub("resolvconf", fail_on),
                up_script: None,
                down_script: None,
            },
            sysctls: Sysctls {
                root: self.0.path().to_path_buf(),
            },
            ledger: Ledger::default(),
            forwarding: SharedForwarding::new(self.join("forwarding")),
        }
    }
}

fn plan() -> Vec<Change> {
    vec![
        Change::Forwarding(Family::V4),
        Change::Address("198.19.3.2".parse().unwrap()),
        Change::Route("198.19.1.0/24".parse().unwrap()),
        Change::Resolver {
            nameserver: "198.19.1.53".parse().unwrap(),
            search: Some("vpnd.test".parse().unwrap()),
        },
    ]
}

#[test]
fn a_failing_step_rolls_back_what_the_plan_made() {
    let s = Scratch::new();
    let mut x = s.executor("route add");
    let err = x.apply(&plan(), Scope::Session).unwrap_err();
    let ExecError::Failed {
        command, stderr, ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert!(
        command.ends_with("/ip route add 198.19.1.0/24 dev vpn0"),
        "{command}"
    );
    assert_eq!(stderr, "RTNETLINK answers: File exists");
    assert!(err.to_string().contains("exit status: 2"), "{err}");
    assert_eq!(
        s.calls(),
        [
            "ip addr add 198.19.3.2/32 dev vpn0",
            "ip route add 198.19.1.0/24 dev vpn0",
            "ip addr del 198.19.3.2/32 dev vpn0"
        ]
    );
    assert_eq!(
        s.forwarding("ipv4"),
        "0",
        "forwarding left on after a rollback"
    );
    assert!(x.ledger.is_empty());
}

#[test]
fn a_session_is_undone_newest_first_and_forwarding_restored() {
    let s = Scratch::new();
    let mut x = s.executor("never");
    x.apply(&[Change::LinkUp], Scope::Process).unwrap();
    x.apply(&plan(), Scope::Session).unwrap();
    x.apply(&[Change::Forwarding(Family::V6)], Scope::Session)
        .unwrap();
    assert_eq!(s.forwarding("ipv4"), "1");
    assert!(x.undo_session().is_empty());
    assert_eq!(s.forwarding("ipv4"), "0");
    assert_eq!(s.forwarding("ipv6"), "1", "was on before: stays on");
    assert_eq!(
        s.calls(),
        [
            "ip link set dev vpn0 up",
            "ip addr add 198.19.3.2/32 dev vpn0",
            "ip route add 198.19.1.0/24 dev vpn0",
            "resolvconf -a vpn0.vpnd",
            "nameserver 198.19.1.53",
            "search vpnd.test",
            "resolvconf -d vpn0.vpnd",
            "ip route del 198.19.1.0/24 dev vpn0",
            "ip addr del 198.19.3.2/32 dev vpn0",
        ]
    );
    assert!(x.undo_all().is_empty());
    assert_eq!(s.calls().last().unwrap(), "ip link set dev vpn0 down");
    assert!(x.ledger.is_empty());
}

#[test]
fn forwarding_is_restored_by_the_last_instance_that_used_it() {
    let s = Scratch::new();
    let (mut first, mut second) = (s.executor("never"), s.executor("never"));
    let v4 = [Change::Forwarding(Family::V4)];
    first.apply(&v4, Scope::Session).unwrap();
    second.apply(&v4, Scope::Session).unwrap();
    assert!(first.undo_session().is_empty());
    assert_eq!(s.forwarding("ipv4"), "1", "switched off under the other");
    assert!(second.undo_session().is_empty());
    assert_eq!(s.forwarding("ipv4"), "0");
}

#[test]
fn undo_tries_every_step_and_reports_each_failure() {
    let s = Scratch::new();
    let mut x = s.executor("never");
    x.apply(&plan(), Scope::Session).unwrap();
    // Now every delete fails.
    x.tools.ip = s.stub("ip", " del ");
    x.tools.resolvconf = s.stub("resolvconf", "-d");
    let errors = x.undo_session();
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert_eq!(s.forwarding("ipv4"), "0");
}

#[test]
fn a_missing_program_is_named() {
    let err = run(&Argv {
        program: PathBuf::from("/nonexistent/ip"),
        args: vec!["link".into()],
        stdin: None,
        env: Vec::new(),
    })
    .unwrap_err();
    let shown = err.to_string();
    assert!(
        shown.starts_with("/nonexistent/ip link: cannot run: "),
        "{shown}"
    );
    assert!(!vpnd_priv::exec::is_executable(Path::new(
        "/nonexistent/ip"
    )));
    assert!(vpnd_priv::exec::is_executable(Path::new("/bin/sh")));
}

/// A hook script `name` in `s` that logs `name $1` and the `VPND_*`
/// variables it got, and exits with `status`.
fn hook(s: &Scratch, name: &str, status: u8) -> PathBuf {
    let path = s.join(name);
    let script = format!(
        "#!/bin/sh\necho \"{name} $* $(env | grep ^VPND_ | sort | tr '\\n' ' ')\" >> {log}\nexit {status}\n",
        log = s.join("calls.log").display()
    );
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn scripts() -> Change {
    let role = RoleConfig::NetGw {
        remote: Remote {
            host: "198.18.0.2".parse().unwrap(),
            port: 4706,
        },
        remote_network: Some("198.19.1.0/24".parse().unwrap()),
    };
    let peer = "198.18.0.2:4706".parse().unwrap();
    Change::Scripts(HookEnv::for_session(&role, Some(&peer), 1431, None))
}

const TOLD: &str = "VPND_DEVICE=vpn0 VPND_MTU=1431 VPND_PEER=198.18.0.2 VPND_PEER_PORT=4706 \
                    VPND_REMOTE_NETWORK=198.19.1.0/24 VPND_ROLE=net-gw ";

#[test]
fn up_script_runs_after_the_network_and_down_script_before_its_undoing() {
    let s = Scratch::new();
    let mut ex = s.executor("never");
    ex.tools.up_script = Some(hook(&s, "up", 0));
    ex.tools.down_script = Some(hook(&s, "down", 0));
    let route = Change::Route("198.19.1.0/24".parse().unwrap());
    ex.apply(&[route, scripts()], Scope::Session).unwrap();
    assert!(ex.undo_session().is_empty());
    assert_eq!(
        s.calls(),
        [
            "ip route add 198.19.1.0/24 dev vpn0".to_owned(),
            format!("up up {TOLD}"),
            format!("down down {TOLD}"),
            "ip route del 198.19.1.0/24 dev vpn0".to_owned(),
        ]
    );
}

#[test]
fn a_failed_up_script_kept_still_gets_its_down_script() {
    let s = Scratch::new();
    let mut ex = s.executor("never");
    ex.tools.up_script = Some(hook(&s, "up", 3));
    ex.tools.down_script = Some(hook(&s, "down", 0));
    let e = ex.apply_kept(&scripts(), Scope::Session).unwrap_err();
    assert!(e.to_string().contains("/up up: exit status: 3"), "{e}");
    assert!(ex.undo_all().is_empty());
    assert_eq!(
        s.calls(),
        [format!("up up {TOLD}"), format!("down down {TOLD}")]
    );
    // Applied the ordinary way, a failure records nothing to undo.
    let s = Scratch::new();
    let mut ex = s.executor("never");
    ex.tools.up_script = Some(hook(&s, "up", 3));
    ex.tools.down_script = Some(hook(&s, "down", 0));
    assert!(ex.apply(&[scripts()], Scope::Session).is_err());
    assert!(ex.undo_all().is_empty());
    assert_eq!(s.calls(), [format!("up up {TOLD}")]);
}

#[test]
fn commands_get_no_shell_and_no_environment() {
    let s = Scratch::new();
    let probe = s.join("probe");
    let out = s.join("env.out");
    std::fs::write(
        &probe,
        format!(
            "#!/bin/sh\nenv > {}\necho \"$1\" >> {}\n",
            out.display(),
            out.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&probe, std::fs::Permissions::from_mode(0o755)).unwrap();
    let argv = Argv {
        program: probe,
        args: vec!["a;rm -rf /tmp/x $(id)".into()],
        stdin: None,
        env: Vec::new(),
    };
    run(&argv).unwrap();
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains("PATH=/usr/sbin:/usr/bin:/sbin:/bin"));
    assert!(!text.contains("HOME="), "{text}");
    assert!(
        text.contains("a;rm -rf /tmp/x $(id)"),
        "arguments arrive unexpanded: {text}"
    );
}

/// A script in `s` that starts `sleep 1000` in the background (holding
/// standard error, as a resolvconf hook's helper would), writes its pid to
/// `sleep.pid`, then runs `then`.
fn leaves_a_sleep_behind(s: &Scratch, then: &str) -> (Argv, PathBuf) {
    let script = s.join("hook");
    let pid_file = s.join("sleep.pid");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh
sleep 1000 &
echo $! > {}
{then}
",
            pid_file.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let argv = Argv {
        program: script,
        args: vec![],
        stdin: None,
        env: Vec::new(),
    };
    (argv, pid_file)
}

/// True once the process `pid` is gone (or a zombie awaiting its reaper),
/// looked at for up to two seconds.
fn ends(pid_file: &Path) -> bool {
    let pid = std::fs::read_to_string(pid_file).unwrap().trim().to_owned();
    let stat = PathBuf::from(format!("/proc/{pid}/stat"));
    for _ in 0..200 {
        match std::fs::read_to_string(&stat) {
            Err(_) => return true,
            Ok(text)
                if text
                    .rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z') =>
            {
                return true;
            }
            Ok(_) => std::thread::sleep(std::time::Duration::from_millis(10)),
        }
    }
    false
}

#[test]
fn a_failed_command_whose_helper_holds_stderr_is_given_up_and_the_helper_killed() {
    let s = Scratch::new();
    let (argv, pid_file) = leaves_a_sleep_behind(&s, "echo 'hook failed' >&2\nexit 1");
    let limit = std::time::Duration::from_millis(1500);
    let started = std::time::Instant::now();
    let err = run_within(&argv, limit).unwrap_err();
    let took = started.elapsed();
    assert!(
        took < limit + std::time::Duration::from_secs(1),
        "took {took:?}"
    );
    match err {
        ExecError::Failed { stderr, .. } => assert_eq!(stderr, "hook failed"),
        other => panic!("{other:?}"),
    }
    assert!(ends(&pid_file), "the background sleep is still running");
}

#[test]
fn a_command_past_its_limit_is_killed_with_what_it_started() {
    let s = Scratch::new();
    let (argv, pid_file) = leaves_a_sleep_behind(&s, "sleep 1000");
    let limit = std::time::Duration::from_millis(1000);
    let started = std::time::Instant::now();
    let err = run_within(&argv, limit).unwrap_err();
    assert!(started.elapsed() < limit + std::time::Duration::from_secs(1));
    assert!(
        matches!(err, ExecError::Timeout { seconds: 1, .. }),
        "{err:?}"
    );
    assert!(ends(&pid_file), "the background sleep is still running");
}
