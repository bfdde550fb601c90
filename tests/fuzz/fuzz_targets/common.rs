//! What both fuzz targets share: the live server, the pools of names, SQL
//! and connection strings, and the filters that keep arbitrary text from
//! making a run hang or reach outside the throwaway server.
//!
//! A module of each target (`mod common;`), which also has
//! `use pgdblink_testkit as server;` (the tests' throwaway server, `tests/kit`).
//!
//! # The server
//!
//! `server::Server::start()`: a private throwaway cluster (or
//! `PGDBLINK_TEST_DSN`), started once per fuzzing process and removed at
//! exit. The fuzzed calls run as the role `pgdblink_fuzz` (not a superuser,
//! no CREATEDB/CREATEROLE) in the database `pgdblink_fuzz`, where it can
//! only make temporary tables (so nothing accumulates between inputs). The
//! role's `statement_timeout` (250 ms) and `lock_timeout` bound every
//! server-side wait, so the synchronous calls (dblink, exec, open, fetch,
//! close), which have no client-side timeout, always return.
//!
//! # Bounds on arbitrary input
//!
//! * Arbitrary SQL (and cursor names, which pgdblink splices into
//!   DECLARE/FETCH/CLOSE) is replaced by a pool statement when it mentions
//!   `sleep` or `timeout` (no long sleeps, no way to lift the timeouts),
//!   `alter` (a role may change its own defaults), or a function that makes
//!   one huge value (`repeat`, `lpad`/`rpad`, `*_agg`).
//! * Arbitrary connection strings are used only when they cannot leave this
//!   machine's defaults: no `host`/`hostaddr`/`service`/URI (so no DNS and no
//!   remote peers: without a host libpq tries the default local socket,
//!   where nothing listens), no `user`/`options` (no superuser, no way around
//!   the timeouts). Otherwise the good connstr is used.
//! * Every wait is bounded: `get_result_timeout`, `wait_any`/`wait_all` with
//!   at most 50 ms, `pg_sleep` of at most 0.05 s, cancels with a 1 s bound.
//! * Each input ends with `disconnect_all`, so inputs do not depend on each
//!   other and connections do not pile up.
#![allow(dead_code)]

use std::sync::OnceLock;

use crate::server::Server;

/// The role the fuzzed calls run as.
pub const ROLE: &str = "pgdblink_fuzz";

/// Connection strings the targets pick from.
pub struct Env {
    /// The fuzz role on the live server (over the unix socket).
    pub good: String,
    /// A TCP port on 127.0.0.1 where nothing listens (fails at once).
    pub dead: String,
    /// The server (kept for the process' life; removed at exit).
    pub server: &'static Server,
}

/// Starts the server and makes the role and database, once per process.
pub fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let server: &'static Server = Box::leak(Box::new(
            Server::start().unwrap_or_else(|e| panic!("cannot start the fuzz server:\n{e}")),
        ));
        let setup = format!(
            "select 'create role {ROLE} login nosuperuser nocreatedb nocreaterole' \
               where not exists (select from pg_roles where rolname = '{ROLE}') \\gexec\n\
             alter role {ROLE} set statement_timeout = '250ms';\n\
             alter role {ROLE} set lock_timeout = '100ms';\n\
             alter role {ROLE} set idle_in_transaction_session_timeout = '60s';\n\
             select 'create database {ROLE}' \
               where not exists (select from pg_database where datname = '{ROLE}') \\gexec\n"
        );
        server
            .psql("postgres", &setup)
            .unwrap_or_else(|e| panic!("cannot set up the fuzz role:\n{e}"));
        let good = format!(
            "{} user={ROLE} dbname={ROLE} application_name=pgdblink_fuzz",
            server.connstr()
        );
        let dead = server.dead_port_connstr();
        Env { good, dead, server }
    })
}

/// libpq reads these; the fuzzed connstrs must not inherit a target.
pub fn clear_libpq_env() {
    for var in [
        "PGHOST",
        "PGHOSTADDR",
        "PGPORT",
        "PGSERVICE",
        "PGSERVICEFILE",
        "PGUSER",
        "PGOPTIONS",
        "PGDATABASE",
        "PGPASSFILE",
        "PGSSLKEYLOGFILE",
    ] {
        // SAFETY: called from the fuzz target's init, before the process
        // starts any thread of its own (libFuzzer's own threads do not read
        // the environment).
        unsafe { std::env::remove_var(var) };
    }
}

/// Safe statements: every one ends within 0.05 s of work.
pub const SQL_POOL: &[&str] = &[
    "select 1",
    "select generate_series(1, 3) as x",
    "select 1 as a, null::text as b, 'x' as c",
    "select pg_sleep(0.05)",
    "select 1/0",
    "select no_such_column",
    "syntax error here",
    "",
    ";",
    "select 1; select 2",
    "select 1; select 1/0",
    "listen fuzz_chan",
    "unlisten *",
    "notify fuzz_chan, 'payload'",
    "select pg_notify('fuzz_chan', 'p')",
    "begin",
    "commit",
    "rollback",
    "create temp table if not exists t (x int, y text)",
    "insert into t values (1, 'a'), (2, null)",
    "select * from t",
    "update t set x = x + 1 returning *",
    "delete from t",
    "select $1::text",
    "select $1::int + $2::int",
    "copy (select 1) to stdout",
    "copy t from stdin",
    "set client_encoding = 'LATIN1'",
    "select chr(233)",
    "select pg_backend_pid()",
    "declare c1 cursor for select 1",
    "savepoint s",
    "rollback to savepoint s",
    "select pg_terminate_backend(pg_backend_pid())",
    "do $$ begin raise notice 'n'; raise warning 'w'; end $$",
    "do $$ begin raise exception 'e' using detail = 'd', hint = 'h'; end $$",
    "show server_version_num",
];

/// A pool statement by index (wrapping).
pub fn pool_sql(i: u8) -> &'static str {
    SQL_POOL[usize::from(i) % SQL_POOL.len()]
}

/// Arbitrary SQL, or a pool statement when the text could run long, lift
/// the timeouts, or build a huge value.
pub fn safe_sql(raw: &str, fallback: u8) -> &str {
    let lower = raw.to_ascii_lowercase();
    const DENY: &[&str] = &[
        "sleep", "timeout", "alter", "repeat", "lpad", "rpad", "_agg",
    ];
    if DENY.iter().any(|d| lower.contains(d)) {
        pool_sql(fallback)
    } else {
        raw
    }
}

/// Whether an arbitrary connection string stays on this machine's defaults
/// (see the module docs).
pub fn safe_connstr(raw: &str) -> bool {
    let lower = raw.to_ascii_lowercase();
    const DENY: &[&str] = &[
        "host", "://", "service", "user", "options", "timeout", "passfile", "keylog", "ssl", "gss",
        "krb",
    ];
    !DENY.iter().any(|d| lower.contains(d))
}

/// Names the targets pick from.
pub const NAME_POOL: &[&str] = &["a", "b", "c", "fuzz_d"];

/// A pool name by index (wrapping).
pub fn pool_name(i: u8) -> &'static str {
    NAME_POOL[usize::from(i) % NAME_POOL.len()]
}

/// Cursor names the targets pick from.
pub const CURSOR_POOL: &[&str] = &["c1", "c2", "\"Quoted Cursor\""];

/// A bounded wait: 0..=50 ms.
pub fn short_ms(ms: u8) -> std::time::Duration {
    std::time::Duration::from_millis(u64::from(ms % 51))
}

/// An error as pgdblink reports it must be well formed: a five-character
/// SQLSTATE of digits and capitals, and a message.
pub fn check_error(e: &pgdblink::Error) {
    assert_eq!(e.sqlstate.len(), 5, "bad SQLSTATE in {e:?}");
    assert!(
        e.sqlstate
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase()),
        "bad SQLSTATE in {e:?}"
    );
    assert!(!e.message.is_empty(), "empty message in {e:?}");
}
