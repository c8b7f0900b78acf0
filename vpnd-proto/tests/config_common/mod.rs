//! The least configuration files the configuration tests build on.

/// A secret key (64 hex digits).
pub const SK: &str = "845b920bda4cd49d251d3329144a0cf8bdaaa07502626fa87f08e80faedab11f";
/// A public key (64 hex digits).
pub const PK: &str = "9d8d78b9c9e6661e552f2f1af02095ee2f8743fa2e6183f41bb7077ef51b5379";

/// The parameters `role` requires besides the keys.
fn required(role: &str) -> &'static str {
    match role {
        "net-gw" | "host" => "remote_host: 198.18.0.2\n",
        _ => "local_network: 198.19.1.0/24\nhost_addr: 198.19.3.2/24\n",
    }
}

/// The least file of `role`, the role named.
pub fn base(role: &str) -> String {
    format!("role: {role}\n{}", unnamed(role))
}

/// The same without the `role` line (for net-gw, the default role).
pub fn unnamed(role: &str) -> String {
    format!("local_sk: {SK}\nremote_pk: {PK}\n{}", required(role))
}
