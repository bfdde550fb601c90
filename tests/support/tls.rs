//! A private cluster that takes TCP connections over TLS only: `ssl = on`
//! with a fresh self-signed certificate (made with the `openssl` CLI),
//! `hostssl ... scram-sha-256` and `hostnossl ... reject` for 127.0.0.1,
//! and roles with passwords. Used by `tests/security.rs` and `tests/tls.rs`
//! (each binary starts its own).

use super::server::{PrivateOptions, Server};

/// Starts the cluster with `conf` as extra postgresql.conf lines, and
/// creates each `(role, password)` as a login role.
pub fn start(conf: &[&str], roles: &[(&str, &str)]) -> Result<Server, String> {
    let opts = PrivateOptions {
        hba: Some(
            "hostssl all all 127.0.0.1/32 scram-sha-256\n\
             hostnossl all all 127.0.0.1/32 reject"
                .to_owned(),
        ),
        ssl: true,
        conf: conf.iter().map(|&l| l.to_owned()).collect(),
    };
    let server = Server::start_private(&opts)?;
    let sql: String = roles
        .iter()
        .map(|(role, password)| format!("create role {role} login password '{password}';\n"))
        .collect();
    if !sql.is_empty() {
        server.psql("postgres", &sql)?;
    }
    Ok(server)
}

/// `host=127.0.0.1 port=<port> user=<role> dbname=postgres` plus `extra`.
pub fn tcp(port: u16, role: &str, extra: &str) -> String {
    format!("host=127.0.0.1 port={port} user={role} dbname=postgres {extra}")
}
