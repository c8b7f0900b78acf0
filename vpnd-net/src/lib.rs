//! The unprivileged network process (arrives with the daemon, issue #3).
