//! The worlds: a [`World`] of each [`Side`] (its sessions, variables,
//! connection bookkeeping and meta commands), and a library world's call
//! ([`library_outcome`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pgdblink as pg;

use super::c_abi::{dispatch_c, run_c};
use super::outcome::{Outcome, Value, report_of_error};
use super::parse::{Arg, Call, Shape};
use super::resolve::Resolved;
use super::rust::dispatch;
use super::text_array::sorted_array;
use super::vars::Vars;
use crate::support::notices;
use crate::support::oracle::{Oracle, Rows, ServerExt, lit};
use crate::support::server::{Server, shared};

/// Which side a [`World`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The real dblink, in an oracle session.
    Dblink,
    /// pgdblink's Rust API, in this process.
    Pgdblink,
    /// pgdblink's C ABI (`pgdblink::ffi`, [`dispatch_c`]), in this process.
    /// Its world records NOTICEs through a C notice callback, which
    /// replaces the process-wide notice handler while the world lives
    /// (`notices::install_c`, undone when it is dropped): only for a binary
    /// that runs one world at a time (the scenario runner), never beside
    /// other tests' worlds ([`Pair`](super::Pair) does not use it).
    C,
}

impl Side {
    fn tag(self) -> &'static str {
        match self {
            Side::Dblink => "o",
            Side::Pgdblink => "p",
            Side::C => "c",
        }
    }
}

pub(super) static NEXT_UNIQUE: AtomicUsize = AtomicUsize::new(1);

/// One side of a differential test: its session(s), variables, the remote
/// backend pid of each connection it made, and what to clean up.
pub struct World {
    pub side: Side,
    /// The oracle world's dblink session; in the library worlds (Rust, C) a
    /// plain session (pg_stat_activity probes, argument expressions).
    session: Oracle,
    pub vars: Vars,
    pids: HashMap<Option<String>, i32>,
    /// The connection names made in this world (pgdblink's registry is
    /// process-wide: they are disconnected at the end).
    connected: Vec<Option<String>>,
    tables: Vec<String>,
}

/// How long the waiting meta commands wait.
const WAIT: Duration = Duration::from_secs(20);
/// How long `\retry` retries.
const RETRY: Duration = Duration::from_secs(10);

impl World {
    pub fn new(side: Side, server: &Server) -> World {
        notices::install();
        if side == Side::C {
            notices::install_c();
        }
        let mut session = server.oracle();
        // No step may hang the tests: the oracle's calls are bounded too.
        session
            .query("set statement_timeout = '120s'")
            .unwrap_or_else(|r| panic!("statement_timeout: {r}"));
        World {
            side,
            session,
            vars: Vars::builtin(server),
            pids: HashMap::new(),
            connected: Vec::new(),
            tables: Vec::new(),
        }
    }

    /// A per-world identifier for `:name` (masked in outcomes).
    pub fn define_unique(&mut self, name: &str) -> String {
        let value = format!(
            "{name}_{}{}_{}",
            self.side.tag(),
            std::process::id(),
            NEXT_UNIQUE.fetch_add(1, Ordering::Relaxed)
        );
        self.vars.set(name, &value, true);
        value
    }

    /// A per-world table `:name` in database postgres, with `columns` (e.g.
    /// `(x int, y text)`), dropped when the world is.
    pub fn define_table(&mut self, name: &str, columns: &str) {
        let table = self.define_unique(name);
        shared()
            .psql("postgres", &format!("create table {table} {columns}"))
            .unwrap_or_else(|e| panic!("create table {table}: {e}"));
        self.tables.push(table);
    }

    /// Defines `:var` as the remote backend pid of connection `conn` (masked).
    pub fn define_pid(&mut self, conn: Option<&str>, var: &str) {
        let pid = self.pid(conn);
        self.vars.set(var, &pid.to_string(), true);
    }

    /// The remote backend pid of connection `conn`, recorded when it connected.
    pub fn pid(&self, conn: Option<&str>) -> i32 {
        *self
            .pids
            .get(&conn.map(str::to_owned))
            .unwrap_or_else(|| panic!("no remote pid recorded for connection {conn:?}"))
    }

    /// Runs one statement (`;` optional) in this world.
    pub fn run(&mut self, statement: &str) -> Outcome {
        let sql = self
            .vars
            .interpolate(statement.trim().trim_end_matches(';'));
        let call = Call::parse(&sql).unwrap_or_else(|e| panic!("{e}\nin: {sql}"));
        self.call(&call, &sql)
    }

    /// Runs `call` (`sql`: its interpolated text, for the oracle).
    pub fn call(&mut self, call: &Call, sql: &str) -> Outcome {
        let out = match self.side {
            Side::Dblink => self.call_dblink(call, sql),
            Side::Pgdblink | Side::C => self.call_library(call),
        };
        self.track(call, &out);
        out
    }

    /// The outcome with this world's masked values shown as `:name`.
    pub fn render(&self, out: &Outcome) -> String {
        self.vars.mask(&out.render())
    }

    fn call_dblink(&mut self, call: &Call, sql: &str) -> Outcome {
        let result = self.session.query(sql).map(|rows| match &call.shape {
            Shape::Scalar => {
                let v = match <[_; 1]>::try_from(rows) {
                    Ok([row]) => match <[_; 1]>::try_from(row) {
                        Ok([v]) => v,
                        Err(row) => panic!("a scalar call gave {} columns: {sql}", row.len()),
                    },
                    Err(rows) => panic!("a scalar call gave {} rows: {sql}", rows.len()),
                };
                if call.func == "dblink_get_connections" {
                    Value::Scalar(sorted_array(v).unwrap_or_else(|e| panic!("{e}")))
                } else {
                    Value::Scalar(v)
                }
            }
            Shape::Set { .. } => Value::Rows(rows),
        });
        Outcome {
            notices: self.session.take_notices(),
            result,
        }
    }

    /// Evaluates the arguments: `None` for NULL (and for an expression that
    /// gives NULL).
    fn eval(&mut self, args: &[Arg]) -> Vec<Option<String>> {
        args.iter()
            .map(|a| match a {
                Arg::Text(s) => Some(s.clone()),
                Arg::Int(n) => Some(n.to_string()),
                Arg::Bool(b) => Some(b.to_string()),
                Arg::Null => None,
                Arg::Expr(e) => self
                    .session
                    .value(&format!("select ({e})::text"))
                    .unwrap_or_else(|r| panic!("evaluating argument {e}: {r}")),
            })
            .collect()
    }

    fn call_library(&mut self, call: &Call) -> Outcome {
        let values = self.eval(&call.args);
        library_outcome(self.side, call, values)
    }

    /// Keeps the bookkeeping of connects and disconnects: the remote pid of
    /// each new connection, and the names to close at the end.
    fn track(&mut self, call: &Call, out: &Outcome) {
        let ok = matches!(&out.result, Ok(Value::Scalar(Some(v))) if v == "OK");
        if !ok {
            return;
        }
        let name = |s: &mut World, n: usize| -> Option<Option<String>> {
            match call.args.len() {
                x if x == n => Some(None),
                x if x == n + 1 => s.eval(&call.args[..1]).pop(),
                _ => None,
            }
        };
        match call.func.as_str() {
            "dblink_connect" | "dblink_connect_u" => {
                let Some(conn) = name(self, 1) else { return };
                let pid = self.remote_pid(conn.as_deref());
                self.pids.insert(conn.clone(), pid);
                if !self.connected.contains(&conn) {
                    self.connected.push(conn);
                }
            }
            "dblink_disconnect" => {
                if let Some(conn) = name(self, 0) {
                    self.pids.remove(&conn);
                }
            }
            _ => {}
        }
    }

    fn remote_pid(&mut self, conn: Option<&str>) -> i32 {
        let text = match self.side {
            Side::Dblink => {
                let target = conn.map(|c| format!("{}, ", lit(c))).unwrap_or_default();
                self.session
                    .value(&format!(
                        "select * from dblink({target}'select pg_backend_pid()') as t(p int)"
                    ))
                    .unwrap_or_else(|r| panic!("dblink: the remote pid of {conn:?}: {r}"))
            }
            Side::Pgdblink => pg::dblink(conn, "select pg_backend_pid()", true)
                .unwrap_or_else(|e| panic!("pgdblink: the remote pid of {conn:?}: {e}"))
                .get(0, 0)
                .map(str::to_owned),
            Side::C => {
                let query = Resolved::Query {
                    exec: false,
                    target: conn,
                    sql: "select pg_backend_pid()",
                    fail: true,
                };
                match run_c("dblink", query) {
                    Ok(Value::Rows(rows)) => rows
                        .into_iter()
                        .next()
                        .and_then(|r| r.into_iter().next().flatten()),
                    other => panic!("pgdblink (C): the remote pid of {conn:?}: {other:?}"),
                }
            }
        };
        text.and_then(|t| t.parse().ok())
            .unwrap_or_else(|| panic!("no remote pid for {conn:?}"))
    }

    // -- meta commands -------------------------------------------------------

    fn backend_state(&mut self, pid: i32) -> Option<String> {
        self.session
            .query(&format!(
                "select state from pg_stat_activity where pid = {pid}"
            ))
            .unwrap_or_else(|r| panic!("pg_stat_activity: {r}"))
            .into_iter()
            .next()
            .and_then(|row| row.into_iter().next().flatten())
    }

    /// `\state`: the state of `conn`'s remote backend.
    pub fn state(&mut self, conn: Option<&str>) -> Outcome {
        let pid = self.pid(conn);
        Outcome::value(Value::Scalar(self.backend_state(pid)))
    }

    /// `\wait_idle`: waits until `conn`'s backend is not active; its state.
    pub fn wait_idle(&mut self, conn: Option<&str>) -> Outcome {
        let pid = self.pid(conn);
        let start = Instant::now();
        loop {
            let state = self.backend_state(pid);
            if state.as_deref() != Some("active") || start.elapsed() > WAIT {
                return Outcome::value(Value::Scalar(state));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// `\wait_active`: waits until `conn`'s backend is active (panics after
    /// the wait bound).
    pub fn wait_active(&mut self, conn: Option<&str>) {
        let pid = self.pid(conn);
        let start = Instant::now();
        while self.backend_state(pid).as_deref() != Some("active") {
            assert!(
                start.elapsed() < WAIT,
                "{:?}: the backend of {conn:?} did not become active",
                self.side
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// `\wait_not_busy`: polls dblink_is_busy(conn) until 0.
    pub fn wait_not_busy(&mut self, conn: &str) {
        let start = Instant::now();
        loop {
            let busy = match self.side {
                Side::Dblink => {
                    self.session
                        .value(&format!("select dblink_is_busy({})", lit(conn)))
                        .unwrap_or_else(|r| panic!("dblink_is_busy: {r}"))
                        .as_deref()
                        == Some("1")
                }
                Side::Pgdblink => {
                    pg::is_busy(Some(conn)).unwrap_or_else(|e| panic!("is_busy: {e}"))
                }
                Side::C => match run_c("dblink_is_busy", Resolved::IsBusy(conn)) {
                    Ok(Value::Scalar(Some(v))) => v == "1",
                    other => panic!("dblink_is_busy (C): {other:?}"),
                },
            };
            if !busy {
                return;
            }
            assert!(start.elapsed() < WAIT, "{conn} stayed busy");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// `\terminate`: pg_terminate_backend of `conn`'s backend (waiting for it).
    pub fn terminate(&mut self, conn: Option<&str>) -> Outcome {
        let pid = self.pid(conn);
        let v = self
            .session
            .value(&format!("select pg_terminate_backend({pid}, 20000)::text"))
            .unwrap_or_else(|r| panic!("pg_terminate_backend: {r}"));
        Outcome::value(Value::Scalar(v))
    }

    /// `\retry`: runs `statement` until it returns at least one row.
    pub fn retry(&mut self, statement: &str) -> Outcome {
        let start = Instant::now();
        loop {
            let out = self.run(statement);
            let got = matches!(&out.result, Ok(Value::Rows(r)) if !r.is_empty());
            if got || start.elapsed() > RETRY {
                return out;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for World {
    fn drop(&mut self) {
        if self.side != Side::Dblink {
            for conn in std::mem::take(&mut self.connected) {
                let _ = pg::disconnect(conn.as_deref());
            }
            notices::take();
        }
        if self.side == Side::C {
            notices::reinstall();
        }
        // The oracle's dblink connections close with its session.
        for t in &self.tables {
            let _ = shared().psql("postgres", &format!("drop table if exists {t}"));
        }
    }
}

/// The outcome of `call` with its evaluated arguments (`None`: NULL) in a
/// library world (`side`: Pgdblink, the Rust API; C, the C ABI), NOTICEs
/// included: the call itself, which needs no [`World`] (so it can run in a
/// thread of its own, see [`World::run_via`]).
fn library_outcome(side: Side, call: &Call, values: Vec<Option<String>>) -> Outcome {
    notices::take();
    let result = if values.iter().any(Option::is_none) {
        // dblink's functions are STRICT: a NULL argument, no call.
        Ok(match call.shape {
            Shape::Scalar => Value::Scalar(None),
            Shape::Set { .. } => Value::Rows(Vec::new()),
        })
    } else {
        let v: Vec<String> = values.into_iter().flatten().collect();
        match side {
            Side::C => dispatch_c(call, &v),
            Side::Pgdblink | Side::Dblink => {
                dispatch(call, &v).map_err(|e| report_of_error("ERROR", &e))
            }
        }
    };
    let notices = notices::take()
        .iter()
        .map(|(_, e)| report_of_error("NOTICE", e))
        .collect();
    let result = result.map(|v| match (v, &call.shape) {
        (Value::Rows(rows), Shape::Set { columns, select }) => {
            Value::Rows(project(rows, columns, select.as_deref()).unwrap_or_else(|e| panic!("{e}")))
        }
        (v, _) => v,
    });
    Outcome { notices, result }
}

/// Rows projected from `columns` to `select`; an error when a row's width
/// is not the column definition list's.
pub fn project(rows: Rows, columns: &[String], select: Option<&[String]>) -> Result<Rows, String> {
    if let Some(row) = rows.iter().find(|r| r.len() != columns.len()) {
        return Err(format!(
            "pgdblink returned {} columns where the column definition list names {} \
             ({columns:?}): make them match (dblink would raise 42804 here)",
            row.len(),
            columns.len()
        ));
    }
    let Some(select) = select else {
        return Ok(rows);
    };
    let idx: Vec<usize> = select
        .iter()
        .filter_map(|s| columns.iter().position(|c| c == s))
        .collect();
    Ok(rows
        .into_iter()
        .map(|row| idx.iter().map(|&i| row.get(i).cloned().flatten()).collect())
        .collect())
}

impl World {
    /// The server_version_num of this world's session's server.
    pub fn server_version(&mut self) -> i32 {
        self.session
            .value("show server_version_num")
            .ok()
            .flatten()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("server_version_num"))
    }
}

// ===========================================================================
// Calls run elsewhere (the fault tests bound them in time)

/// A pgdblink call ready to run, on any thread.
pub type PgdblinkCall = Box<dyn FnOnce() -> Outcome + Send>;

impl World {
    /// Like [`run`](Self::run), but in the pgdblink world the pgdblink call
    /// itself is handed to `exec`, which runs it and returns its outcome
    /// (e.g. in a thread of its own, failing the test if it hangs; its
    /// NOTICEs are the outcome's whatever thread runs it). The arguments
    /// are evaluated, and connects recorded, here. In the oracle world
    /// `exec` is not used.
    pub fn run_via(
        &mut self,
        statement: &str,
        exec: impl FnOnce(PgdblinkCall) -> Outcome,
    ) -> Outcome {
        if self.side == Side::Dblink {
            return self.run(statement);
        }
        let sql = self
            .vars
            .interpolate(statement.trim().trim_end_matches(';'));
        let call = Call::parse(&sql).unwrap_or_else(|e| panic!("{e}\nin: {sql}"));
        let values = self.eval(&call.args);
        let out = exec(Box::new({
            let call = call.clone();
            let side = self.side;
            move || library_outcome(side, &call, values)
        }));
        self.track(&call, &out);
        out
    }
}
