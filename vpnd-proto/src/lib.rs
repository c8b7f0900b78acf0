//! The configuration, the wire format, the sans-IO session and the IPC messages.
