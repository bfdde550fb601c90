//! Differential tests of the synchronous functions: dblink(), dblink_exec(),
//! dblink_open/fetch/close and dblink_connect_u, run through the real dblink
//! (SQL in an oracle session) and through pgdblink, compared value by value:
//! returned values and rows, and for ERRORs and NOTICEs the SQLSTATE,
//! message, detail, hint and context.
//!
//! Each test is a list of [`Step`]s. The whole list runs first in the oracle
//! world, then in the pgdblink world (so that timing-sensitive sequences —
//! a call right after a send — behave the same in each world), and then the
//! outcomes are compared step by step; every differing step is reported.
//! Both worlds use the same connection names (the oracle's names live in its
//! server session, pgdblink's in this process), so context lines compare
//! verbatim. Remote state that matters lives in temporary tables (private to
//! each world's remote backend) or in per-world tables (`{t}` in the SQL).

// `Rep` is returned by value on purpose (compared field by field).
#![allow(clippy::result_large_err)]

mod support;

use std::collections::{HashMap, HashSet};
use std::sync::{MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use pgdblink as pg;
use support::{Oracle, Report, Rows, ServerExt, lit, shared, unique_name, unnamed_lock};

// ---------------------------------------------------------------------------
// Comparable outcomes

/// An ERROR or NOTICE, in a form both worlds produce.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rep {
    severity: String,
    sqlstate: String,
    message: String,
    detail: Option<String>,
    hint: Option<String>,
    context: Option<String>,
}

impl Rep {
    fn from_report(r: Report) -> Rep {
        Rep {
            severity: r.severity,
            sqlstate: r.sqlstate,
            message: r.message,
            detail: r.detail,
            hint: r.hint,
            context: r.context,
        }
    }

    fn from_error(severity: &str, e: &pg::Error) -> Rep {
        Rep {
            severity: severity.to_owned(),
            sqlstate: e.sqlstate.clone(),
            message: e.message.clone(),
            detail: e.detail.clone(),
            hint: e.hint.clone(),
            context: e.context.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Val {
    Rows(Rows),
    Text(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Outcome {
    result: Result<Val, Rep>,
    notices: Vec<Rep>,
}

impl Outcome {
    fn rows(&self) -> &Rows {
        match &self.result {
            Ok(Val::Rows(r)) => r,
            other => panic!("expected rows, got {other:?}"),
        }
    }

    fn text(&self) -> &str {
        match &self.result {
            Ok(Val::Text(t)) => t,
            other => panic!("expected a value, got {other:?}"),
        }
    }

    fn err(&self) -> &Rep {
        match &self.result {
            Err(e) => e,
            other => panic!("expected an error, got {other:?}"),
        }
    }
}

/// Rows from string literals (no NULLs).
fn rows(rs: &[&[&str]]) -> Rows {
    rs.iter()
        .map(|r| r.iter().map(|v| Some((*v).to_owned())).collect())
        .collect()
}

// ---------------------------------------------------------------------------
// pgdblink's NOTICEs: one process-wide recording handler

use support::notices::recorder;

/// Removes and returns the recorded notices for connection `name`.
fn take_my_notices(name: Option<&str>) -> Vec<Rep> {
    let mut all = recorder().lock().unwrap_or_else(PoisonError::into_inner);
    let mut mine = Vec::new();
    all.retain(|(n, e)| {
        if n.as_deref() == name {
            mine.push(Rep::from_error("NOTICE", e));
            false
        } else {
            true
        }
    });
    mine
}

// ---------------------------------------------------------------------------
// Steps

/// One dblink call (or probe). `conn`/`target`: `None` is the unnamed
/// connection; `target` may also be a connection string. `fail`: `None` uses
/// the form without `fail_on_error` (dblink's default, true). `cols`: the
/// column definition list the oracle needs (all text).
#[derive(Debug, Clone)]
enum Step {
    Connect {
        name: Option<String>,
        u: bool,
    },
    Disconnect(Option<String>),
    Dblink {
        target: Option<String>,
        sql: String,
        fail: Option<bool>,
        cols: &'static str,
    },
    Exec {
        target: Option<String>,
        sql: String,
        fail: Option<bool>,
    },
    Open {
        conn: Option<String>,
        cur: String,
        sql: String,
        fail: Option<bool>,
    },
    Fetch {
        conn: Option<String>,
        cur: String,
        n: i32,
        fail: Option<bool>,
        cols: &'static str,
    },
    Close {
        conn: Option<String>,
        cur: String,
        fail: Option<bool>,
    },
    Send {
        conn: String,
        sql: String,
    },
    GetResult {
        conn: String,
        fail: Option<bool>,
        cols: &'static str,
    },
    IsBusy(String),
    ErrorMessage(String),
    /// pg_stat_activity.state of the connection's remote backend.
    State(Option<String>),
    /// Waits until the connection's remote backend is no longer 'active'
    /// (its query finished); the outcome is the state it reached.
    WaitIdle(Option<String>),
    /// Terminates the connection's remote backend (pg_terminate_backend,
    /// waiting for it to exit) from a plain session.
    Terminate(Option<String>),
}

fn own(s: Option<&str>) -> Option<String> {
    s.map(str::to_owned)
}

type S = Step;

impl Step {
    fn connect(name: Option<&str>) -> Step {
        Step::Connect {
            name: own(name),
            u: false,
        }
    }
    fn connect_u(name: Option<&str>) -> Step {
        Step::Connect {
            name: own(name),
            u: true,
        }
    }
    fn disconnect(name: Option<&str>) -> Step {
        Step::Disconnect(own(name))
    }
    fn dblink(target: Option<&str>, sql: &str, fail: Option<bool>, cols: &'static str) -> Step {
        Step::Dblink {
            target: own(target),
            sql: sql.to_owned(),
            fail,
            cols,
        }
    }
    fn exec(target: Option<&str>, sql: &str, fail: Option<bool>) -> Step {
        Step::Exec {
            target: own(target),
            sql: sql.to_owned(),
            fail,
        }
    }
    fn open(conn: Option<&str>, cur: &str, sql: &str, fail: Option<bool>) -> Step {
        Step::Open {
            conn: own(conn),
            cur: cur.to_owned(),
            sql: sql.to_owned(),
            fail,
        }
    }
    fn fetch(
        conn: Option<&str>,
        cur: &str,
        n: i32,
        fail: Option<bool>,
        cols: &'static str,
    ) -> Step {
        Step::Fetch {
            conn: own(conn),
            cur: cur.to_owned(),
            n,
            fail,
            cols,
        }
    }
    fn close(conn: Option<&str>, cur: &str, fail: Option<bool>) -> Step {
        Step::Close {
            conn: own(conn),
            cur: cur.to_owned(),
            fail,
        }
    }
    fn send(conn: &str, sql: &str) -> Step {
        Step::Send {
            conn: conn.to_owned(),
            sql: sql.to_owned(),
        }
    }
    fn get_result(conn: &str, fail: Option<bool>, cols: &'static str) -> Step {
        Step::GetResult {
            conn: conn.to_owned(),
            fail,
            cols,
        }
    }
    fn is_busy(conn: &str) -> Step {
        Step::IsBusy(conn.to_owned())
    }
    fn error_message(conn: &str) -> Step {
        Step::ErrorMessage(conn.to_owned())
    }
    fn state(conn: Option<&str>) -> Step {
        Step::State(own(conn))
    }
    fn wait_idle(conn: Option<&str>) -> Step {
        Step::WaitIdle(own(conn))
    }
    fn terminate(conn: Option<&str>) -> Step {
        Step::Terminate(own(conn))
    }
}

/// `'x', ` for a named target, nothing for the unnamed connection.
fn conn_arg(c: &Option<String>) -> String {
    c.as_deref()
        .map_or_else(String::new, |c| format!("{}, ", lit(c)))
}

fn fail_arg(f: Option<bool>) -> &'static str {
    match f {
        None => "",
        Some(true) => ", true",
        Some(false) => ", false",
    }
}

// ---------------------------------------------------------------------------
// The two worlds

/// Per-world bookkeeping: the remote backend pid of each connection, the
/// named connections made, and the table that `{t}` stands for.
#[derive(Default)]
struct World {
    pids: HashMap<Option<String>, i32>,
    named: HashSet<String>,
    unnamed: bool,
    table: Option<String>,
}

impl World {
    fn subst(&self, sql: &str) -> String {
        match &self.table {
            Some(t) => sql.replace("{t}", t),
            None => sql.to_owned(),
        }
    }

    fn track_connect(&mut self, name: &Option<String>) {
        match name {
            Some(n) => {
                self.named.insert(n.clone());
            }
            None => self.unnamed = true,
        }
    }

    fn track_disconnect(&mut self, name: &Option<String>) {
        match name {
            Some(n) => {
                self.named.remove(n);
            }
            None => self.unnamed = false,
        }
        self.pids.remove(name);
    }

    fn pid(&self, name: &Option<String>) -> i32 {
        *self
            .pids
            .get(name)
            .unwrap_or_else(|| panic!("no remote pid recorded for connection {name:?}"))
    }
}

/// An oracle session plus the pgdblink world, and the cleanup of both.
struct Pair {
    oracle: Oracle,
    connstr: String,
    theirs: World,
    mine: World,
    tables: Vec<String>,
    guard: Option<MutexGuard<'static, ()>>,
}

impl Pair {
    fn new() -> Pair {
        recorder();
        let server = shared();
        Pair {
            oracle: server.oracle(),
            connstr: server.connstr(),
            theirs: World::default(),
            mine: World::default(),
            tables: Vec::new(),
            guard: None,
        }
    }

    /// A pair for a test that touches pgdblink's unnamed connection (or whose
    /// NOTICEs arrive under the name `None`): holds `unnamed_lock()` and
    /// starts without an unnamed connection and without stale notices.
    fn with_unnamed() -> Pair {
        let guard = unnamed_lock();
        let mut pair = Pair::new();
        pair.guard = Some(guard);
        let _ = pg::disconnect(None);
        take_my_notices(None);
        pair
    }

    /// Creates one table per world in database postgres (`{t}` in SQL).
    fn with_tables(&mut self, ddl_columns: &str) {
        let base = unique_name("sync_diff_t");
        for (world, suffix) in [(&mut self.theirs, "o"), (&mut self.mine, "p")] {
            let t = format!("{base}_{suffix}");
            shared()
                .psql("postgres", &format!("create table {t} ({ddl_columns})"))
                .expect("create a per-world table");
            world.table = Some(t.clone());
            self.tables.push(t);
        }
    }

    fn state_of(&mut self, pid: i32) -> String {
        self.oracle
            .value(&format!(
                "select state from pg_stat_activity where pid = {pid}"
            ))
            .expect("read pg_stat_activity")
            .unwrap_or_else(|| "NULL".to_owned())
    }

    fn wait_idle(&mut self, pid: i32) -> String {
        let start = Instant::now();
        loop {
            let state = self.state_of(pid);
            if state != "active" || start.elapsed() > Duration::from_secs(20) {
                return state;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn terminate(&mut self, pid: i32) -> String {
        self.oracle
            .value(&format!("select pg_terminate_backend({pid}, 20000)::text"))
            .expect("pg_terminate_backend")
            .unwrap_or_default()
    }

    fn oracle_rows(&mut self, sql: &str) -> Result<Val, Rep> {
        self.oracle
            .query(sql)
            .map(Val::Rows)
            .map_err(Rep::from_report)
    }

    fn oracle_text(&mut self, sql: &str) -> Result<Val, Rep> {
        self.oracle
            .value(sql)
            .map(|v| Val::Text(v.unwrap_or_else(|| "NULL".to_owned())))
            .map_err(Rep::from_report)
    }

    /// Runs `step` through the real dblink.
    fn run_theirs(&mut self, step: &Step) -> Outcome {
        let result = match step {
            Step::Connect { name, u } => {
                let f = if *u {
                    "dblink_connect_u"
                } else {
                    "dblink_connect"
                };
                let sql = format!("select {f}({}{})", conn_arg(name), lit(&self.connstr));
                let r = self.oracle_text(&sql);
                if r.is_ok() {
                    self.theirs.track_connect(name);
                    let pid = self
                        .oracle
                        .value(&format!(
                            "select * from dblink({}'select pg_backend_pid()') as t(p int)",
                            conn_arg(name)
                        ))
                        .expect("oracle: remote pid")
                        .and_then(|p| p.parse().ok())
                        .expect("oracle: a pid");
                    self.theirs.pids.insert(name.clone(), pid);
                }
                r
            }
            Step::Disconnect(name) => {
                let sql = format!("select dblink_disconnect({})", lit_opt_arg(name));
                let r = self.oracle_text(&sql);
                if r.is_ok() {
                    self.theirs.track_disconnect(name);
                }
                r
            }
            Step::Dblink {
                target,
                sql,
                fail,
                cols,
            } => {
                let q = format!(
                    "select * from dblink({}{}{}) as t({cols})",
                    conn_arg(target),
                    lit(&self.theirs.subst(sql)),
                    fail_arg(*fail)
                );
                self.oracle_rows(&q)
            }
            Step::Exec { target, sql, fail } => {
                let q = format!(
                    "select dblink_exec({}{}{})",
                    conn_arg(target),
                    lit(&self.theirs.subst(sql)),
                    fail_arg(*fail)
                );
                self.oracle_text(&q)
            }
            Step::Open {
                conn,
                cur,
                sql,
                fail,
            } => {
                let q = format!(
                    "select dblink_open({}{}, {}{})",
                    conn_arg(conn),
                    lit(cur),
                    lit(&self.theirs.subst(sql)),
                    fail_arg(*fail)
                );
                self.oracle_text(&q)
            }
            Step::Fetch {
                conn,
                cur,
                n,
                fail,
                cols,
            } => {
                let q = format!(
                    "select * from dblink_fetch({}{}, {n}{}) as t({cols})",
                    conn_arg(conn),
                    lit(cur),
                    fail_arg(*fail)
                );
                self.oracle_rows(&q)
            }
            Step::Close { conn, cur, fail } => {
                let q = format!(
                    "select dblink_close({}{}{})",
                    conn_arg(conn),
                    lit(cur),
                    fail_arg(*fail)
                );
                self.oracle_text(&q)
            }
            Step::Send { conn, sql } => {
                let q = format!(
                    "select dblink_send_query({}, {})",
                    lit(conn),
                    lit(&self.theirs.subst(sql))
                );
                self.oracle_text(&q)
            }
            Step::GetResult { conn, fail, cols } => {
                let q = format!(
                    "select * from dblink_get_result({}{}) as t({cols})",
                    lit(conn),
                    fail_arg(*fail)
                );
                self.oracle_rows(&q)
            }
            Step::IsBusy(conn) => {
                self.oracle_text(&format!("select dblink_is_busy({})", lit(conn)))
            }
            Step::ErrorMessage(conn) => {
                self.oracle_text(&format!("select dblink_error_message({})", lit(conn)))
            }
            Step::State(conn) => {
                let pid = self.theirs.pid(conn);
                Ok(Val::Text(self.state_of(pid)))
            }
            Step::WaitIdle(conn) => {
                let pid = self.theirs.pid(conn);
                Ok(Val::Text(self.wait_idle(pid)))
            }
            Step::Terminate(conn) => {
                let pid = self.theirs.pid(conn);
                Ok(Val::Text(self.terminate(pid)))
            }
        };
        let notices = self
            .oracle
            .take_notices()
            .into_iter()
            .map(Rep::from_report)
            .collect();
        Outcome { result, notices }
    }

    /// The name pgdblink's notice handler receives for `step`.
    fn notice_key(&self, step: &Step) -> Option<String> {
        match step {
            Step::Dblink { target, .. } | Step::Exec { target, .. } => target
                .as_ref()
                .filter(|t| self.mine.named.iter().any(|n| truncated(n) == truncated(t)))
                .cloned(),
            Step::Connect { name, .. }
            | Step::Disconnect(name)
            | Step::State(name)
            | Step::WaitIdle(name)
            | Step::Terminate(name) => name.clone(),
            Step::Open { conn, .. } | Step::Fetch { conn, .. } | Step::Close { conn, .. } => {
                conn.clone()
            }
            Step::Send { conn, .. }
            | Step::GetResult { conn, .. }
            | Step::IsBusy(conn)
            | Step::ErrorMessage(conn) => Some(conn.clone()),
        }
    }

    /// Runs `step` through pgdblink.
    fn run_mine(&mut self, step: &Step) -> Outcome {
        let key = self.notice_key(step);
        let text =
            |r: pg::Result<String>| r.map(Val::Text).map_err(|e| Rep::from_error("ERROR", &e));
        let set = |r: pg::Result<pg::DblinkResult>| {
            r.map(|r| Val::Rows(r.rows()))
                .map_err(|e| Rep::from_error("ERROR", &e))
        };
        let flag = |b: pg::Result<bool>| text(b.map(|b| if b { "1" } else { "0" }.to_owned()));
        let fail = |f: &Option<bool>| f.unwrap_or(true);
        let result = match step {
            Step::Connect { name, u } => {
                let r = if *u {
                    pg::connect_u(name.as_deref(), &self.connstr)
                } else {
                    pg::connect(name.as_deref(), &self.connstr)
                };
                let r = text(r.map(|()| "OK".to_owned()));
                if r.is_ok() {
                    self.mine.track_connect(name);
                    let pid = pg::dblink(name.as_deref(), "select pg_backend_pid()", true)
                        .expect("pgdblink: remote pid")
                        .get(0, 0)
                        .and_then(|p| p.parse().ok())
                        .expect("pgdblink: a pid");
                    self.mine.pids.insert(name.clone(), pid);
                }
                r
            }
            Step::Disconnect(name) => {
                let r = text(pg::disconnect(name.as_deref()).map(|()| "OK".to_owned()));
                if r.is_ok() {
                    self.mine.track_disconnect(name);
                }
                r
            }
            Step::Dblink {
                target, sql, fail, ..
            } => set(pg::dblink(
                target.as_deref(),
                &self.mine.subst(sql),
                fail.unwrap_or(true),
            )),
            Step::Exec {
                target,
                sql,
                fail: f,
            } => text(pg::exec(target.as_deref(), &self.mine.subst(sql), fail(f))),
            Step::Open {
                conn,
                cur,
                sql,
                fail: f,
            } => text(pg::open(
                conn.as_deref(),
                cur,
                &self.mine.subst(sql),
                fail(f),
            )),
            Step::Fetch {
                conn,
                cur,
                n,
                fail: f,
                ..
            } => set(pg::fetch(conn.as_deref(), cur, *n, fail(f))),
            Step::Close { conn, cur, fail: f } => text(pg::close(conn.as_deref(), cur, fail(f))),
            Step::Send { conn, sql } => flag(pg::send_query(Some(conn), &self.mine.subst(sql))),
            Step::GetResult { conn, fail: f, .. } => set(pg::get_result(Some(conn), fail(f))),
            Step::IsBusy(conn) => flag(pg::is_busy(Some(conn))),
            Step::ErrorMessage(conn) => text(pg::error_message(Some(conn))),
            Step::State(conn) => {
                let pid = self.mine.pid(conn);
                Ok(Val::Text(self.state_of(pid)))
            }
            Step::WaitIdle(conn) => {
                let pid = self.mine.pid(conn);
                Ok(Val::Text(self.wait_idle(pid)))
            }
            Step::Terminate(conn) => {
                let pid = self.mine.pid(conn);
                Ok(Val::Text(self.terminate(pid)))
            }
        };
        if key.is_none() {
            assert!(
                self.guard.is_some(),
                "a step whose NOTICEs arrive under the unnamed connection needs Pair::with_unnamed(): {step:?}"
            );
        }
        let notices = take_my_notices(key.as_deref());
        Outcome { result, notices }
    }

    /// Runs `steps` in the oracle world, then in the pgdblink world; panics
    /// listing every step whose outcomes differ. Returns the oracle's
    /// outcomes (for checks that the scenario hits what it means to).
    fn run(&mut self, steps: &[Step]) -> Vec<Outcome> {
        let theirs: Vec<Outcome> = steps.iter().map(|s| self.run_theirs(s)).collect();
        let mine: Vec<Outcome> = steps.iter().map(|s| self.run_mine(s)).collect();
        let mut report = String::new();
        for (i, ((step, t), m)) in steps.iter().zip(&theirs).zip(&mine).enumerate() {
            if t != m {
                report.push_str(&format!(
                    "\nstep {i}: {step:?}\n  dblink:   {t:?}\n  pgdblink: {m:?}\n"
                ));
            }
        }
        assert!(report.is_empty(), "pgdblink differs from dblink:{report}");
        theirs
    }
}

/// A connection name as dblink keys it: at most 63 bytes.
fn truncated(name: &str) -> &str {
    let mut end = name.len().min(63);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}

fn lit_opt_arg(name: &Option<String>) -> String {
    name.as_deref().map(lit).unwrap_or_default()
}

impl Drop for Pair {
    fn drop(&mut self) {
        for name in std::mem::take(&mut self.mine.named) {
            let _ = pg::disconnect(Some(&name));
        }
        if self.mine.unnamed {
            let _ = pg::disconnect(None);
        }
        for t in &self.tables {
            let _ = shared().psql("postgres", &format!("drop table if exists {t}"));
        }
        // The oracle's dblink connections close with its session.
    }
}

/// An error report as the oracle raises it, for sanity checks of scenarios.
fn expect_err(o: &Outcome, sqlstate: &str, message: &str) {
    let e = o.err();
    assert_eq!(
        (e.sqlstate.as_str(), e.message.as_str()),
        (sqlstate, message),
        "{e:?}"
    );
}

fn ctx_named(doing: &str, name: &str) -> Option<String> {
    Some(format!("{doing} on dblink connection named \"{name}\""))
}

const RAISE: &str = "do $$begin raise exception 'boom' using detail = 'the detail', \
                     hint = 'the hint', errcode = 'P0001'; end$$";
const RAISE_CONTEXT: &str = "PL/pgSQL function inline_code_block line 1 at RAISE";

// ===========================================================================
// dblink()

#[test]
fn dblink_query_rows_with_each_fail_flag() {
    let mut p = Pair::new();
    let a = unique_name("sd");
    let a = Some(a.as_str());
    let q = "select g, g::text || 'x' from generate_series(1, 3) g";
    let o = p.run(&[
        S::connect(a),
        S::dblink(a, q, None, "i text, s text"),
        S::dblink(a, q, Some(true), "i text, s text"),
        S::dblink(a, q, Some(false), "i text, s text"),
        S::dblink(a, "select null::int, ''", Some(false), "x text, y text"),
        S::dblink(a, "select 1 where false", Some(true), "x text"),
        S::dblink(a, "select 1 where false", Some(false), "x text"),
        S::disconnect(a),
    ]);
    assert_eq!(
        o[1].rows(),
        &rows(&[&["1", "1x"], &["2", "2x"], &["3", "3x"]])
    );
    assert_eq!(o[4].rows(), &vec![vec![None, Some(String::new())]]);
    assert!(o[5].rows().is_empty());
}

#[test]
fn dblink_command_returns_status_row() {
    let mut p = Pair::new();
    let a = unique_name("sd");
    let a = Some(a.as_str());
    let o = p.run(&[
        S::connect(a),
        S::dblink(a, "create temp table t1(x int)", None, "s text"),
        S::dblink(a, "create temp table t2(x int)", Some(true), "s text"),
        S::dblink(a, "create temp table t3(x int)", Some(false), "s text"),
        S::dblink(a, "insert into t1 values (1), (2)", Some(false), "s text"),
        S::dblink(a, "select x from t1 order by x", Some(true), "x text"),
        S::disconnect(a),
    ]);
    assert_eq!(o[1].rows(), &rows(&[&["CREATE TABLE"]]));
    assert_eq!(o[4].rows(), &rows(&[&["INSERT 0 2"]]));
    assert_eq!(o[5].rows(), &rows(&[&["1"], &["2"]]));
}

#[test]
fn dblink_remote_error_fail_true_raises_remote_fields() {
    let mut p = Pair::new();
    let name = unique_name("sd");
    let a = Some(name.as_str());
    let o = p.run(&[
        S::connect(a),
        S::dblink(a, RAISE, Some(true), "s text"),
        S::dblink(a, RAISE, None, "s text"),
        S::dblink(a, "select 1/0", Some(true), "x text"),
        S::dblink(a, "select 2", Some(true), "x text"),
        S::disconnect(a),
    ]);
    let e = o[1].err();
    assert_eq!((e.sqlstate.as_str(), e.message.as_str()), ("P0001", "boom"));
    assert_eq!(e.detail.as_deref(), Some("the detail"));
    assert_eq!(e.hint.as_deref(), Some("the hint"));
    assert_eq!(
        e.context,
        Some(format!(
            "{RAISE_CONTEXT}\nwhile executing query on dblink connection named \"{name}\""
        ))
    );
    expect_err(&o[3], "22012", "division by zero");
    assert_eq!(o[4].rows(), &rows(&[&["2"]]));
}

#[test]
fn dblink_remote_error_fail_false_notices_and_returns_empty_set() {
    let mut p = Pair::new();
    let name = unique_name("sd");
    let a = Some(name.as_str());
    let o = p.run(&[
        S::connect(a),
        S::dblink(a, RAISE, Some(false), "s text"),
        S::dblink(a, "select 1/0", Some(false), "x text"),
        S::error_message(&name),
        S::dblink(a, "select 2", Some(false), "x text"),
        S::disconnect(a),
    ]);
    assert!(o[1].rows().is_empty());
    assert_eq!(o[1].notices.len(), 1);
    assert_eq!(o[1].notices[0].severity, "NOTICE");
    assert_eq!(o[1].notices[0].sqlstate, "P0001");
    assert_eq!(
        o[2].notices[0].context,
        ctx_named("while executing query", &name)
    );
    assert_eq!(o[3].text(), "ERROR:  division by zero");
}

#[test]
fn dblink_multi_statement_error_fail_false_returns_earlier_rows_and_notice() {
    let mut p = Pair::new();
    let name = unique_name("sd");
    let a = Some(name.as_str());
    let o = p.run(&[
        S::connect(a),
        S::dblink(a, "select 1; select 1/0; select 3", Some(false), "x text"),
        S::dblink(a, "select 1/0; select 3", Some(false), "x text"),
        S::dblink(a, "select 1; select 1/0; select 3", Some(true), "x text"),
        S::dblink(a, "select 1; select 2", Some(true), "x text"),
        S::disconnect(a),
    ]);
    assert_eq!(o[1].rows(), &rows(&[&["1"]]));
    assert_eq!(o[1].notices.len(), 1);
    assert_eq!(o[1].notices[0].sqlstate, "22012");
    assert!(o[2].rows().is_empty());
    expect_err(&o[3], "22012", "division by zero");
    assert_eq!(o[4].rows(), &rows(&[&["2"]]));
}

#[test]
fn dblink_multi_statement_ending_in_command_returns_status_row() {
    let mut p = Pair::new();
    let a = unique_name("sd");
    let a = Some(a.as_str());
    let o = p.run(&[
        S::connect(a),
        S::dblink(
            a,
            "select 1; create temp table m(x int)",
            Some(true),
            "s text",
        ),
        S::dblink(
            a,
            "select 1; create temp table m2(x int)",
            Some(false),
            "s text",
        ),
        S::dblink(
            a,
            "create temp table m3(x int); select 7",
            Some(false),
            "x text",
        ),
        S::disconnect(a),
    ]);
    assert_eq!(o[1].rows(), &rows(&[&["CREATE TABLE"]]));
    assert_eq!(o[3].rows(), &rows(&[&["7"]]));
}

#[test]
fn dblink_empty_query_could_not_obtain_message() {
    let mut p = Pair::new();
    let name = unique_name("sd");
    let a = Some(name.as_str());
    let o = p.run(&[
        S::connect(a),
        S::dblink(a, "", Some(true), "x text"),
        S::dblink(a, "", Some(false), "x text"),
        S::error_message(&name),
        S::dblink(a, "select 1", None, "x text"),
        S::disconnect(a),
    ]);
    expect_err(
        &o[1],
        "08006",
        "could not obtain message string for remote error",
    );
    assert_eq!(
        o[1].err().context,
        ctx_named("while executing query", &name)
    );
    assert_eq!(o[2].notices.len(), 1);
}

// ===========================================================================
// dblink_exec()

#[test]
fn exec_command_status_texts() {
    let mut p = Pair::new();
    let a = unique_name("sd");
    let a = Some(a.as_str());
    let o = p.run(&[
        S::connect(a),
        S::exec(a, "create temp table t(x int)", None),
        S::exec(a, "insert into t values (1), (2)", Some(true)),
        S::exec(a, "update t set x = x + 1", Some(false)),
        S::exec(a, "begin", Some(true)),
        S::state(a),
        S::exec(a, "delete from t where x = 3", Some(false)),
        S::exec(a, "commit", Some(false)),
        S::state(a),
        S::exec(a, "select 1; create temp table t5(x int)", Some(true)),
        S::disconnect(a),
    ]);
    let texts: Vec<&str> = [1, 2, 3, 4, 6, 7, 9].iter().map(|&i| o[i].text()).collect();
    assert_eq!(
        texts,
        [
            "CREATE TABLE",
            "INSERT 0 2",
            "UPDATE 2",
            "BEGIN",
            "DELETE 1",
            "COMMIT",
            "CREATE TABLE"
        ]
    );
    assert_eq!(o[5].text(), "idle in transaction");
    assert_eq!(o[8].text(), "idle");
}

#[test]
fn exec_select_not_allowed_regardless_of_fail() {
    let mut p = Pair::new();
    let name = unique_name("sd");
    let a = Some(name.as_str());
    let o = p.run(&[
        S::connect(a),
        S::exec(a, "select 1", None),
        S::exec(a, "select 1", Some(true)),
        S::exec(a, "select 1", Some(false)),
        S::exec(a, "select 1 where false", Some(false)),
        S::error_message(&name),
        S::exec(a, "create temp table t4(x int); select 1", Some(false)),
        S::exec(a, "insert into t4 values (1)", Some(true)),
        S::disconnect(a),
    ]);
    for i in [1, 2, 3, 4, 6] {
        expect_err(&o[i], "2F003", "statement returning results not allowed");
        assert_eq!(o[i].err().context, None);
    }
    assert_eq!(o[5].text(), "OK");
    assert_eq!(o[7].text(), "INSERT 0 1");
}

#[test]
fn exec_remote_error_fail_true_and_false() {
    let mut p = Pair::new();
    let name = unique_name("sd");
    let a = Some(name.as_str());
    let o = p.run(&[
        S::connect(a),
        S::exec(a, RAISE, Some(true)),
        S::exec(a, RAISE, Some(false)),
        S::exec(a, "create temp table u(x int primary key)", None),
        S::exec(a, "insert into u values (1)", None),
        S::exec(a, "insert into u values (1)", None),
        S::exec(a, "insert into u values (1)", Some(false)),
        S::error_message(&name),
        S::exec(a, "select 1/0", Some(false)),
        S::exec(a, "", Some(true)),
        S::exec(a, "", Some(false)),
        S::disconnect(a),
    ]);
    let e = o[1].err();
    assert_eq!(e.sqlstate, "P0001");
    assert_eq!(
        e.context,
        Some(format!(
            "{RAISE_CONTEXT}\nwhile executing command on dblink connection named \"{name}\""
        ))
    );
    assert_eq!(o[2].text(), "ERROR");
    assert_eq!(o[2].notices.len(), 1);
    expect_err(
        &o[5],
        "23505",
        "duplicate key value violates unique constraint \"u_pkey\"",
    );
    assert_eq!(
        o[5].err().detail.as_deref(),
        Some("Key (x)=(1) already exists.")
    );
    assert_eq!(o[6].text(), "ERROR");
    expect_err(
        &o[9],
        "08006",
        "could not obtain message string for remote error",
    );
    assert_eq!(o[10].text(), "ERROR");
}

// ===========================================================================
// The unnamed connection

#[test]
fn unnamed_functions_without_unnamed_connection_are_not_available() {
    let mut p = Pair::with_unnamed();
    let o = p.run(&[
        S::dblink(None, "select 1", None, "x text"),
        S::dblink(None, "select 1", Some(false), "x text"),
        S::exec(None, "create temp table q(x int)", None),
        S::exec(None, "create temp table q(x int)", Some(false)),
        S::open(None, "c1", "select 1", None),
        S::open(None, "c1", "select 1", Some(false)),
        S::fetch(None, "c1", 1, None, "x text"),
        S::fetch(None, "c1", 1, Some(false), "x text"),
        S::close(None, "c1", None),
        S::close(None, "c1", Some(false)),
        S::disconnect(None),
    ]);
    for o in &o {
        expect_err(o, "08003", "connection not available");
    }
}

#[test]
fn unnamed_dblink_and_exec() {
    let mut p = Pair::with_unnamed();
    let o = p.run(&[
        S::connect(None),
        S::dblink(None, "select 1", None, "x text"),
        S::dblink(None, "select 1/0", None, "x text"),
        S::dblink(None, "select 1/0", Some(false), "x text"),
        S::exec(None, "create temp table q(x int)", None),
        S::exec(None, "insert into q values (1)", Some(false)),
        S::exec(None, "select 1/0", Some(true)),
        S::exec(None, "select 1/0", Some(false)),
        S::exec(None, "select 1", Some(false)),
        S::dblink(None, "select x from q", Some(true), "x text"),
        S::disconnect(None),
        S::disconnect(None),
    ]);
    assert_eq!(o[1].rows(), &rows(&[&["1"]]));
    assert_eq!(
        o[2].err().context.as_deref(),
        Some("while executing query on unnamed dblink connection")
    );
    assert_eq!(
        o[3].notices[0].context.as_deref(),
        Some("while executing query on unnamed dblink connection")
    );
    assert_eq!(
        o[6].err().context.as_deref(),
        Some("while executing command on unnamed dblink connection")
    );
    assert_eq!(o[7].text(), "ERROR");
    expect_err(&o[8], "2F003", "statement returning results not allowed");
    expect_err(&o[11], "08003", "connection not available");
}

#[test]
fn unnamed_cursor_open_fetch_close() {
    let mut p = Pair::with_unnamed();
    let o = p.run(&[
        S::connect(None),
        S::state(None),
        S::open(None, "c1", "select g from generate_series(1, 3) g", None),
        S::state(None),
        S::fetch(None, "c1", 2, None, "x text"),
        S::fetch(None, "c1", 2, Some(false), "x text"),
        S::fetch(None, "nope", 2, Some(false), "x text"),
        S::fetch(None, "nope", 2, Some(true), "x text"),
        S::close(None, "c1", None),
        S::open(None, "c2", "select nocol", Some(false)),
        S::state(None),
        S::exec(None, "ROLLBACK", None),
        S::state(None),
        S::open(None, "c3", "select 1", Some(true)),
        S::close(None, "c3", Some(true)),
        S::state(None),
        S::disconnect(None),
    ]);
    assert_eq!(o[3].text(), "idle in transaction");
    assert_eq!(o[4].rows(), &rows(&[&["1"], &["2"]]));
    assert_eq!(o[5].rows(), &rows(&[&["3"]]));
    assert_eq!(o[6].notices[0].sqlstate, "34000");
    assert_eq!(
        o[6].notices[0].context.as_deref(),
        Some("while fetching from cursor \"nope\" on unnamed dblink connection")
    );
    assert_eq!(o[7].err().sqlstate, "25P02");
    assert_eq!(
        o[8].err().context.as_deref(),
        Some("while closing cursor \"c1\" on unnamed dblink connection")
    );
    assert_eq!(o[9].text(), "ERROR");
    assert_eq!(o[10].text(), "idle in transaction (aborted)");
    assert_eq!(o[12].text(), "idle");
    assert_eq!(o[15].text(), "idle");
}

#[test]
fn connect_u_named_and_unnamed() {
    let mut p = Pair::with_unnamed();
    let a = unique_name("sd");
    let a = Some(a.as_str());
    let o = p.run(&[
        S::connect_u(a),
        S::connect_u(a),
        S::dblink(a, "select 'named'", None, "x text"),
        S::connect_u(None),
        S::dblink(None, "select 'unnamed'", None, "x text"),
        S::exec(None, "create temp table q(x int)", Some(false)),
        S::connect_u(None),
        S::exec(None, "insert into q values (1)", Some(false)),
        S::disconnect(a),
        S::disconnect(None),
    ]);
    assert_eq!(o[0].text(), "OK");
    expect_err(&o[1], "42710", "duplicate connection name");
    assert_eq!(o[2].rows(), &rows(&[&["named"]]));
    assert_eq!(o[4].rows(), &rows(&[&["unnamed"]]));
    // The second connect_u replaced the unnamed connection: q is gone.
    assert_eq!(o[7].text(), "ERROR");
    assert_eq!(o[7].notices[0].sqlstate, "42P01");
}

// ===========================================================================
// Connection strings in place of names

#[test]
fn dblink_and_exec_with_connstr_use_a_temporary_connection() {
    let mut p = Pair::with_unnamed();
    let c = shared().connstr();
    let c = Some(c.as_str());
    let o = p.run(&[
        S::dblink(c, "select 42", None, "x text"),
        S::dblink(c, "select 1/0", Some(true), "x text"),
        S::dblink(c, "select 1/0", Some(false), "x text"),
        S::dblink(c, "create temp table zz(x int)", Some(false), "s text"),
        S::exec(c, "create temp table zz(x int)", None),
        S::exec(c, "select 1", Some(false)),
        S::exec(c, "select 1/0", Some(true)),
        S::exec(c, "select 1/0", Some(false)),
        // A fresh temporary connection each time: the temp table is gone.
        S::exec(c, "insert into zz values (1)", Some(false)),
    ]);
    assert_eq!(o[0].rows(), &rows(&[&["42"]]));
    assert_eq!(
        o[1].err().context.as_deref(),
        Some("while executing query on unnamed dblink connection")
    );
    assert_eq!(
        o[2].notices[0].context.as_deref(),
        Some("while executing query on unnamed dblink connection")
    );
    assert_eq!(o[3].rows(), &rows(&[&["CREATE TABLE"]]));
    assert_eq!(o[4].text(), "CREATE TABLE");
    expect_err(&o[5], "2F003", "statement returning results not allowed");
    assert_eq!(
        o[6].err().context.as_deref(),
        Some("while executing command on unnamed dblink connection")
    );
    assert_eq!(o[7].text(), "ERROR");
    assert_eq!(o[8].notices[0].sqlstate, "42P01");
}

#[test]
fn connstr_target_with_per_world_table() {
    let mut p = Pair::with_unnamed();
    p.with_tables("x int");
    let c = shared().connstr();
    let c = Some(c.as_str());
    let o = p.run(&[
        S::exec(c, "insert into {t} values (1), (2)", None),
        S::exec(c, "update {t} set x = x * 10", Some(false)),
        S::dblink(c, "select x from {t} order by x", Some(true), "x text"),
        S::exec(c, "delete from {t}", Some(true)),
        S::dblink(c, "select count(*) from {t}", Some(false), "n text"),
    ]);
    assert_eq!(o[0].text(), "INSERT 0 2");
    assert_eq!(o[1].text(), "UPDATE 2");
    assert_eq!(o[2].rows(), &rows(&[&["10"], &["20"]]));
    assert_eq!(o[3].text(), "DELETE 2");
    assert_eq!(o[4].rows(), &rows(&[&["0"]]));
}

#[test]
fn bad_connstr_errors_regardless_of_fail() {
    let mut p = Pair::with_unnamed();
    let o = p.run(&[
        S::dblink(Some("nope"), "select 1", None, "x text"),
        S::dblink(Some("nope"), "select 1", Some(false), "x text"),
        S::exec(Some("nope"), "select 1", Some(true)),
        S::exec(Some("nope"), "select 1", Some(false)),
        S::dblink(Some("foo=bar"), "select 1", Some(false), "x text"),
    ]);
    for o in &o[..4] {
        expect_err(o, "08001", "could not establish connection");
        assert_eq!(
            o.err().detail.as_deref(),
            Some("missing \"=\" after \"nope\" in connection info string")
        );
        assert!(o.notices.is_empty());
    }
    assert_eq!(
        o[4].err().detail.as_deref(),
        Some("invalid connection option \"foo\"")
    );
}

#[test]
fn dead_port_connstr_errors_regardless_of_fail() {
    let mut p = Pair::with_unnamed();
    let dead = shared().dead_port_connstr();
    let d = Some(dead.as_str());
    let o = p.run(&[
        S::dblink(d, "select 1", Some(true), "x text"),
        S::dblink(d, "select 1", Some(false), "x text"),
        S::exec(d, "select 1", None),
        S::exec(d, "select 1", Some(false)),
    ]);
    for o in &o {
        expect_err(o, "08001", "could not establish connection");
        let detail = o.err().detail.as_deref().unwrap_or_default();
        assert!(detail.contains("Connection refused"), "{detail}");
    }
}

#[test]
fn named_only_functions_on_unknown_name_are_not_available() {
    let mut p = Pair::new();
    let zz = unique_name("sd_unknown");
    let z = Some(zz.as_str());
    let o = p.run(&[
        S::open(z, "c1", "select 1", None),
        S::open(z, "c1", "select 1", Some(false)),
        S::fetch(z, "c1", 1, Some(true), "x text"),
        S::fetch(z, "c1", 1, Some(false), "x text"),
        S::close(z, "c1", Some(true)),
        S::close(z, "c1", Some(false)),
        S::disconnect(z),
    ]);
    for o in &o {
        expect_err(o, "08003", &format!("connection \"{zz}\" not available"));
        assert_eq!(o.err().context, None);
    }
}

// ===========================================================================
// Cursors

#[test]
fn open_fetch_close_named_commits_the_cursor_transaction() {
    let mut p = Pair::new();
    let a = unique_name("sd");
    let a = Some(a.as_str());
    let o = p.run(&[
        S::connect(a),
        S::state(a),
        S::open(a, "c1", "select g from generate_series(1, 5) g", Some(true)),
        S::state(a),
        S::fetch(a, "c1", 2, None, "x text"),
        S::fetch(a, "c1", 2, Some(true), "x text"),
        S::fetch(a, "c1", 2, Some(false), "x text"),
        S::fetch(a, "c1", 2, Some(false), "x text"),
        S::fetch(a, "c1", 0, Some(true), "x text"),
        S::fetch(a, "c1", -1, Some(true), "x text"),
        S::fetch(a, "c1", -2, Some(true), "x text"),
        S::close(a, "c1", Some(false)),
        S::state(a),
        S::open(a, "c6", "values (1), (2)", Some(false)),
        S::fetch(a, "c6", 5, None, "x text"),
        S::close(a, "c6", None),
        S::state(a),
        S::disconnect(a),
    ]);
    assert_eq!(o[1].text(), "idle");
    assert_eq!(o[2].text(), "OK");
    assert_eq!(o[3].text(), "idle in transaction");
    assert_eq!(o[4].rows(), &rows(&[&["1"], &["2"]]));
    assert_eq!(o[6].rows(), &rows(&[&["5"]]));
    assert!(o[7].rows().is_empty());
    assert!(o[8].rows().is_empty());
    assert_eq!(o[9].rows(), &rows(&[&["5"]]));
    assert_eq!(o[10].rows(), &rows(&[&["4"], &["3"]]));
    assert_eq!(o[11].text(), "OK");
    assert_eq!(o[12].text(), "idle");
    assert_eq!(o[14].rows(), &rows(&[&["1"], &["2"]]));
    assert_eq!(o[16].text(), "idle");
}

#[test]
fn nested_cursors_commit_on_last_close() {
    let mut p = Pair::new();
    let a = unique_name("sd");
    let a = Some(a.as_str());
    let o = p.run(&[
        S::connect(a),
        S::open(a, "c1", "select 1", None),
        S::open(a, "c2", "select 2", None),
        S::state(a),
        S::close(a, "c1", None),
        S::state(a),
        S::fetch(a, "c2", 1, None, "x text"),
        S::close(a, "c2", None),
        S::state(a),
        S::disconnect(a),
    ]);
    assert_eq!(o[5].text(), "idle in transaction");
    assert_eq!(o[6].rows(), &rows(&[&["2"]]));
    assert_eq!(o[8].text(), "idle");
}

#[test]
fn open_inside_explicit_begin_close_leaves_transaction_open() {
    let mut p = Pair::new();
    let a = unique_name("sd");
    let a = Some(a.as_str());
    let o = p.run(&[
        S::connect(a),
        S::exec(a, "BEGIN", None),
        S::open(a, "c3", "select 1", None),
        S::close(a, "c3", None),
        S::state(a),
        S::exec(a, "COMMIT", None),
        S::state(a),
        S::disconnect(a),
    ]);
    assert_eq!(o[3].text(), "OK");
    assert_eq!(o[4].text(), "idle in transaction");
    assert_eq!(o[6].text(), "idle");
}

#[test]
fn stale_new_xact_flag_commits_explicit_begin() {
    let mut p = Pair::new();
    let a = unique_name("sd");
    let a = Some(a.as_str());
    let o = p.run(&[
        S::connect(a),
        S::open(a, "c1", "select 1", None),
        S::exec(a, "COMMIT", None),
        S::exec(a, "BEGIN", None),
        S::exec(a, "DECLARE c1 CURSOR FOR SELECT 1", None),
        S::open(a, "c2", "select 2", None),
        S::close(a, "c2", None),
        S::state(a),
        S::close(a, "c1", None),
        S::state(a),
        S::disconnect(a),
    ]);
    assert_eq!(o[7].text(), "idle in transaction");
    assert_eq!(o[9].text(), "idle");
}

#[test]
fn fetch_and_close_missing_cursor_fail_true_and_false() {
    let mut p = Pair::new();
    let name = unique_name("sd");
    let a = Some(name.as_str());
    let o = p.run(&[
        S::connect(a),
        S::fetch(a, "nope", 1, None, "x text"),
        S::state(a),
        S::fetch(a, "nope", 1, Some(false), "x text"),
        S::error_message(&name),
        S::close(a, "nope", Some(true)),
        S::close(a, "nope", Some(false)),
        S::state(a),
        S::disconnect(a),
    ]);
    expect_err(&o[1], "34000", "cursor \"nope\" does not exist");
    assert_eq!(
        o[1].err().context,
        ctx_named("while fetching from cursor \"nope\"", &name)
    );
    assert_eq!(o[2].text(), "idle");
    assert!(o[3].rows().is_empty());
    assert_eq!(o[3].notices.len(), 1);
    assert_eq!(o[4].text(), "ERROR:  cursor \"nope\" does not exist");
    assert_eq!(
        o[5].err().context,
        ctx_named("while closing cursor \"nope\"", &name)
    );
    assert_eq!(o[6].text(), "ERROR");
    assert_eq!(o[6].notices[0].sqlstate, "34000");
}

#[test]
fn open_bad_sql_fail_true_leaves_transaction_aborted() {
    let mut p = Pair::new();
    let name = unique_name("sd");
    let a = Some(name.as_str());
    let o = p.run(&[
        S::connect(a),
        S::open(a, "c4", "select nocol", Some(true)),
        S::state(a),
        S::open(a, "c4", "select nocol", Some(false)),
        S::dblink(a, "select 1", None, "x text"),
        S::exec(a, "select 1", Some(false)),
        S::exec(a, "ROLLBACK", None),
        S::state(a),
        S::dblink(a, "select 1", None, "x text"),
        S::disconnect(a),
    ]);
    expect_err(&o[1], "42703", "column \"nocol\" does not exist");
    assert_eq!(
        o[1].err().context,
        ctx_named("while opening cursor \"c4\"", &name)
    );
    assert_eq!(o[2].text(), "idle in transaction (aborted)");
    assert_eq!(o[3].text(), "ERROR");
    assert_eq!(o[3].notices[0].sqlstate, "25P02");
    assert_eq!(o[4].err().sqlstate, "25P02");
    assert_eq!(o[5].text(), "ERROR");
    assert_eq!(o[7].text(), "idle");
    assert_eq!(o[8].rows(), &rows(&[&["1"]]));
}

#[test]
fn open_bad_sql_fail_false_then_close_other_cursor() {
    let mut p = Pair::new();
    let name = unique_name("sd");
    let a = Some(name.as_str());
    let o = p.run(&[
        S::connect(a),
        S::open(a, "c1", "select 1", None),
        S::open(a, "c2", "select nocol", Some(false)),
        S::state(a),
        S::close(a, "c1", Some(false)),
        S::close(a, "c2", Some(false)),
        S::state(a),
        S::exec(a, "ROLLBACK", Some(false)),
        S::open(a, "c3", "select 3", None),
        S::close(a, "c3", None),
        S::state(a),
        S::disconnect(a),
    ]);
    assert_eq!(o[2].text(), "ERROR");
    assert_eq!(o[2].notices[0].sqlstate, "42703");
    assert_eq!(o[3].text(), "idle in transaction (aborted)");
    assert_eq!(o[4].text(), "ERROR");
    assert_eq!(o[4].notices[0].sqlstate, "25P02");
    assert_eq!(o[6].text(), "idle in transaction (aborted)");
    assert_eq!(o[10].text(), "idle");
}

#[test]
fn remote_error_inside_cursor_transaction_then_fetch_close_rollback() {
    let mut p = Pair::new();
    let name = unique_name("sd");
    let a = Some(name.as_str());
    let o = p.run(&[
        S::connect(a),
        S::open(a, "c1", "select 1", None),
        S::exec(a, "select 1/0", Some(false)),
        S::state(a),
        S::fetch(a, "c1", 1, None, "x text"),
        S::fetch(a, "c1", 1, Some(false), "x text"),
        S::close(a, "c1", None),
        S::close(a, "c1", Some(false)),
        S::state(a),
        S::exec(a, "ROLLBACK", None),
        S::open(a, "c2", "select 1", None),
        S::state(a),
        S::close(a, "c2", None),
        S::state(a),
        S::disconnect(a),
    ]);
    assert_eq!(o[2].text(), "ERROR");
    assert_eq!(o[3].text(), "idle in transaction (aborted)");
    expect_err(
        &o[4],
        "25P02",
        "current transaction is aborted, commands ignored until end of transaction block",
    );
    assert_eq!(
        o[4].err().context,
        ctx_named("while fetching from cursor \"c1\"", &name)
    );
    assert!(o[5].rows().is_empty());
    assert_eq!(o[5].notices[0].sqlstate, "25P02");
    assert_eq!(
        o[6].err().context,
        ctx_named("while closing cursor \"c1\"", &name)
    );
    assert_eq!(o[7].text(), "ERROR");
    assert_eq!(o[8].text(), "idle in transaction (aborted)");
    assert_eq!(o[9].text(), "ROLLBACK");
    assert_eq!(o[11].text(), "idle in transaction");
    assert_eq!(o[13].text(), "idle");
}

const FK_TABLES: &str = "create temp table p(id int primary key); \
     create temp table ch(pid int references p deferrable initially deferred)";

#[test]
fn close_commit_error_deferred_fk_fail_true() {
    let mut p = Pair::new();
    let a = unique_name("sd");
    let a = Some(a.as_str());
    let o = p.run(&[
        S::connect(a),
        S::exec(a, FK_TABLES, None),
        S::open(a, "c4", "select 1", None),
        S::exec(a, "insert into ch values (42)", None),
        S::close(a, "c4", None),
        S::state(a),
        S::open(a, "c5", "select 5", None),
        S::fetch(a, "c5", 1, None, "x text"),
        S::close(a, "c5", None),
        S::state(a),
        S::disconnect(a),
    ]);
    assert_eq!(o[3].text(), "INSERT 0 1");
    let e = o[4].err();
    assert_eq!(e.sqlstate, "XX000");
    assert!(
        e.message.starts_with(
            "commit error: ERROR:  insert or update on table \"ch\" violates foreign key constraint"
        ),
        "{e:?}"
    );
    assert!(e.message.contains("\nDETAIL:  Key (pid)=(42)"), "{e:?}");
    assert_eq!((&e.detail, &e.hint, &e.context), (&None, &None, &None));
    assert_eq!(o[5].text(), "idle");
    assert_eq!(o[9].text(), "idle");
}

#[test]
fn close_commit_error_deferred_fk_fail_false() {
    let mut p = Pair::new();
    let a = unique_name("sd");
    let a = Some(a.as_str());
    let o = p.run(&[
        S::connect(a),
        S::exec(a, FK_TABLES, None),
        S::open(a, "c4", "select 1", Some(false)),
        S::exec(a, "insert into ch values (42)", Some(false)),
        S::close(a, "c4", Some(false)),
        S::state(a),
        S::exec(a, "insert into p values (42)", Some(false)),
        S::disconnect(a),
    ]);
    assert_eq!(o[4].err().sqlstate, "XX000");
    assert!(o[4].notices.is_empty());
    assert_eq!(o[5].text(), "idle");
    assert_eq!(o[6].text(), "INSERT 0 1");
}

// ===========================================================================
// Sync functions while an async query is pending

const SLEEP: &str = "select pg_sleep(2)::text";

#[test]
fn dblink_while_async_query_running_drains_and_fails() {
    let mut p = Pair::new();
    let name = unique_name("sd");
    let a = Some(name.as_str());
    let o = p.run(&[
        S::connect(a),
        S::send(&name, SLEEP),
        S::dblink(a, "select 99", Some(true), "x text"),
        S::error_message(&name),
        S::is_busy(&name),
        S::get_result(&name, None, "x text"),
        S::get_result(&name, None, "x text"),
        S::dblink(a, "select 5", None, "x text"),
        S::disconnect(a),
    ]);
    assert_eq!(o[1].text(), "1");
    expect_err(
        &o[2],
        "XX000",
        "could not send query: another command is already in progress",
    );
    assert_eq!(o[2].err().context, None);
    assert_eq!(o[3].text(), "another command is already in progress");
    assert_eq!(o[4].text(), "0");
    assert!(o[5].rows().is_empty());
    assert_eq!(o[7].rows(), &rows(&[&["5"]]));
}

#[test]
fn dblink_fail_false_while_async_result_unread_drains_and_fails() {
    let mut p = Pair::new();
    let name = unique_name("sd");
    let a = Some(name.as_str());
    let o = p.run(&[
        S::connect(a),
        S::send(&name, "select 1::text"),
        S::wait_idle(a),
        S::dblink(a, "select 99", Some(false), "x text"),
        S::is_busy(&name),
        S::get_result(&name, None, "x text"),
        S::dblink(a, "select 5", None, "x text"),
        S::disconnect(a),
    ]);
    assert_eq!(o[2].text(), "idle");
    expect_err(
        &o[3],
        "XX000",
        "could not send query: another command is already in progress",
    );
    assert!(o[3].notices.is_empty());
    assert!(o[5].rows().is_empty());
    assert_eq!(o[6].rows(), &rows(&[&["5"]]));
}

#[test]
fn dblink_after_async_command_unread_drains_and_fails() {
    let mut p = Pair::new();
    let name = unique_name("sd");
    let a = Some(name.as_str());
    let o = p.run(&[
        S::connect(a),
        S::send(&name, "create temp table if not exists tt(x int)"),
        S::wait_idle(a),
        S::dblink(a, "select 99", None, "x text"),
        S::get_result(&name, None, "s text"),
        S::exec(a, "insert into tt values (1)", None),
        S::disconnect(a),
    ]);
    expect_err(
        &o[3],
        "XX000",
        "could not send query: another command is already in progress",
    );
    assert!(o[4].rows().is_empty());
    assert_eq!(o[5].text(), "INSERT 0 1");
}

#[test]
fn exec_while_async_query_running_keeps_pending_result() {
    let mut p = Pair::new();
    let name = unique_name("sd");
    let a = Some(name.as_str());
    let o = p.run(&[
        S::connect(a),
        S::send(&name, SLEEP),
        S::exec(a, "create temp table t(x int)", Some(true)),
        S::exec(a, "create temp table t(x int)", Some(false)),
        S::error_message(&name),
        S::is_busy(&name),
        S::get_result(&name, None, "x text"),
        S::get_result(&name, None, "x text"),
        S::exec(a, "create temp table t(x int)", None),
        S::disconnect(a),
    ]);
    expect_err(&o[2], "08006", "another command is already in progress");
    assert_eq!(
        o[2].err().context,
        ctx_named("while executing command", &name)
    );
    assert_eq!(o[3].text(), "ERROR");
    assert_eq!(o[3].notices[0].sqlstate, "08006");
    // libpq appends to its error buffer: two failed sends, two lines.
    assert_eq!(
        o[4].text(),
        "another command is already in progress\nanother command is already in progress"
    );
    assert_eq!(o[5].text(), "1");
    assert_eq!(o[6].rows(), &rows(&[&[""]]));
    assert!(o[7].rows().is_empty());
    assert_eq!(o[8].text(), "CREATE TABLE");
}

#[test]
fn exec_while_async_result_unread_keeps_pending_result() {
    let mut p = Pair::new();
    let name = unique_name("sd");
    let a = Some(name.as_str());
    let o = p.run(&[
        S::connect(a),
        S::send(&name, "select 1::text"),
        S::wait_idle(a),
        S::exec(a, "create temp table t(x int)", Some(false)),
        S::get_result(&name, None, "x text"),
        S::get_result(&name, None, "x text"),
        S::send(&name, "create temp table if not exists tt(x int)"),
        S::wait_idle(a),
        S::exec(a, "create temp table t(x int)", Some(true)),
        S::get_result(&name, None, "s text"),
        S::get_result(&name, None, "s text"),
        S::exec(a, "create temp table t(x int)", Some(true)),
        S::disconnect(a),
    ]);
    assert_eq!(o[3].text(), "ERROR");
    assert_eq!(o[4].rows(), &rows(&[&["1"]]));
    assert!(o[5].rows().is_empty());
    expect_err(&o[8], "08006", "another command is already in progress");
    assert_eq!(o[9].rows(), &rows(&[&["CREATE TABLE"]]));
    assert_eq!(o[11].text(), "CREATE TABLE");
}

#[test]
fn open_fetch_close_while_async_query_running_keep_pending_result() {
    let mut p = Pair::new();
    let name = unique_name("sd");
    let a = Some(name.as_str());
    let o = p.run(&[
        S::connect(a),
        S::open(a, "c0", "select g from generate_series(1, 3) g", None),
        S::send(&name, SLEEP),
        S::open(a, "c1", "select 99", Some(true)),
        S::open(a, "c1", "select 99", Some(false)),
        S::fetch(a, "c0", 1, Some(true), "x text"),
        S::fetch(a, "c0", 1, Some(false), "x text"),
        S::close(a, "c0", Some(true)),
        S::close(a, "c0", Some(false)),
        S::is_busy(&name),
        S::get_result(&name, None, "x text"),
        S::get_result(&name, None, "x text"),
        S::fetch(a, "c0", 1, None, "x text"),
        // The failed opens counted as cursors of dblink's transaction, so
        // this close does not commit.
        S::close(a, "c0", None),
        S::state(a),
        S::exec(a, "COMMIT", None),
        S::state(a),
        S::disconnect(a),
    ]);
    for (i, doing) in [
        (3, "while opening cursor \"c1\""),
        (5, "while fetching from cursor \"c0\""),
        (7, "while closing cursor \"c0\""),
    ] {
        // libpq appends to its error buffer with each failed send, so the
        // message grows by one line per call.
        let e = o[i].err();
        assert_eq!(e.sqlstate, "08006");
        assert_eq!(
            e.message,
            vec!["another command is already in progress"; i - 2].join("\n")
        );
        assert_eq!(e.context, ctx_named(doing, &name));
        assert_eq!(o[i + 1].notices.len(), 1);
        assert_eq!(o[i + 1].notices[0].context, ctx_named(doing, &name));
    }
    assert_eq!(o[4].text(), "ERROR");
    assert!(o[6].rows().is_empty());
    assert_eq!(o[8].text(), "ERROR");
    assert_eq!(o[9].text(), "1");
    assert_eq!(o[10].rows(), &rows(&[&[""]]));
    assert_eq!(o[12].rows(), &rows(&[&["1"]]));
    assert_eq!(o[14].text(), "idle in transaction");
}

#[test]
fn open_fetch_close_fail_false_while_async_result_unread() {
    let mut p = Pair::new();
    let name = unique_name("sd");
    let a = Some(name.as_str());
    let o = p.run(&[
        S::connect(a),
        S::send(&name, "select 12"),
        S::wait_idle(a),
        S::open(a, "c", "select 1", Some(false)),
        S::fetch(a, "c", 1, Some(false), "x text"),
        S::close(a, "c", Some(false)),
        S::get_result(&name, None, "x text"),
        S::get_result(&name, None, "x text"),
        S::state(a),
        S::disconnect(a),
    ]);
    assert_eq!(o[3].text(), "ERROR");
    assert_eq!(o[3].notices[0].sqlstate, "08006");
    assert!(o[4].rows().is_empty());
    assert_eq!(o[5].text(), "ERROR");
    assert_eq!(o[6].rows(), &rows(&[&["12"]]));
    assert!(o[7].rows().is_empty());
    assert_eq!(o[8].text(), "idle");
}

#[test]
fn dblink_after_get_result_before_final_empty_set() {
    let mut p = Pair::new();
    let name = unique_name("sd");
    let a = Some(name.as_str());
    let o = p.run(&[
        S::connect(a),
        S::send(&name, "select 9"),
        S::get_result(&name, None, "x text"),
        S::dblink(a, "select 10", None, "x text"),
        S::get_result(&name, None, "x text"),
        S::dblink(a, "select 10", None, "x text"),
        S::disconnect(a),
    ]);
    assert_eq!(o[2].rows(), &rows(&[&["9"]]));
    expect_err(
        &o[3],
        "XX000",
        "could not send query: another command is already in progress",
    );
    assert!(o[4].rows().is_empty());
    assert_eq!(o[5].rows(), &rows(&[&["10"]]));
}

#[test]
fn exec_after_get_result_before_final_empty_set() {
    let mut p = Pair::new();
    let name = unique_name("sd");
    let a = Some(name.as_str());
    let o = p.run(&[
        S::connect(a),
        S::send(&name, "select 11"),
        S::get_result(&name, None, "x text"),
        S::exec(a, "create temp table t(x int)", None),
        S::get_result(&name, None, "x text"),
        S::exec(a, "create temp table t(x int)", None),
        S::disconnect(a),
    ]);
    assert_eq!(o[2].rows(), &rows(&[&["11"]]));
    expect_err(&o[3], "08006", "another command is already in progress");
    assert!(o[4].rows().is_empty());
    assert_eq!(o[5].text(), "CREATE TABLE");
}

// ===========================================================================
// More dblink() / dblink_exec() sequences

#[test]
fn exec_multi_statement_error_in_the_middle() {
    let mut p = Pair::new();
    let name = unique_name("sd");
    let a = Some(name.as_str());
    let o = p.run(&[
        S::connect(a),
        S::exec(
            a,
            "create temp table ma(x int); select 1/0; create temp table mb(x int)",
            Some(false),
        ),
        // The implicit transaction of the multi-statement string rolled back.
        S::exec(a, "insert into ma values (1)", Some(false)),
        S::exec(
            a,
            "create temp table ma(x int); select 1/0; create temp table mb(x int)",
            Some(true),
        ),
        S::exec(
            a,
            "create temp table ma(x int); insert into ma values (1), (2), (3)",
            None,
        ),
        S::disconnect(a),
    ]);
    assert_eq!(o[1].text(), "ERROR");
    assert_eq!(o[1].notices[0].sqlstate, "22012");
    assert_eq!(
        o[1].notices[0].context,
        ctx_named("while executing command", &name)
    );
    assert_eq!(o[2].notices[0].sqlstate, "42P01");
    expect_err(&o[3], "22012", "division by zero");
    assert_eq!(o[4].text(), "INSERT 0 3");
}

#[test]
fn dblink_command_then_error_fail_false_returns_empty_set() {
    let mut p = Pair::new();
    let a = unique_name("sd");
    let a = Some(a.as_str());
    let o = p.run(&[
        S::connect(a),
        S::dblink(
            a,
            "create temp table ce(x int); select 1/0",
            Some(false),
            "x text",
        ),
        S::dblink(a, "select 1; select 2; select 1/0", Some(false), "x text"),
        S::dblink(a, "do $$begin end$$", Some(false), "s text"),
        S::dblink(a, "do $$begin end$$; select 4", Some(true), "x text"),
        S::disconnect(a),
    ]);
    assert!(o[1].rows().is_empty());
    assert_eq!(o[1].notices.len(), 1);
    assert_eq!(o[2].rows(), &rows(&[&["2"]]));
    assert_eq!(o[3].rows(), &rows(&[&["DO"]]));
    assert_eq!(o[4].rows(), &rows(&[&["4"]]));
}

#[test]
fn open_with_unquoted_names_and_non_select_sql() {
    let mut p = Pair::new();
    let name = unique_name("sd");
    let a = Some(name.as_str());
    let o = p.run(&[
        S::connect(a),
        S::open(a, "My Cur", "select 1", Some(true)),
        S::state(a),
        S::exec(a, "ROLLBACK", None),
        S::open(a, "\"My Cur\"", "select 1", Some(true)),
        S::fetch(a, "\"My Cur\"", 1, Some(true), "x text"),
        S::close(a, "\"My Cur\"", Some(true)),
        S::state(a),
        S::open(a, "c6", "insert into nothere values (1)", Some(false)),
        S::exec(a, "ROLLBACK", None),
        S::disconnect(a),
    ]);
    expect_err(&o[1], "42601", "syntax error at or near \"Cur\"");
    assert_eq!(
        o[1].err().context,
        ctx_named("while opening cursor \"My Cur\"", &name)
    );
    assert_eq!(o[2].text(), "idle in transaction (aborted)");
    assert_eq!(o[4].text(), "OK");
    assert_eq!(o[5].rows(), &rows(&[&["1"]]));
    assert_eq!(o[7].text(), "idle");
    assert_eq!(o[8].text(), "ERROR");
    assert_eq!(o[8].notices[0].sqlstate, "42601");
}

#[test]
fn dblink_while_async_query_running_inside_cursor_transaction() {
    let mut p = Pair::new();
    let name = unique_name("sd");
    let a = Some(name.as_str());
    let o = p.run(&[
        S::connect(a),
        S::open(a, "c0", "select g from generate_series(1, 2) g", None),
        S::send(&name, SLEEP),
        S::dblink(a, "select 99", Some(false), "x text"),
        S::is_busy(&name),
        S::get_result(&name, Some(false), "x text"),
        S::fetch(a, "c0", 5, None, "x text"),
        S::close(a, "c0", None),
        S::state(a),
        S::disconnect(a),
    ]);
    expect_err(
        &o[3],
        "XX000",
        "could not send query: another command is already in progress",
    );
    assert_eq!(o[4].text(), "0");
    assert!(o[5].rows().is_empty());
    assert_eq!(o[6].rows(), &rows(&[&["1"], &["2"]]));
    assert_eq!(o[8].text(), "idle");
}

// ===========================================================================
// Broken connection (remote backend terminated while idle)

#[test]
fn terminated_backend_dblink_fail_true_then_false() {
    let mut p = Pair::new();
    let name = unique_name("sd");
    let a = Some(name.as_str());
    let o = p.run(&[
        S::connect(a),
        S::terminate(a),
        S::is_busy(&name),
        S::error_message(&name),
        S::dblink(a, "select 1", Some(true), "x text"),
        S::dblink(a, "select 1", Some(false), "x text"),
        S::exec(a, "select 1", Some(false)),
        S::exec(a, "select 1", Some(true)),
        S::open(a, "c", "select 1", Some(false)),
        S::fetch(a, "c", 1, Some(false), "x text"),
        S::close(a, "c", Some(false)),
        S::disconnect(a),
    ]);
    assert_eq!(o[1].text(), "true");
    assert_eq!(o[2].text(), "0");
    assert_eq!(o[4].err().sqlstate, "08006");
    assert_eq!(
        o[4].err().context,
        ctx_named("while executing query", &name)
    );
    expect_err(
        &o[5],
        "XX000",
        "could not send query: no connection to the server",
    );
    assert_eq!(o[6].text(), "ERROR");
    assert_eq!(o[6].notices[0].message, "no connection to the server");
    expect_err(&o[7], "08006", "no connection to the server");
    assert_eq!(o[8].text(), "ERROR");
    assert_eq!(o[11].text(), "OK");
}

#[test]
fn terminated_backend_open_begin_error() {
    let mut p = Pair::new();
    let a = unique_name("sd");
    let a = Some(a.as_str());
    let o = p.run(&[
        S::connect(a),
        S::terminate(a),
        S::open(a, "cur", "select 1", Some(false)),
        S::open(a, "cur", "select 1", Some(false)),
        S::disconnect(a),
    ]);
    let e = o[2].err();
    assert_eq!(e.sqlstate, "XX000");
    assert!(
        e.message.starts_with(
            "begin error: FATAL:  terminating connection due to administrator command"
        ),
        "{e:?}"
    );
}

#[test]
fn unnamed_reconnect_keeps_dblinks_cursor_counter() {
    // dblink keeps the unnamed connection's cursor bookkeeping (a static
    // struct) across dblink_connect/dblink_disconnect: the count and the
    // "dblink began the transaction" flag survive a reconnect.
    let mut p = Pair::with_unnamed();
    let o = p.run(&[
        S::connect(None),
        S::open(None, "c1", "select 1", None),
        S::connect(None),
        S::exec(None, "BEGIN", None),
        S::open(None, "c2", "select 2", None),
        S::close(None, "c2", None),
        S::state(None),
        S::exec(None, "DECLARE c1 CURSOR FOR SELECT 1", None),
        S::close(None, "c1", None),
        S::state(None),
        S::disconnect(None),
    ]);
    assert_eq!(o[6].text(), "idle in transaction");
    assert_eq!(o[8].text(), "OK");
    // dblink's stale count reached 0 at this close and it sent COMMIT,
    // ending the transaction the caller began.
    assert_eq!(o[9].text(), "idle");
}

#[test]
fn long_connection_name_context_uses_the_given_name() {
    let mut p = Pair::new();
    let long = format!("{}_{}", unique_name("sd"), "x".repeat(70));
    let a = Some(long.as_str());
    let short: String = long.chars().take(63).collect();
    let o = p.run(&[
        S::connect(a),
        S::dblink(a, "select 1/0", Some(false), "x text"),
        S::exec(Some(&short), "select 1/0", Some(false)),
        S::open(a, "c", "select nocol", Some(false)),
        S::exec(Some(&short), "ROLLBACK", None),
        S::disconnect(a),
    ]);
    assert_eq!(o[0].notices[0].sqlstate, "42622");
    assert_eq!(
        o[1].notices[0].context,
        ctx_named("while executing query", &long)
    );
    assert_eq!(
        o[2].notices[0].context,
        ctx_named("while executing command", &short)
    );
}
