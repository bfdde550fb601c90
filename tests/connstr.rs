//! Connection strings work as libpq's do, since pgdblink hands them to libpq
//! untouched: `key=value` (with quoting), `postgresql://` URIs (TCP, a
//! percent-encoded unix-socket directory as host, query parameters), a
//! service file (`service=svc` with `PGSERVICEFILE`) and the `PG*`
//! environment variables under an empty connection string.
//!
//! Each form is tried as `dblink_connect(name, connstr)` + `dblink(name,
//! ...)` and as `dblink(connstr, ...)` (the connection string as first
//! argument: a temporary connection), written in dblink's SQL call syntax.
//! Where the real dblink can take the same string — key=value and URIs,
//! which mean the same inside the server — each call runs in both worlds
//! ([`Pair`]: the real dblink in an oracle session, pgdblink through the
//! same calls) and the rows, or the ERROR, must be equal. The service file
//! and the environment are this process's, which the server's dblink never
//! sees: for those only pgdblink runs the calls, and the test asserts that
//! the connection works and reaches the database they name (a second
//! database, `connstr_target`, so that a default could not pass for it).
//!
//! The environment is process-wide and libpq reads it (getenv) while it
//! connects, so every test of this file holds [`env_lock`]: the one test
//! that changes the environment never overlaps another's connect, and it
//! restores every variable it touched (also when it fails).

// The `Report` of an ERROR is returned by value on purpose (compared whole
// and field by field).
#![allow(clippy::result_large_err)]

mod support;

use std::ffi::OsString;
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

use pgdblink as pg;
use support::scenario::{Outcome, Pair, Value};
use support::{Oracle, Report, Rows, ServerExt, shared, unique_name, unnamed_lock};

/// The database the connection strings name (not the default `postgres`).
const TARGET_DB: &str = "connstr_target";

/// What each connection reports about itself: where it landed, as whom, and
/// whether over TCP (the server address) or a unix socket (NULL).
const PROBE: &str = "select current_database()::text, current_user::text, \
                     host(inet_server_addr()), current_setting('application_name')";

/// The calls, on connection `:n`, connection string `:cs` and `:probe`
/// ([`PROBE`], see [`paths`]).
const CONNECT: &str = "SELECT dblink_connect(:'n', :'cs')";
const PROBE_NAMED: &str =
    "SELECT * FROM dblink(:'n', :'probe') AS t(db text, usr text, addr text, app text)";
const DISCONNECT: &str = "SELECT dblink_disconnect(:'n')";
const PROBE_DIRECT: &str =
    "SELECT * FROM dblink(:'cs', :'probe') AS t(db text, usr text, addr text, app text)";

/// Serializes this file's tests (see the module docs).
fn env_lock() -> MutexGuard<'static, ()> {
    static ENV: Mutex<()> = Mutex::new(());
    ENV.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The shared server, with [`TARGET_DB`] created once.
fn server() -> &'static support::Server {
    static CREATED: OnceLock<()> = OnceLock::new();
    let server = shared();
    CREATED.get_or_init(|| {
        let exists = server
            .psql(
                "postgres",
                &format!("select count(*) from pg_database where datname = '{TARGET_DB}'"),
            )
            .expect("query pg_database");
        if exists.trim() == "0" {
            if let Err(e) = server.psql("postgres", &format!("create database {TARGET_DB}")) {
                // Another test binary on the same external server won the race.
                assert!(e.contains("already exists"), "create database: {e}");
            }
        }
    });
    server
}

/// The superuser the harness connects as.
fn superuser(oracle: &mut Oracle) -> String {
    oracle
        .value("select current_user::text")
        .expect("current_user")
        .expect("current_user is not NULL")
}

/// Both worlds, with `:probe` defined.
fn pair() -> Pair {
    let mut pair = Pair::on(server());
    pair.set("probe", PROBE);
    pair
}

/// Connects with `connstr` both ways, `run` running each call: the named
/// connection (connect, [`PROBE`], disconnect) and a temporary one
/// (`dblink(connstr, PROBE)`); the two must agree. The rows, or the ERROR.
fn paths(
    pair: &mut Pair,
    connstr: &str,
    mut run: impl FnMut(&mut Pair, &str) -> Outcome,
) -> Result<Rows, Report> {
    pair.set("cs", connstr);
    pair.set("n", &unique_name("cs"));
    let named = match run(pair, CONNECT).result {
        Ok(_) => {
            let rows = run(pair, PROBE_NAMED).result;
            assert_eq!(run(pair, DISCONNECT).scalar(), Some("OK"));
            rows
        }
        Err(e) => Err(e),
    };
    let direct = run(pair, PROBE_DIRECT).result;
    assert_eq!(
        named, direct,
        "named vs temporary connection with {connstr:?}"
    );
    named.map(|v| match v {
        Value::Rows(rows) => rows,
        other => panic!("{PROBE_NAMED}: {other:?}"),
    })
}

/// Runs `connstr` through both paths of both worlds; they must agree, and
/// the rows are returned.
fn same_as_real_dblink(pair: &mut Pair, connstr: &str) -> Result<Rows, Report> {
    paths(pair, connstr, |p, call| p.step(call))
}

/// The one row [`PROBE`] returns: database, user, server address (None on a
/// unix socket), application_name.
fn probe_row(rows: &Rows) -> (&str, &str, Option<&str>, &str) {
    assert_eq!(rows.len(), 1, "{rows:?}");
    let r = &rows[0];
    (
        r[0].as_deref().expect("current_database"),
        r[1].as_deref().expect("current_user"),
        r[2].as_deref(),
        r[3].as_deref().expect("application_name"),
    )
}

/// `s` percent-encoded for a URI component (everything but unreserved
/// characters).
fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[test]
fn connect_key_value_then_dblink_matches_real_dblink() {
    let _env = env_lock();
    let server = server();
    let mut pair = pair();
    let user = superuser(&mut server.oracle());

    // The harness's own connstr, pointed at the target database.
    let rows = same_as_real_dblink(&mut pair, &server.connstr_db(TARGET_DB))
        .expect("key=value connstr connects");
    let (db, usr, _, _) = probe_row(&rows);
    assert_eq!((db, usr), (TARGET_DB, user.as_str()));

    // TCP, spaces around '=', and a quoted value with a space, a quote and
    // a backslash (libpq's escapes inside single quotes).
    let connstr = format!(
        "host = 127.0.0.1  port={} user={user} dbname = '{TARGET_DB}' \
         application_name='it\\'s a \\\\ test'",
        server.port()
    );
    let rows = same_as_real_dblink(&mut pair, &connstr).expect("quoted key=value connects");
    assert_eq!(
        probe_row(&rows),
        (
            TARGET_DB,
            user.as_str(),
            Some("127.0.0.1"),
            "it's a \\ test"
        )
    );
}

#[test]
fn connect_uri_tcp_and_socket_then_dblink_matches_real_dblink() {
    let _env = env_lock();
    let server = server();
    let mut pair = pair();
    let user = superuser(&mut server.oracle());
    let port = server.port();

    // TCP: user@host:port/dbname?param=value
    let uri = format!("postgresql://{user}@127.0.0.1:{port}/{TARGET_DB}?application_name=uri_tcp");
    let rows = same_as_real_dblink(&mut pair, &uri).expect("TCP URI connects");
    assert_eq!(
        probe_row(&rows),
        (TARGET_DB, user.as_str(), Some("127.0.0.1"), "uri_tcp")
    );

    // The short scheme, and parameters only in the query string.
    let uri =
        format!("postgres://127.0.0.1:{port}/{TARGET_DB}?user={user}&application_name=uri%20short");
    let rows = same_as_real_dblink(&mut pair, &uri).expect("postgres:// URI connects");
    assert_eq!(
        probe_row(&rows),
        (TARGET_DB, user.as_str(), Some("127.0.0.1"), "uri short")
    );

    let Some(sock) = server.socket_dir() else {
        eprintln!("no unix socket directory known for this server: socket URIs not tried");
        return;
    };
    let sock = sock.to_str().expect("a UTF-8 socket path");
    // A unix-socket directory as the host, percent-encoded.
    let uri = format!(
        "postgresql://{user}@{}:{port}/{TARGET_DB}?application_name=uri_socket",
        percent_encode(sock)
    );
    let rows = same_as_real_dblink(&mut pair, &uri).expect("socket URI connects");
    assert_eq!(
        probe_row(&rows),
        (TARGET_DB, user.as_str(), None, "uri_socket")
    );

    // No host in the authority; the socket directory as a query parameter.
    let uri = format!(
        "postgresql:///{TARGET_DB}?host={}&port={port}&user={user}&application_name=uri_query_host",
        percent_encode(sock)
    );
    let rows = same_as_real_dblink(&mut pair, &uri).expect("host= parameter URI connects");
    assert_eq!(
        probe_row(&rows),
        (TARGET_DB, user.as_str(), None, "uri_query_host")
    );
}

#[test]
fn connect_malformed_uri_and_unknown_option_fail_as_real_dblink() {
    let _env = env_lock();
    let server = server();
    let mut pair = pair();
    // libpq rejects these before connecting: 08001 `could not establish
    // connection` with libpq's reason as DETAIL, in both worlds (libpq 15
    // in the server, 18 here: these texts are the same in both).
    for connstr in [
        "postgresql://[::1".to_owned(),
        format!("{} no_such_option=1", server.connstr()),
        "postgresql://localhost:notaport/x".to_owned(),
        format!("{} port=", server.connstr()) + "'unterminated",
    ] {
        let ours = same_as_real_dblink(&mut pair, &connstr);
        let err = ours.expect_err("a bad connstr must fail");
        assert_eq!(err.sqlstate, "08001", "{connstr:?}: {err:?}");
        assert_eq!(err.message, "could not establish connection", "{connstr:?}");
        assert!(
            err.detail.is_some(),
            "{connstr:?}: libpq's reason as DETAIL"
        );
    }
}

/// Sets environment variables for one test and restores all of them (to
/// their values or their absence) when dropped, also on a failed assert.
struct EnvGuard {
    saved: Vec<(&'static str, Option<OsString>)>,
}

impl EnvGuard {
    /// Saves `keys` and removes them, so the test starts from a known state.
    fn clear(keys: &[&'static str]) -> EnvGuard {
        let saved = keys.iter().map(|&k| (k, std::env::var_os(k))).collect();
        let guard = EnvGuard { saved };
        for k in keys {
            guard.unset(k);
        }
        guard
    }

    fn set(&self, key: &'static str, value: &str) {
        assert!(self.saved.iter().any(|(k, _)| *k == key), "{key} not saved");
        // SAFETY: every test of this binary holds env_lock() while it runs,
        // so no other thread reads the environment (libpq's getenv during a
        // connect) while this one writes it; std's own env access is locked.
        unsafe { std::env::set_var(key, value) };
    }

    fn unset(&self, key: &str) {
        // SAFETY: as in `set`.
        unsafe { std::env::remove_var(key) };
    }
}

impl Drop for EnvGuard {
    fn drop(&mut self) {
        for (key, value) in &self.saved {
            match value {
                // SAFETY: as in `set` (the guard is dropped under env_lock()).
                Some(v) => unsafe { std::env::set_var(key, v) },
                None => self.unset(key),
            }
        }
    }
}

/// The variables libpq reads that could steer these connections.
const PG_ENV: [&str; 9] = [
    "PGHOST",
    "PGHOSTADDR",
    "PGPORT",
    "PGUSER",
    "PGDATABASE",
    "PGSERVICE",
    "PGSERVICEFILE",
    "PGAPPNAME",
    "PGOPTIONS",
];

/// Connects with `connstr` both ways in pgdblink only (the server's dblink
/// does not see this process's environment); both must agree.
fn pgdblink_both(pair: &mut Pair, connstr: &str) -> Result<Rows, Report> {
    paths(pair, connstr, |p, call| p.mine.run(call))
}

#[test]
fn connect_service_file_and_pg_environment_reach_the_named_database() {
    let _env = env_lock();
    let server = server();
    let mut pair = pair();
    let user = superuser(&mut server.oracle());
    let port = server.port().to_string();
    let sock = server
        .socket_dir()
        .map(|p| p.to_str().expect("a UTF-8 socket path").to_owned());
    // The unix socket when known, else TCP.
    let host = sock.clone().unwrap_or_else(|| "127.0.0.1".to_owned());
    let expected_addr = if sock.is_some() {
        None
    } else {
        Some("127.0.0.1")
    };
    let before: Vec<Option<OsString>> = PG_ENV.iter().map(std::env::var_os).collect();
    let env = EnvGuard::clear(&PG_ENV);

    // --- a service file: PGSERVICEFILE, connstr `service=svc` -----------------
    let dir = std::env::temp_dir().join(format!("pgdblink-connstr-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create a temp dir");
    let file = dir.join("pg_service.conf");
    std::fs::write(
        &file,
        format!(
            "# written by tests/connstr.rs\n\
             [other]\nhost=nowhere.invalid\n\n\
             [svc]\nhost={host}\nport={port}\nuser={user}\ndbname={TARGET_DB}\n\
             application_name=from_service\n"
        ),
    )
    .expect("write the service file");
    env.set("PGSERVICEFILE", file.to_str().expect("a UTF-8 temp path"));

    let rows = pgdblink_both(&mut pair, "service=svc").expect("service=svc connects");
    assert_eq!(
        probe_row(&rows),
        (TARGET_DB, user.as_str(), expected_addr, "from_service")
    );
    // Explicit keywords win over the service's.
    let rows = pgdblink_both(
        &mut pair,
        "service=svc dbname=postgres application_name=explicit",
    )
    .expect("service=svc with overrides connects");
    assert_eq!(
        probe_row(&rows),
        ("postgres", user.as_str(), expected_addr, "explicit")
    );
    // The service as a URI parameter.
    let rows =
        pgdblink_both(&mut pair, "postgresql:///?service=svc").expect("URI ?service=svc connects");
    assert_eq!(probe_row(&rows).0, TARGET_DB);
    // PGSERVICE names the service when the connstr does not.
    env.set("PGSERVICE", "svc");
    let rows = pgdblink_both(&mut pair, "").expect("PGSERVICE=svc connects");
    assert_eq!(probe_row(&rows).3, "from_service");
    env.unset("PGSERVICE");

    // A service the file does not define: the same ERROR the real dblink
    // gives for a service its (the server's) service files lack.
    let ours =
        pgdblink_both(&mut pair, "service=no_such_service").expect_err("an unknown service fails");
    let theirs = pair.step(PROBE_DIRECT);
    assert_eq!(theirs.err(), &ours, "unknown service: pgdblink vs dblink");
    assert_eq!(
        ours.detail.as_deref(),
        Some("definition of service \"no_such_service\" not found")
    );
    env.unset("PGSERVICEFILE");
    let _ = std::fs::remove_dir_all(&dir);

    // --- PG* environment variables with an empty connstr ----------------------
    env.set("PGHOST", &host);
    env.set("PGPORT", &port);
    env.set("PGUSER", &user);
    env.set("PGDATABASE", TARGET_DB);
    env.set("PGAPPNAME", "from_env");
    let rows = pgdblink_both(&mut pair, "").expect("'' with PG* connects");
    assert_eq!(
        probe_row(&rows),
        (TARGET_DB, user.as_str(), expected_addr, "from_env")
    );
    // An empty URI takes the same defaults; a connstr keyword overrides one.
    let rows = pgdblink_both(&mut pair, "postgresql://").expect("empty URI with PG* connects");
    assert_eq!(probe_row(&rows).0, TARGET_DB);
    let rows = pgdblink_both(&mut pair, "dbname=postgres").expect("dbname= with PG* connects");
    assert_eq!(probe_row(&rows).0, "postgres");
    // The unnamed connection with '' as well.
    {
        let _unnamed = unnamed_lock();
        pg::connect(None, "").expect("connect(None, '') with PG*");
        let rows = pg::dblink(None, PROBE, true)
            .expect("dblink(None, PROBE)")
            .rows();
        pg::disconnect(None).expect("disconnect the unnamed connection");
        assert_eq!(probe_row(&rows).0, TARGET_DB);
    }
    // PGHOST as a TCP address.
    env.set("PGHOST", "127.0.0.1");
    let rows = pgdblink_both(&mut pair, "").expect("'' with PGHOST=127.0.0.1 connects");
    assert_eq!(
        probe_row(&rows),
        (TARGET_DB, user.as_str(), Some("127.0.0.1"), "from_env")
    );
    // PGPORT pointing nowhere: the failure names that port.
    let dead_port = server
        .dead_port_connstr()
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("port=").map(str::to_owned))
        .expect("a port in dead_port_connstr");
    env.set("PGPORT", &dead_port);
    let err = pgdblink_both(&mut pair, "").expect_err("a dead PGPORT fails");
    assert_eq!(
        (err.sqlstate.as_str(), err.message.as_str()),
        ("08001", "could not establish connection")
    );
    let detail = err.detail.expect("libpq's reason as DETAIL");
    assert!(
        detail.contains(&format!("port {dead_port} failed")),
        "{detail}"
    );

    drop(env);
    let after: Vec<Option<OsString>> = PG_ENV.iter().map(std::env::var_os).collect();
    assert_eq!(after, before, "the PG* environment is restored");
}
