//! Helpers for the end-to-end tests (arrive with the daemon, issue #3).
