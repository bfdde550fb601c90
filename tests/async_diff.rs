//! Differential tests: the connection functions and the async family
//! (dblink_connect, dblink_disconnect, dblink_get_connections,
//! dblink_send_query, dblink_is_busy, dblink_get_result, dblink_cancel_query,
//! dblink_error_message, dblink_get_notify), run step by step through the real
//! dblink (SQL in the oracle session) and through pgdblink, comparing every
//! returned value, ERROR and NOTICE (SQLSTATE, message, detail, hint, context).

mod support;

use std::fmt::Debug;
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use pgdblink::Status;
use support::{Oracle, Rep, Rows, ServerExt, lit, shared, unique_name, unnamed_lock};

// ---------------------------------------------------------------------------
// Process-wide coordination
// ---------------------------------------------------------------------------

/// pgdblink's registry is process-wide. Every test holds the read side for
/// its whole run; the one test that needs an empty registry (get_connections
/// returning NULL) holds the write side, so it runs alone.
static REGISTRY_LOCK: RwLock<()> = RwLock::new(());

fn registry_shared() -> RwLockReadGuard<'static, ()> {
    REGISTRY_LOCK.read().unwrap_or_else(PoisonError::into_inner)
}

fn registry_exclusive() -> RwLockWriteGuard<'static, ()> {
    REGISTRY_LOCK
        .write()
        .unwrap_or_else(PoisonError::into_inner)
}

use support::notices::recorder;

/// dblink's key for a connection name: truncated to 63 bytes.
fn name_key(name: &str) -> &str {
    let mut end = name.len().min(63);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}

/// Takes pgdblink's recorded notices for connection `name` (compared by its
/// 63-byte key; `None`: the unnamed connection).
fn take_pg_notices(name: Option<&str>) -> Vec<Rep> {
    let mut all = recorder().lock().unwrap_or_else(PoisonError::into_inner);
    let (mine, rest): (Vec<_>, Vec<_>) = all
        .drain(..)
        .partition(|(n, _)| n.as_deref().map(name_key) == name.map(name_key));
    *all = rest;
    mine.iter().map(|(_, e)| Rep::from(e)).collect()
}

// ---------------------------------------------------------------------------
// Comparable outcomes
// ---------------------------------------------------------------------------

/// One call's outcome: its value or ERROR, and the NOTICEs it raised.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Out<T> {
    value: Result<T, Rep>,
    notices: Vec<Rep>,
}

impl<T: Debug> Out<T> {
    /// The value; panics (naming the step) on an ERROR.
    fn ok(self, step: &str) -> T {
        match self.value {
            Ok(v) => v,
            Err(e) => panic!("{step}: unexpected ERROR {e:?}"),
        }
    }

    /// The ERROR; panics (naming the step) on a value.
    fn err(self, step: &str) -> Rep {
        match self.value {
            Ok(v) => panic!("{step}: expected an ERROR, got {v:?}"),
            Err(e) => e,
        }
    }
}

/// A notification as compared: (channel, be_pid, payload).
type Note = (String, i32, String);

fn text(v: &Option<String>) -> String {
    v.clone().unwrap_or_else(|| "<NULL>".to_owned())
}

/// A connection name as an SQL argument list prefix.
fn name_arg(name: Option<&str>) -> String {
    name.map(lit).unwrap_or_default()
}

// ---------------------------------------------------------------------------
// The two worlds
// ---------------------------------------------------------------------------

/// One scenario run in both worlds. Every step runs the call through the
/// oracle (real dblink) and through pgdblink, asserts that both outcomes are
/// equal, and returns the (common) outcome.
struct Dual {
    oracle: Oracle,
    connstr: String,
    /// pgdblink connections to close at the end (in case a step panicked).
    opened: Vec<Option<String>>,
    _registry: RwLockReadGuard<'static, ()>,
}

impl Dual {
    fn new() -> Dual {
        Dual::with_guard(registry_shared())
    }

    fn with_guard(guard: RwLockReadGuard<'static, ()>) -> Dual {
        recorder();
        let server = shared();
        Dual {
            oracle: server.oracle(),
            connstr: server.connstr(),
            opened: Vec::new(),
            _registry: guard,
        }
    }

    fn oracle_call<T>(&mut self, sql: &str, f: impl FnOnce(Rows) -> T) -> Out<T> {
        let value = self.oracle.query(sql).map(f).map_err(|r| Rep::from(&r));
        let notices = self.oracle.take_notices().iter().map(Rep::from).collect();
        Out { value, notices }
    }

    fn pg_call<T>(name: Option<&str>, r: pgdblink::Result<T>) -> Out<T> {
        Out {
            value: r.map_err(|e| Rep::from(&e)),
            notices: take_pg_notices(name),
        }
    }

    fn same<T: PartialEq + Debug>(step: &str, oracle: Out<T>, pg: Out<T>) -> Out<T> {
        assert_eq!(
            pg, oracle,
            "step `{step}`: pgdblink (left) differs from the real dblink (right)"
        );
        oracle
    }

    /// `dblink_connect([name,] connstr)`.
    fn connect_to(&mut self, name: Option<&str>, connstr: &str) -> Out<String> {
        let step = format!("dblink_connect({name:?}, {connstr:?})");
        let args = match name {
            Some(n) => format!("{}, {}", lit(n), lit(connstr)),
            None => lit(connstr),
        };
        let o = self.oracle_call(&format!("select dblink_connect({args})"), one_value);
        let p = Dual::pg_call(name, pgdblink::connect(name, connstr).map(|()| "OK".into()));
        if p.value.is_ok() {
            self.opened.push(name.map(str::to_owned));
        }
        Dual::same(&step, o, p)
    }

    /// `dblink_connect([name,] <the test server>)`, which must succeed.
    fn connect(&mut self, name: Option<&str>) {
        let connstr = self.connstr.clone();
        let out = self.connect_to(name, &connstr);
        assert_eq!(out.ok("connect"), "OK");
    }

    /// `dblink_disconnect([name])`.
    fn disconnect(&mut self, name: Option<&str>) -> Out<String> {
        let o = self.oracle_call(
            &format!("select dblink_disconnect({})", name_arg(name)),
            one_value,
        );
        let p = Dual::pg_call(name, pgdblink::disconnect(name).map(|()| "OK".into()));
        if p.value.is_ok() {
            self.opened
                .retain(|n| n.as_deref().map(name_key) != name.map(name_key));
        }
        Dual::same(&format!("dblink_disconnect({name:?})"), o, p)
    }

    /// `dblink_send_query(name, sql)`: 1 or 0.
    fn send(&mut self, name: &str, sql: &str) -> Out<i32> {
        let o = self.oracle_call(
            &format!("select dblink_send_query({}, {})", lit(name), lit(sql)),
            one_int,
        );
        let p = Dual::pg_call(
            Some(name),
            pgdblink::send_query(Some(name), sql).map(i32::from),
        );
        Dual::same(&format!("dblink_send_query({name:?}, {sql:?})"), o, p)
    }

    /// `dblink_is_busy(name)`: 1 or 0.
    fn is_busy(&mut self, name: &str) -> Out<i32> {
        let o = self.oracle_call(&format!("select dblink_is_busy({})", lit(name)), one_int);
        let p = Dual::pg_call(Some(name), pgdblink::is_busy(Some(name)).map(i32::from));
        Dual::same(&format!("dblink_is_busy({name:?})"), o, p)
    }

    /// `select * from dblink_get_result(name, fail) as t(<coldef>)`; the
    /// pgdblink side also returns the result's [`Status`].
    fn get_status(&mut self, name: &str, fail: bool, coldef: &str) -> (Out<Rows>, Option<Status>) {
        let o = self.oracle_call(
            &format!(
                "select * from dblink_get_result({}, {fail}) as t({coldef})",
                lit(name)
            ),
            |rows| rows,
        );
        let r = pgdblink::get_result(Some(name), fail);
        let status = r.as_ref().ok().map(|r| r.status());
        let p = Dual::pg_call(Some(name), r.map(|r| r.rows()));
        let step = format!("dblink_get_result({name:?}, {fail}) as t({coldef})");
        (Dual::same(&step, o, p), status)
    }

    fn get(&mut self, name: &str, fail: bool, coldef: &str) -> Out<Rows> {
        self.get_status(name, fail, coldef).0
    }

    /// `dblink_cancel_query(name)`.
    fn cancel(&mut self, name: &str) -> Out<String> {
        let o = self.oracle_call(
            &format!("select dblink_cancel_query({})", lit(name)),
            one_value,
        );
        let p = Dual::pg_call(Some(name), pgdblink::cancel_query(Some(name)));
        Dual::same(&format!("dblink_cancel_query({name:?})"), o, p)
    }

    /// `dblink_error_message(name)`.
    fn error_message(&mut self, name: &str) -> Out<String> {
        let o = self.oracle_call(
            &format!("select dblink_error_message({})", lit(name)),
            one_value,
        );
        let p = Dual::pg_call(Some(name), pgdblink::error_message(Some(name)));
        Dual::same(&format!("dblink_error_message({name:?})"), o, p)
    }

    /// `dblink_get_notify([name])`, each world listening on its own channel
    /// (`chan_o` / `chan_p`, reported here as "<chan>") so that the two
    /// worlds do not see each other's notifications. pids are returned per
    /// world: (oracle, pgdblink), the compared rows carry 0 instead.
    fn get_notify(
        &mut self,
        name: Option<&str>,
        chan_o: &str,
        chan_p: &str,
    ) -> (Out<Vec<Note>>, Vec<i32>, Vec<i32>) {
        let o = self.oracle_call(
            &format!(
                "select notify_name, be_pid, extra from dblink_get_notify({})",
                name_arg(name)
            ),
            |rows| {
                rows.iter()
                    .map(|r| {
                        (
                            text(&r[0]),
                            text(&r[1]).parse::<i32>().expect("be_pid is an int4"),
                            text(&r[2]),
                        )
                    })
                    .collect::<Vec<Note>>()
            },
        );
        let p = Dual::pg_call(
            name,
            pgdblink::get_notify(name).map(|notes| {
                notes
                    .into_iter()
                    .map(|n| (n.notify_name, n.be_pid, n.extra))
                    .collect::<Vec<Note>>()
            }),
        );
        let pids = |out: &Out<Vec<Note>>| -> Vec<i32> {
            out.value
                .as_ref()
                .map(|v| v.iter().map(|n| n.1).collect())
                .unwrap_or_default()
        };
        let (pids_o, pids_p) = (pids(&o), pids(&p));
        let norm = |out: Out<Vec<Note>>, chan: &str| Out {
            value: out.value.map(|v| {
                v.into_iter()
                    .map(|(c, _, x)| (if c == chan { "<chan>".into() } else { c }, 0, x))
                    .collect()
            }),
            notices: out.notices,
        };
        let step = format!("dblink_get_notify({name:?})");
        let out = Dual::same(&step, norm(o, chan_o), norm(p, chan_p));
        (out, pids_o, pids_p)
    }

    /// The oracle's `dblink_get_connections()`, sorted (`None`: NULL).
    fn oracle_connections(&mut self) -> Option<Vec<String>> {
        let null = self
            .oracle
            .value("select dblink_get_connections() is null")
            .expect("dblink_get_connections");
        if null.as_deref() == Some("t") {
            return None;
        }
        let mut names: Vec<String> = self
            .oracle
            .query("select unnest(dblink_get_connections())")
            .expect("unnest(dblink_get_connections())")
            .iter()
            .map(|r| text(&r[0]))
            .collect();
        names.sort();
        Some(names)
    }

    /// Runs `sql` synchronously (`dblink(name, sql)`, one int column) in both
    /// worlds; returns (oracle, pgdblink) values (e.g. backend pids).
    fn sync_int(&mut self, name: Option<&str>, sql: &str) -> (i32, i32) {
        let args = match name {
            Some(n) => format!("{}, {}", lit(n), lit(sql)),
            None => lit(sql),
        };
        let o = self
            .oracle
            .value(&format!("select * from dblink({args}) as t(x int)"))
            .unwrap_or_else(|e| panic!("oracle dblink({sql}): {e}"));
        let p = pgdblink::dblink(name, sql, true)
            .unwrap_or_else(|e| panic!("pgdblink dblink({sql}): {e:?}"));
        let parse = |v: Option<String>| v.and_then(|s| s.parse().ok()).expect("an int");
        (parse(o), parse(p.get(0, 0).map(str::to_owned)))
    }
}

impl Dual {
    /// The backend pids of connection `name`: (oracle, pgdblink).
    fn backend_pids(&mut self, name: &str) -> (i32, i32) {
        self.sync_int(Some(name), "select pg_backend_pid()")
    }

    /// Waits until both backends are running `query` (pg_stat_activity
    /// state 'active'): a cancel that arrives before the backend started
    /// the query is lost, so tests that cancel wait for this first.
    fn wait_active(&mut self, pids: (i32, i32), query: &str) {
        let sql = format!(
            "select count(*) from pg_stat_activity where pid in ({}, {}) \
             and state = 'active' and query = {}",
            pids.0,
            pids.1,
            lit(query)
        );
        for _ in 0..2000 {
            if self
                .oracle
                .value(&sql)
                .expect("pg_stat_activity")
                .as_deref()
                == Some("2")
            {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        panic!("the backends {pids:?} never started {query:?}");
    }

    /// Calls is_busy in each world until it is 0: the ReadyForQuery that
    /// follows an ErrorResponse is sent separately by the server, so whether
    /// one is_busy call already sees it is timing (in both worlds).
    fn wait_not_busy(&mut self, name: &str) {
        for world in ["oracle", "pgdblink"] {
            let mut idle = false;
            for _ in 0..2000 {
                idle = if world == "oracle" {
                    self.oracle
                        .value(&format!("select dblink_is_busy({})", lit(name)))
                        .expect("dblink_is_busy")
                        .as_deref()
                        == Some("0")
                } else {
                    !pgdblink::is_busy(Some(name)).expect("is_busy")
                };
                if idle {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            assert!(idle, "{world}: {name} stays busy");
        }
    }
}

impl Drop for Dual {
    fn drop(&mut self) {
        for name in std::mem::take(&mut self.opened) {
            drop(pgdblink::disconnect(name.as_deref()));
        }
    }
}

fn one_value(rows: Rows) -> String {
    assert_eq!(rows.len(), 1, "one row expected: {rows:?}");
    text(&rows[0][0])
}

fn one_int(rows: Rows) -> i32 {
    one_value(rows).parse().expect("an integer")
}

fn row(values: &[&str]) -> Vec<Option<String>> {
    values.iter().map(|v| Some((*v).to_owned())).collect()
}

fn rows(values: &[&[&str]]) -> Rows {
    values.iter().map(|r| row(r)).collect()
}

fn dblink_context(name: &str) -> String {
    format!("while executing query on dblink connection named \"{name}\"")
}

// ---------------------------------------------------------------------------
// Connections
// ---------------------------------------------------------------------------

#[test]
fn connect_same_name_twice() {
    let mut d = Dual::new();
    let a = unique_name("ad_dup");
    d.connect(Some(&a));
    let e = d
        .connect_to(Some(&a), &d.connstr.clone())
        .err("second connect");
    assert_eq!(e.sqlstate, "42710");
    assert_eq!(e.message, "duplicate connection name");
    // The first connection still works.
    assert_eq!(d.is_busy(&a).ok("is_busy"), 0);
    d.disconnect(Some(&a)).ok("disconnect");
}

#[test]
fn connect_dead_port() {
    let mut d = Dual::new();
    let n = unique_name("ad_dead");
    let dead = shared().dead_port_connstr();
    // libpq 15 (oracle) and 18 (pgdblink) both word a refused TCP connection
    // as `connection to server at "127.0.0.1", port N failed: Connection
    // refused\n\tIs the server running on that host and accepting TCP/IP
    // connections?`, so the DETAIL is compared verbatim.
    let e = d.connect_to(Some(&n), &dead).err("connect to a dead port");
    assert_eq!(e.sqlstate, "08001");
    assert_eq!(e.message, "could not establish connection");
    assert!(e.detail.is_some());
    // Failed connects leave no entry.
    let e = d.is_busy(&n).err("is_busy after a failed connect");
    assert_eq!(e.sqlstate, "08003");
}

#[test]
fn connect_bad_connstr_option() {
    let mut d = Dual::new();
    let n = unique_name("ad_badopt");
    let e = d.connect_to(Some(&n), "foo=bar").err("connect foo=bar");
    assert_eq!(e.sqlstate, "08001");
    assert_eq!(
        e.detail.as_deref(),
        Some("invalid connection option \"foo\"")
    );
    let e = d.connect_to(Some(&n), "nope").err("connect nope");
    assert_eq!(e.sqlstate, "08001");
}

#[test]
fn connect_then_get_connections_then_disconnect_all_gives_null() {
    // Lock order everywhere: the unnamed lock, then the registry lock.
    let unnamed = unnamed_lock();
    // pgdblink's registry is process-wide: this test runs alone.
    let _exclusive = registry_exclusive();
    let server = shared();
    recorder();
    let mut oracle = server.oracle();
    let c = unique_name("ad_conns");
    let connstr = server.connstr();
    let oracle_connections = |oracle: &mut Oracle| -> Option<Vec<String>> {
        let null = oracle
            .value("select dblink_get_connections() is null")
            .expect("dblink_get_connections");
        if null.as_deref() == Some("t") {
            return None;
        }
        let mut names: Vec<String> = oracle
            .query("select unnest(dblink_get_connections())")
            .expect("unnest")
            .iter()
            .map(|r| text(&r[0]))
            .collect();
        names.sort();
        Some(names)
    };

    assert_eq!(oracle_connections(&mut oracle), None);
    assert_eq!(pgdblink::get_connections(), None);

    for name in [c.as_str(), ""] {
        assert_eq!(
            oracle.value(&format!(
                "select dblink_connect({}, {})",
                lit(name),
                lit(&connstr)
            )),
            Ok(Some("OK".into()))
        );
        pgdblink::connect(Some(name), &connstr).expect("pgdblink connect");
    }
    let mut expected = vec![c.clone(), String::new()];
    expected.sort();
    assert_eq!(oracle_connections(&mut oracle), Some(expected.clone()));
    let mut got = pgdblink::get_connections().expect("two connections");
    got.sort();
    assert_eq!(got, expected);

    // The unnamed connection is never listed.
    assert_eq!(
        oracle.value(&format!("select dblink_connect({})", lit(&connstr))),
        Ok(Some("OK".into()))
    );
    pgdblink::connect(None, &connstr).expect("pgdblink connect unnamed");
    assert_eq!(oracle_connections(&mut oracle), Some(expected.clone()));
    let mut got = pgdblink::get_connections().expect("two connections");
    got.sort();
    assert_eq!(got, expected);

    for name in [Some(c.as_str()), Some(""), None] {
        assert_eq!(
            oracle.value(&format!("select dblink_disconnect({})", name_arg(name))),
            Ok(Some("OK".into()))
        );
        pgdblink::disconnect(name).expect("pgdblink disconnect");
    }
    drop(unnamed);
    assert_eq!(oracle_connections(&mut oracle), None);
    assert_eq!(pgdblink::get_connections(), None);
}

#[test]
fn get_connections_lists_names_until_disconnected() {
    let mut d = Dual::new();
    let a = unique_name("ad_list_a");
    let b = unique_name("ad_list_b");
    d.connect(Some(&a));
    d.connect(Some(&b));
    let o = d.oracle_connections().expect("two connections");
    assert_eq!(o, {
        let mut v = vec![a.clone(), b.clone()];
        v.sort();
        v
    });
    let p = pgdblink::get_connections().expect("at least two connections");
    assert!(p.contains(&a) && p.contains(&b), "{p:?}");
    d.disconnect(Some(&a)).ok("disconnect a");
    assert_eq!(d.oracle_connections(), Some(vec![b.clone()]));
    let p = pgdblink::get_connections().unwrap_or_default();
    assert!(!p.contains(&a) && p.contains(&b), "{p:?}");
    d.disconnect(Some(&b)).ok("disconnect b");
    assert_eq!(d.oracle_connections(), None);
    let p = pgdblink::get_connections().unwrap_or_default();
    assert!(!p.contains(&a) && !p.contains(&b), "{p:?}");
}

#[test]
fn unknown_name_every_function() {
    let mut d = Dual::new();
    let nope = unique_name("nope");
    let expected = format!("connection \"{nope}\" not available");
    let steps = [
        d.send(&nope, "select 1").err("send_query"),
        d.is_busy(&nope).err("is_busy"),
        d.get(&nope, true, "x int").err("get_result"),
        d.get(&nope, false, "x int").err("get_result(false)"),
        d.cancel(&nope).err("cancel_query"),
        d.error_message(&nope).err("error_message"),
        d.get_notify(Some(&nope), "c", "c").0.err("get_notify"),
        d.disconnect(Some(&nope)).err("disconnect"),
    ];
    for e in steps {
        assert_eq!(e.sqlstate, "08003");
        assert_eq!(e.message, expected);
    }
}

#[test]
fn disconnect_unnamed_when_none() {
    let _unnamed = unnamed_lock();
    let mut d = Dual::new();
    drop(pgdblink::disconnect(None));
    let e = d.disconnect(None).err("disconnect()");
    assert_eq!(e.sqlstate, "08003");
    assert_eq!(e.message, "connection not available");
}

#[test]
fn get_notify_unnamed_when_none() {
    let _unnamed = unnamed_lock();
    let mut d = Dual::new();
    drop(pgdblink::disconnect(None));
    let (out, _, _) = d.get_notify(None, "c", "c");
    assert_eq!(out.ok("get_notify()"), Vec::<Note>::new());
}

#[test]
fn connect_unnamed_twice_replaces_then_disconnect_twice() {
    let _unnamed = unnamed_lock();
    let mut d = Dual::new();
    drop(pgdblink::disconnect(None));
    d.connect(None);
    let (o1, p1) = d.sync_int(None, "select pg_backend_pid()");
    // The 1-arg form silently replaces the existing unnamed connection.
    d.connect(None);
    let (o2, p2) = d.sync_int(None, "select pg_backend_pid()");
    assert_ne!(o1, o2, "oracle: a new backend");
    assert_ne!(p1, p2, "pgdblink: a new backend");
    assert_eq!(d.disconnect(None).ok("disconnect()"), "OK");
    let e = d.disconnect(None).err("second disconnect()");
    assert_eq!(e.message, "connection not available");
}

#[test]
fn connect_unnamed_failure_keeps_the_old_one() {
    let _unnamed = unnamed_lock();
    let mut d = Dual::new();
    drop(pgdblink::disconnect(None));
    d.connect(None);
    let (o1, p1) = d.sync_int(None, "select pg_backend_pid()");
    let dead = shared().dead_port_connstr();
    let e = d.connect_to(None, &dead).err("connect(dead)");
    assert_eq!(e.sqlstate, "08001");
    let (o2, p2) = d.sync_int(None, "select pg_backend_pid()");
    assert_eq!((o1, p1), (o2, p2), "the old unnamed connection is kept");
    assert_eq!(d.disconnect(None).ok("disconnect()"), "OK");
}

#[test]
fn connect_unnamed_listen_get_notify_unnamed() {
    let _unnamed = unnamed_lock();
    let mut d = Dual::new();
    drop(pgdblink::disconnect(None));
    d.connect(None);
    let chan_o = unique_name("ad_uchan_o");
    let chan_p = unique_name("ad_uchan_p");
    d.oracle
        .query(&format!(
            "select dblink_exec({})",
            lit(&format!("LISTEN {chan_o}; NOTIFY {chan_o}, 'u'"))
        ))
        .expect("oracle LISTEN");
    pgdblink::exec(
        None,
        &format!("LISTEN {chan_p}; NOTIFY {chan_p}, 'u'"),
        true,
    )
    .expect("pgdblink LISTEN");
    let (out, pid_o, pid_p) = d.get_notify(None, &chan_o, &chan_p);
    assert_eq!(
        out.ok("get_notify()"),
        vec![("<chan>".into(), 0, "u".into())]
    );
    let (o, p) = d.sync_int(None, "select pg_backend_pid()");
    assert_eq!((pid_o, pid_p), (vec![o], vec![p]));
    assert_eq!(d.disconnect(None).ok("disconnect()"), "OK");
}

#[test]
fn unnamed_is_an_ordinary_name() {
    let _unnamed = unnamed_lock();
    let mut d = Dual::new();
    drop(pgdblink::disconnect(None));
    d.connect(Some("unnamed"));
    assert_eq!(d.is_busy("unnamed").ok("is_busy"), 0);
    assert!(
        d.oracle_connections()
            .is_some_and(|v| v.contains(&"unnamed".to_owned()))
    );
    assert!(pgdblink::get_connections().is_some_and(|v| v.contains(&"unnamed".to_owned())));
    // It is not the unnamed connection.
    let e = d.disconnect(None).err("disconnect()");
    assert_eq!(e.message, "connection not available");
    assert_eq!(d.disconnect(Some("unnamed")).ok("disconnect"), "OK");
}

#[test]
fn empty_string_name_is_distinct_from_unnamed() {
    let _unnamed = unnamed_lock();
    let _registry = registry_exclusive(); // '' is a fixed name in this process
    let mut d = Dual::with_guard(registry_shared_after_exclusive());
    drop(pgdblink::disconnect(None));
    d.connect(Some(""));
    assert_eq!(d.send("", "select 1").ok("send"), 1);
    assert_eq!(d.get("", true, "x int").ok("get"), rows(&[&["1"]]));
    let e = d.disconnect(None).err("disconnect()");
    assert_eq!(e.message, "connection not available");
    assert_eq!(d.disconnect(Some("")).ok("disconnect('')"), "OK");
}

/// A read guard for a test that already holds the write guard would
/// deadlock; such a test passes this stand-in instead.
fn registry_shared_after_exclusive() -> RwLockReadGuard<'static, ()> {
    static DUMMY: RwLock<()> = RwLock::new(());
    DUMMY.read().unwrap_or_else(PoisonError::into_inner)
}

#[test]
fn connect_name_longer_than_63_bytes_is_truncated() {
    let mut d = Dual::new();
    let mut long = unique_name("ad_trunc");
    while long.len() < 70 {
        long.push('x');
    }
    let short = long[..63].to_owned();
    let out = d.connect_to(Some(&long), &d.connstr.clone());
    assert_eq!(
        out.notices.len(),
        1,
        "NOTICE 42622 identifier will be truncated"
    );
    assert_eq!(out.ok("connect"), "OK");
    // The 63-byte prefix addresses the connection.
    assert_eq!(d.is_busy(&short).ok("is_busy(prefix)"), 0);
    assert_eq!(d.send(&short, "select 1").ok("send(prefix)"), 1);
    assert_eq!(d.get(&long, true, "x int").ok("get(long)"), rows(&[&["1"]]));
    assert_eq!(d.get(&short, true, "x int").ok("get(prefix)"), Rows::new());
    assert!(
        d.oracle_connections()
            .is_some_and(|v| v.contains(&short) && !v.contains(&long))
    );
    let listed = pgdblink::get_connections().unwrap_or_default();
    assert!(
        listed.contains(&short) && !listed.contains(&long),
        "{listed:?}"
    );
    let e = d
        .connect_to(Some(&short), &d.connstr.clone())
        .err("connect(prefix)");
    assert_eq!(e.sqlstate, "42710");
    assert_eq!(d.disconnect(Some(&long)).ok("disconnect(long)"), "OK");
}

#[test]
fn connect_names_are_case_sensitive() {
    let mut d = Dual::new();
    let lower = unique_name("ad_case");
    let upper = lower.to_uppercase();
    d.connect(Some(&lower));
    d.connect(Some(&upper));
    assert_eq!(d.send(&upper, "select 'U'").ok("send U"), 1);
    assert_eq!(d.get(&lower, true, "x text").ok("get lower"), Rows::new());
    assert_eq!(d.get(&upper, true, "x text").ok("get U"), rows(&[&["U"]]));
    d.disconnect(Some(&lower)).ok("disconnect lower");
    d.disconnect(Some(&upper)).ok("disconnect upper");
}

// ---------------------------------------------------------------------------
// send_query / get_result / error_message
// ---------------------------------------------------------------------------

#[test]
fn send_twice_then_get_four_times() {
    let mut d = Dual::new();
    let a = unique_name("ad_send2");
    d.connect(Some(&a));
    assert_eq!(d.is_busy(&a).ok("is_busy idle"), 0);
    assert_eq!(d.error_message(&a).ok("error_message fresh"), "OK");
    let sql = "select 1; select 2; create temp table t(x int)";
    let first = d.send(&a, sql);
    assert!(first.notices.is_empty());
    assert_eq!(first.ok("first send"), 1);
    let second = d.send(&a, "select 3");
    assert_eq!(
        second.notices,
        vec![Rep {
            sqlstate: "00000".into(),
            message: "could not send query: another command is already in progress".into(),
            detail: None,
            hint: None,
            context: None,
        }]
    );
    assert_eq!(second.ok("second send"), 0);
    assert_eq!(
        d.error_message(&a).ok("error_message"),
        "another command is already in progress"
    );
    assert_eq!(d.get(&a, true, "x int").ok("get 1"), rows(&[&["1"]]));
    assert_eq!(d.get(&a, true, "x int").ok("get 2"), rows(&[&["2"]]));
    let (out, status) = d.get_status(&a, true, "s text");
    assert_eq!(out.ok("get 3"), rows(&[&["CREATE TABLE"]]));
    assert_eq!(status, Some(Status::Command));
    let (out, status) = d.get_status(&a, true, "x int");
    assert_eq!(out.ok("get 4"), Rows::new());
    assert_eq!(status, Some(Status::Done));
    assert_eq!(d.get(&a, true, "x int").ok("get 5"), Rows::new());
    // The old error is kept across successful gets ...
    assert_eq!(
        d.error_message(&a).ok("error_message kept"),
        "another command is already in progress"
    );
    // ... and cleared by the next query sent.
    assert_eq!(d.send(&a, "select 4").ok("send 4"), 1);
    assert_eq!(d.error_message(&a).ok("error_message cleared"), "OK");
    assert_eq!(d.get(&a, true, "x int").ok("get 4"), rows(&[&["4"]]));
    assert_eq!(d.get(&a, true, "x int").ok("get end"), Rows::new());
    d.disconnect(Some(&a)).ok("disconnect");
}

#[test]
fn send_division_by_zero_get_without_and_with_fail() {
    let mut d = Dual::new();
    let a = unique_name("ad_div");
    d.connect(Some(&a));
    assert_eq!(d.send(&a, "select 1/0").ok("send"), 1);
    let (out, status) = d.get_status(&a, false, "x int");
    assert_eq!(
        out.notices,
        vec![Rep {
            sqlstate: "22012".into(),
            message: "division by zero".into(),
            detail: None,
            hint: None,
            context: Some(dblink_context(&a)),
        }]
    );
    assert_eq!(out.ok("get(false)"), Rows::new());
    assert_eq!(status, Some(Status::Error));
    assert_eq!(
        d.error_message(&a).ok("error_message"),
        "ERROR:  division by zero"
    );
    assert_eq!(d.get(&a, false, "x int").ok("get end"), Rows::new());
    assert_eq!(
        d.error_message(&a).ok("error_message kept"),
        "ERROR:  division by zero"
    );

    assert_eq!(d.send(&a, "select 1/0").ok("send again"), 1);
    let e = d.get(&a, true, "x int").err("get(true)");
    assert_eq!(e.sqlstate, "22012");
    assert_eq!(e.message, "division by zero");
    assert_eq!(e.context, Some(dblink_context(&a)));
    let (out, status) = d.get_status(&a, true, "x int");
    assert_eq!(out.ok("get after the error"), Rows::new());
    assert_eq!(status, Some(Status::Done));
    d.disconnect(Some(&a)).ok("disconnect");
}

#[test]
fn send_sleep_is_busy_cancel_get() {
    let mut d = Dual::new();
    let a = unique_name("ad_cancel");
    d.connect(Some(&a));
    let pids = d.backend_pids(&a);
    assert_eq!(d.send(&a, "select pg_sleep(5)").ok("send"), 1);
    assert_eq!(d.is_busy(&a).ok("is_busy"), 1);
    d.wait_active(pids, "select pg_sleep(5)");
    assert_eq!(d.cancel(&a).ok("cancel"), "OK");
    let out = d.get(&a, false, "x text");
    assert_eq!(out.notices.len(), 1, "{:?}", out.notices);
    assert_eq!(out.notices[0].sqlstate, "57014");
    assert_eq!(
        out.notices[0].message,
        "canceling statement due to user request"
    );
    assert_eq!(out.ok("get(false)"), Rows::new());
    assert_eq!(
        d.error_message(&a).ok("error_message"),
        "ERROR:  canceling statement due to user request"
    );
    assert_eq!(d.get(&a, false, "x text").ok("get end"), Rows::new());
    d.disconnect(Some(&a)).ok("disconnect");
}

#[test]
fn send_sleep_cancel_get_with_fail() {
    let mut d = Dual::new();
    let a = unique_name("ad_cancel_fail");
    d.connect(Some(&a));
    let pids = d.backend_pids(&a);
    assert_eq!(d.send(&a, "select pg_sleep(5)").ok("send"), 1);
    d.wait_active(pids, "select pg_sleep(5)");
    assert_eq!(d.cancel(&a).ok("cancel"), "OK");
    let e = d.get(&a, true, "x text").err("get(true)");
    assert_eq!(e.sqlstate, "57014");
    assert_eq!(e.context, Some(dblink_context(&a)));
    assert_eq!(d.get(&a, true, "x text").ok("get end"), Rows::new());
    d.disconnect(Some(&a)).ok("disconnect");
}

#[test]
fn cancel_idle_connection() {
    let mut d = Dual::new();
    let a = unique_name("ad_cancel_idle");
    d.connect(Some(&a));
    assert_eq!(d.cancel(&a).ok("cancel idle"), "OK");
    assert_eq!(d.send(&a, "select 'after'").ok("send"), 1);
    assert_eq!(d.get(&a, true, "x text").ok("get"), rows(&[&["after"]]));
    assert_eq!(d.get(&a, true, "x text").ok("get end"), Rows::new());
    d.disconnect(Some(&a)).ok("disconnect");
}

#[test]
fn send_remote_function_raising_detail_hint_context() {
    let mut d = Dual::new();
    let a = unique_name("ad_raise");
    let func = format!("ad_raiser_{}_{}", std::process::id(), unique_name("f"));
    shared()
        .psql(
            "postgres",
            &format!(
                "create function {func}() returns int language plpgsql as $$ begin \
                 raise exception 'boom' using detail = 'the detail', hint = 'the hint', \
                 errcode = 'P0001'; end $$"
            ),
        )
        .expect("create the raising function");
    d.connect(Some(&a));
    let sql = format!("select {func}()");
    assert_eq!(d.send(&a, &sql).ok("send"), 1);
    let out = d.get(&a, false, "x int");
    let expected = Rep {
        sqlstate: "P0001".into(),
        message: "boom".into(),
        detail: Some("the detail".into()),
        hint: Some("the hint".into()),
        context: Some(format!(
            "PL/pgSQL function {func}() line 1 at RAISE\n{}",
            dblink_context(&a)
        )),
    };
    assert_eq!(out.notices, vec![expected.clone()]);
    assert_eq!(out.ok("get(false)"), Rows::new());
    assert_eq!(
        d.error_message(&a).ok("error_message"),
        format!(
            "ERROR:  boom\nDETAIL:  the detail\nHINT:  the hint\nCONTEXT:  PL/pgSQL function {func}() line 1 at RAISE"
        )
    );
    assert_eq!(d.get(&a, false, "x int").ok("get end"), Rows::new());
    assert_eq!(d.send(&a, &sql).ok("send again"), 1);
    assert_eq!(d.get(&a, true, "x int").err("get(true)"), expected);
    assert_eq!(d.get(&a, true, "x int").ok("get end"), Rows::new());
    d.disconnect(Some(&a)).ok("disconnect");
    shared()
        .psql("postgres", &format!("drop function {func}()"))
        .expect("drop the raising function");
}

#[test]
fn send_do_block_raising_with_hint() {
    let mut d = Dual::new();
    let a = unique_name("ad_do");
    d.connect(Some(&a));
    let sql =
        "do $$ begin raise exception 'custom' using errcode = '22023', hint = 'try again'; end $$";
    assert_eq!(d.send(&a, sql).ok("send"), 1);
    let e = d.get(&a, true, "s text").err("get");
    assert_eq!(e.sqlstate, "22023");
    assert_eq!(e.hint.as_deref(), Some("try again"));
    assert_eq!(
        e.context,
        Some(format!(
            "PL/pgSQL function inline_code_block line 1 at RAISE\n{}",
            dblink_context(&a)
        ))
    );
    assert_eq!(d.get(&a, true, "s text").ok("get end"), Rows::new());
    d.disconnect(Some(&a)).ok("disconnect");
}

#[test]
fn send_unique_violation() {
    let mut d = Dual::new();
    let a = unique_name("ad_unique");
    d.connect(Some(&a));
    let sql = "create temp table u(x int primary key); insert into u values (1); insert into u values (1)";
    assert_eq!(d.send(&a, sql).ok("send"), 1);
    assert_eq!(
        d.get(&a, true, "s text").ok("create"),
        rows(&[&["CREATE TABLE"]])
    );
    assert_eq!(
        d.get(&a, true, "s text").ok("insert"),
        rows(&[&["INSERT 0 1"]])
    );
    let out = d.get(&a, false, "s text");
    assert_eq!(out.notices.len(), 1);
    assert_eq!(out.notices[0].sqlstate, "23505");
    assert_eq!(
        out.notices[0].detail.as_deref(),
        Some("Key (x)=(1) already exists.")
    );
    assert_eq!(out.ok("second insert"), Rows::new());
    assert_eq!(
        d.error_message(&a).ok("error_message"),
        "ERROR:  duplicate key value violates unique constraint \"u_pkey\"\nDETAIL:  Key (x)=(1) already exists."
    );
    assert_eq!(d.get(&a, true, "s text").ok("get end"), Rows::new());
    d.disconnect(Some(&a)).ok("disconnect");
}

#[test]
fn send_syntax_error() {
    let mut d = Dual::new();
    let a = unique_name("ad_syntax");
    d.connect(Some(&a));
    assert_eq!(d.send(&a, "selec 1").ok("send"), 1);
    let e = d.get(&a, true, "x int").err("get");
    assert_eq!(e.sqlstate, "42601");
    assert_eq!(e.message, "syntax error at or near \"selec\"");
    assert_eq!(
        d.error_message(&a).ok("error_message"),
        "ERROR:  syntax error at or near \"selec\"\nLINE 1: selec 1\n        ^"
    );
    assert_eq!(d.get(&a, true, "x int").ok("get end"), Rows::new());
    d.disconnect(Some(&a)).ok("disconnect");
}

#[test]
fn send_empty_query() {
    let mut d = Dual::new();
    let a = unique_name("ad_empty");
    d.connect(Some(&a));
    assert_eq!(d.send(&a, "").ok("send ''"), 1);
    let e = d.get(&a, true, "x int").err("get");
    assert_eq!(
        e,
        Rep {
            sqlstate: "08006".into(),
            message: "could not obtain message string for remote error".into(),
            detail: None,
            hint: None,
            context: Some(dblink_context(&a)),
        }
    );
    assert_eq!(d.error_message(&a).ok("error_message"), "OK");
    assert_eq!(d.get(&a, true, "x int").ok("get end"), Rows::new());
    assert_eq!(d.send(&a, "").ok("send '' again"), 1);
    let out = d.get(&a, false, "x int");
    assert_eq!(out.notices.len(), 1);
    assert_eq!(out.ok("get(false)"), Rows::new());
    assert_eq!(d.get(&a, false, "x int").ok("get end"), Rows::new());
    d.disconnect(Some(&a)).ok("disconnect");
}

#[test]
fn send_after_error_result_before_final_get() {
    let mut d = Dual::new();
    let a = unique_name("ad_send_after_err");
    d.connect(Some(&a));
    assert_eq!(d.send(&a, "select 1/0").ok("send"), 1);
    d.get(&a, false, "x int").ok("get the error");
    let out = d.send(&a, "select 6");
    assert_eq!(
        out.notices
            .iter()
            .map(|n| (n.sqlstate.as_str(), n.message.as_str()))
            .collect::<Vec<_>>(),
        vec![(
            "00000",
            "could not send query: ERROR:  division by zero\nanother command is already in progress"
        )]
    );
    assert_eq!(out.ok("send before the final get"), 0);
    assert_eq!(
        d.error_message(&a).ok("error_message"),
        "ERROR:  division by zero\nanother command is already in progress"
    );
    assert_eq!(d.get(&a, true, "x int").ok("final get"), Rows::new());
    assert_eq!(d.get(&a, true, "x int").ok("get again"), Rows::new());
    d.disconnect(Some(&a)).ok("disconnect");
}

#[test]
fn send_after_rows_result_before_final_get() {
    let mut d = Dual::new();
    let a = unique_name("ad_send_after_rows");
    d.connect(Some(&a));
    assert_eq!(d.send(&a, "select 7").ok("send"), 1);
    assert_eq!(d.get(&a, true, "x int").ok("get 7"), rows(&[&["7"]]));
    let out = d.send(&a, "select 8");
    assert_eq!(out.notices.len(), 1);
    assert_eq!(out.ok("send before the final get"), 0);
    assert_eq!(d.get(&a, true, "x int").ok("final get"), Rows::new());
    d.disconnect(Some(&a)).ok("disconnect");
}

#[test]
fn send_error_get_is_busy_then_send_again() {
    let mut d = Dual::new();
    let a = unique_name("ad_busy_clears");
    d.connect(Some(&a));
    assert_eq!(d.send(&a, "select 1/0").ok("send"), 1);
    d.get(&a, false, "x int").ok("get the error");
    // is_busy consumes the pending ReadyForQuery: the connection is idle.
    d.wait_not_busy(&a);
    assert_eq!(d.is_busy(&a).ok("is_busy"), 0);
    assert_eq!(d.send(&a, "select 5").ok("send 5"), 1);
    assert_eq!(d.error_message(&a).ok("error_message"), "OK");
    assert_eq!(d.get(&a, true, "x int").ok("get 5"), rows(&[&["5"]]));
    assert_eq!(d.get(&a, true, "x int").ok("get end"), Rows::new());
    d.disconnect(Some(&a)).ok("disconnect");
}

#[test]
fn send_rows_get_is_busy_then_send_again() {
    let mut d = Dual::new();
    let a = unique_name("ad_busy_rows");
    d.connect(Some(&a));
    assert_eq!(d.send(&a, "select 7").ok("send"), 1);
    assert_eq!(d.get(&a, true, "x int").ok("get 7"), rows(&[&["7"]]));
    assert_eq!(d.is_busy(&a).ok("is_busy"), 0);
    assert_eq!(d.send(&a, "select 8").ok("send 8"), 1);
    assert_eq!(d.get(&a, true, "x int").ok("get 8"), rows(&[&["8"]]));
    assert_eq!(d.get(&a, true, "x int").ok("get end"), Rows::new());
    d.disconnect(Some(&a)).ok("disconnect");
}

#[test]
fn get_result_with_nothing_sent() {
    let mut d = Dual::new();
    let a = unique_name("ad_nothing");
    d.connect(Some(&a));
    let (out, status) = d.get_status(&a, true, "x int");
    assert_eq!(out.ok("get"), Rows::new());
    assert_eq!(status, Some(Status::Done));
    assert_eq!(d.get(&a, false, "x int").ok("get(false)"), Rows::new());
    assert_eq!(d.error_message(&a).ok("error_message"), "OK");
    d.disconnect(Some(&a)).ok("disconnect");
}

#[test]
fn send_error_in_the_middle_of_three_statements() {
    let mut d = Dual::new();
    let a = unique_name("ad_middle");
    d.connect(Some(&a));
    assert_eq!(d.send(&a, "select 1; select 1/0; select 3").ok("send"), 1);
    assert_eq!(d.get(&a, false, "x int").ok("get 1"), rows(&[&["1"]]));
    let out = d.get(&a, false, "x int");
    assert_eq!(out.notices.len(), 1);
    assert_eq!(out.notices[0].sqlstate, "22012");
    assert_eq!(out.ok("get the error"), Rows::new());
    // 'select 3' never runs.
    assert_eq!(d.get(&a, false, "x int").ok("get end"), Rows::new());
    assert_eq!(d.get(&a, false, "x int").ok("get end again"), Rows::new());
    d.disconnect(Some(&a)).ok("disconnect");
}

#[test]
fn send_nulls_and_unicode() {
    let mut d = Dual::new();
    let a = unique_name("ad_unicode");
    d.connect(Some(&a));
    let sql =
        "select null::text, 'héllo ✓ 日本 🐘', ''::text union all select 'x', null, 'tab\there'";
    assert_eq!(d.send(&a, sql).ok("send"), 1);
    let got = d.get(&a, true, "a text, b text, c text").ok("get");
    assert_eq!(
        got,
        vec![
            vec![
                None,
                Some("héllo ✓ 日本 🐘".to_owned()),
                Some(String::new())
            ],
            vec![Some("x".to_owned()), None, Some("tab\there".to_owned())],
        ]
    );
    assert_eq!(
        d.get(&a, true, "a text, b text, c text").ok("end"),
        Rows::new()
    );
    d.disconnect(Some(&a)).ok("disconnect");
}

#[test]
fn send_zero_row_select() {
    let mut d = Dual::new();
    let a = unique_name("ad_zero");
    d.connect(Some(&a));
    assert_eq!(d.send(&a, "select 1 where false").ok("send"), 1);
    let (out, status) = d.get_status(&a, true, "x int");
    assert_eq!(out.ok("get"), Rows::new());
    assert_eq!(status, Some(Status::Tuples), "zero rows, not the end");
    let (out, status) = d.get_status(&a, true, "x int");
    assert_eq!(out.ok("get end"), Rows::new());
    assert_eq!(status, Some(Status::Done));
    d.disconnect(Some(&a)).ok("disconnect");
}

#[test]
fn send_generate_series_many_rows() {
    let mut d = Dual::new();
    let a = unique_name("ad_series");
    d.connect(Some(&a));
    let sql = "select g, g::text || 'x' from generate_series(1, 500) g";
    assert_eq!(d.send(&a, sql).ok("send"), 1);
    let got = d.get(&a, true, "i int, s text").ok("get");
    assert_eq!(got.len(), 500);
    assert_eq!(got[499], row(&["500", "500x"]));
    assert_eq!(d.get(&a, true, "i int, s text").ok("end"), Rows::new());
    d.disconnect(Some(&a)).ok("disconnect");
}

#[test]
fn send_slow_query_is_busy_until_done() {
    let mut d = Dual::new();
    let a = unique_name("ad_busy");
    d.connect(Some(&a));
    assert_eq!(d.send(&a, "select pg_sleep(0.5)::text").ok("send"), 1);
    // Both worlds report busy right after the send; then get_result waits.
    assert_eq!(d.is_busy(&a).ok("is_busy"), 1);
    assert_eq!(d.get(&a, true, "x text").ok("get"), rows(&[&[""]]));
    assert_eq!(d.is_busy(&a).ok("is_busy after"), 0);
    assert_eq!(d.get(&a, true, "x text").ok("get end"), Rows::new());
    d.disconnect(Some(&a)).ok("disconnect");
}

// ---------------------------------------------------------------------------
// Notifications
// ---------------------------------------------------------------------------

#[test]
fn listen_notify_from_another_connection_then_get_notify() {
    let mut d = Dual::new();
    let a = unique_name("ad_listen");
    let b = unique_name("ad_notifier");
    let chan_o = unique_name("ad_chan_o");
    let chan_p = unique_name("ad_chan_p");
    d.connect(Some(&a));
    d.connect(Some(&b));

    let (out, _, _) = d.get_notify(Some(&a), &chan_o, &chan_p);
    assert_eq!(
        out.ok("get_notify with nothing pending"),
        Vec::<Note>::new()
    );

    // LISTEN through the async family (each world its own channel).
    let o = d.oracle.value(&format!(
        "select dblink_send_query({}, {})",
        lit(&a),
        lit(&format!("LISTEN {chan_o}"))
    ));
    assert_eq!(o, Ok(Some("1".into())));
    assert_eq!(
        pgdblink::send_query(Some(&a), &format!("LISTEN {chan_p}")),
        Ok(true)
    );
    assert_eq!(d.get(&a, true, "s text").ok("LISTEN"), rows(&[&["LISTEN"]]));
    assert_eq!(d.get(&a, true, "s text").ok("LISTEN end"), Rows::new());
    let (pid_o, pid_p) = d.sync_int(Some(&b), "select pg_backend_pid()");
    d.oracle
        .query(&format!(
            "select * from dblink({}, {}) as t(x text)",
            lit(&b),
            lit(&format!("select pg_notify('{chan_o}', 'payload1')"))
        ))
        .expect("oracle NOTIFY");
    pgdblink::dblink(
        Some(&b),
        &format!("select pg_notify('{chan_p}', 'payload1')"),
        true,
    )
    .expect("pgdblink NOTIFY");

    // The notification is delivered asynchronously by the listening backend:
    // poll (in both worlds) until it has arrived.
    let mut got_o = Vec::new();
    let mut got_p = Vec::new();
    for _ in 0..500 {
        if got_o.is_empty() {
            let rows = d
                .oracle
                .query(&format!(
                    "select notify_name, be_pid, extra from dblink_get_notify({})",
                    lit(&a)
                ))
                .expect("oracle get_notify");
            got_o.extend(rows);
        }
        if got_p.is_empty() {
            got_p.extend(pgdblink::get_notify(Some(&a)).expect("pgdblink get_notify"));
        }
        if !got_o.is_empty() && !got_p.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(
        got_o,
        vec![vec![
            Some(chan_o.clone()),
            Some(pid_o.to_string()),
            Some("payload1".into())
        ]]
    );
    assert_eq!(got_p.len(), 1, "{got_p:?}");
    assert_eq!(got_p[0].notify_name, chan_p);
    assert_eq!(got_p[0].be_pid, pid_p);
    assert!(got_p[0].be_pid > 0);
    assert_eq!(got_p[0].extra, "payload1");

    // Consumed.
    let (out, _, _) = d.get_notify(Some(&a), &chan_o, &chan_p);
    assert_eq!(out.ok("get_notify again"), Vec::<Note>::new());
    d.disconnect(Some(&a)).ok("disconnect a");
    d.disconnect(Some(&b)).ok("disconnect b");
}

#[test]
fn listen_notify_self_then_get_notify() {
    let mut d = Dual::new();
    let a = unique_name("ad_self");
    let chan_o = unique_name("ad_schan_o");
    let chan_p = unique_name("ad_schan_p");
    d.connect(Some(&a));
    let sql = |chan: &str| {
        format!(
            "LISTEN {chan}; NOTIFY {chan}, 'payload1'; select pg_notify('{chan}', ''); NOTIFY {chan}"
        )
    };
    assert_eq!(
        d.oracle.value(&format!(
            "select dblink_send_query({}, {})",
            lit(&a),
            lit(&sql(&chan_o))
        )),
        Ok(Some("1".into()))
    );
    assert_eq!(pgdblink::send_query(Some(&a), &sql(&chan_p)), Ok(true));
    assert_eq!(d.get(&a, true, "s text").ok("LISTEN"), rows(&[&["LISTEN"]]));
    assert_eq!(d.get(&a, true, "s text").ok("NOTIFY"), rows(&[&["NOTIFY"]]));
    assert_eq!(d.get(&a, true, "s text").ok("pg_notify"), rows(&[&[""]]));
    assert_eq!(d.get(&a, true, "s text").ok("NOTIFY"), rows(&[&["NOTIFY"]]));
    assert_eq!(d.get(&a, true, "s text").ok("end"), Rows::new());
    let (out, pids_o, pids_p) = d.get_notify(Some(&a), &chan_o, &chan_p);
    // A multi-statement query runs as one transaction: the duplicate
    // (channel, '') notification is folded into one.
    assert_eq!(
        out.ok("get_notify"),
        vec![
            ("<chan>".into(), 0, "payload1".into()),
            ("<chan>".into(), 0, String::new()),
        ]
    );
    let (pid_o, pid_p) = d.sync_int(Some(&a), "select pg_backend_pid()");
    assert_eq!(pids_o, vec![pid_o; 2]);
    assert_eq!(pids_p, vec![pid_p; 2]);
    assert!(pid_p > 0);
    let (out, _, _) = d.get_notify(Some(&a), &chan_o, &chan_p);
    assert_eq!(out.ok("get_notify consumed"), Vec::<Note>::new());
    d.disconnect(Some(&a)).ok("disconnect");
}

// ---------------------------------------------------------------------------
// Broken connection
// ---------------------------------------------------------------------------

#[test]
fn terminated_backend_then_send_get_error_message() {
    let mut d = Dual::new();
    let a = unique_name("ad_term");
    d.connect(Some(&a));
    let (pid_o, pid_p) = d.sync_int(Some(&a), "select pg_backend_pid()");
    for pid in [pid_o, pid_p] {
        // Waits (up to 5 s) until the backend is gone.
        assert_eq!(
            d.oracle
                .value(&format!("select pg_terminate_backend({pid}, 5000)")),
            Ok(Some("t".into()))
        );
    }
    assert_eq!(d.is_busy(&a).ok("is_busy"), 0);
    assert_eq!(d.error_message(&a).ok("error_message"), "OK");
    // The send itself succeeds (the write to the closed socket is buffered);
    // the failure shows up in get_result. libpq 15 (oracle) and 18 (pgdblink)
    // word these messages identically, so they are compared verbatim.
    let lost = "server closed the connection unexpectedly\n\tThis probably means the server \
                terminated abnormally\n\tbefore or while processing the request.\ninvalid socket";
    assert_eq!(d.send(&a, "select 1").ok("send"), 1);
    let out = d.get(&a, false, "x int");
    assert_eq!(
        out.notices,
        vec![Rep {
            sqlstate: "08006".into(),
            message: lost.into(),
            detail: None,
            hint: None,
            context: Some(dblink_context(&a)),
        }]
    );
    assert_eq!(out.ok("get(false)"), Rows::new());
    assert_eq!(d.error_message(&a).ok("error_message after"), lost);
    let out = d.get(&a, false, "x int");
    assert!(out.notices.is_empty());
    assert_eq!(out.ok("get again"), Rows::new());
    let out = d.send(&a, "select 1");
    assert_eq!(
        out.notices
            .iter()
            .map(|n| (n.sqlstate.as_str(), n.message.as_str()))
            .collect::<Vec<_>>(),
        vec![("00000", "could not send query: no connection to the server")]
    );
    assert_eq!(out.ok("send again"), 0);
    assert_eq!(
        d.error_message(&a).ok("error_message at last"),
        "no connection to the server"
    );
    let e = d.get(&a, true, "x int");
    assert_eq!(e.ok("get(true) on the broken connection"), Rows::new());
    // The entry stays until disconnected.
    assert!(d.oracle_connections().is_some_and(|v| v.contains(&a)));
    assert_eq!(d.disconnect(Some(&a)).ok("disconnect"), "OK");
}

#[test]
fn terminated_backend_then_send_get_then_cancel() {
    let mut d = Dual::new();
    let a = unique_name("ad_term_cancel");
    d.connect(Some(&a));
    let (pid_o, pid_p) = d.sync_int(Some(&a), "select pg_backend_pid()");
    for pid in [pid_o, pid_p] {
        assert_eq!(
            d.oracle
                .value(&format!("select pg_terminate_backend({pid}, 5000)")),
            Ok(Some("t".into()))
        );
    }
    assert_eq!(d.send(&a, "select 1").ok("send"), 1);
    d.get(&a, false, "x int").ok("get(false)");
    assert_eq!(d.cancel(&a).ok("cancel after the failed get"), "OK");
    d.get(&a, false, "x int").ok("get again");
    // libpq has closed the socket once the final (NULL) result was read.
    // Here the dblink versions differ, and pgdblink follows dblink 17's
    // cancel (libpq's PQcancelCreate, as the product requires): dblink 15's
    // PQgetCancel() finds no socket and PQcancel complains about the missing
    // cancel object; dblink 17's PQcancelCreate reports "connection not
    // open". Both worlds must say that the cancel was not sent; with a
    // dblink 17 or later as the oracle, they say it in the same words.
    let oracle_version: i32 = d
        .oracle
        .value("show server_version_num")
        .ok()
        .flatten()
        .and_then(|v| v.parse().ok())
        .expect("the oracle's server_version_num");
    let oracle_text = if oracle_version >= 170000 {
        "connection not open"
    } else {
        "PQcancel() -- no cancel object supplied"
    };
    for step in [
        "cancel after the final get",
        "cancel on a closed connection",
    ] {
        let o = d.oracle_call(
            &format!("select dblink_cancel_query({})", lit(&a)),
            one_value,
        );
        assert_eq!(o.ok(step), oracle_text, "oracle (dblink {oracle_version})");
        let p = pgdblink::cancel_query(Some(&a)).expect(step);
        assert_eq!(p, "connection not open", "pgdblink (dblink 17's text)");
        if step.starts_with("cancel after") {
            assert_eq!(
                d.send(&a, "select 1").ok("send on the closed connection"),
                0
            );
        }
    }
    assert_eq!(d.disconnect(Some(&a)).ok("disconnect"), "OK");
}

#[test]
fn terminated_backend_during_query() {
    let mut d = Dual::new();
    let a = unique_name("ad_term_busy");
    d.connect(Some(&a));
    let (pid_o, pid_p) = d.sync_int(Some(&a), "select pg_backend_pid()");
    assert_eq!(d.send(&a, "select pg_sleep(30)").ok("send"), 1);
    d.wait_active((pid_o, pid_p), "select pg_sleep(30)");
    for pid in [pid_o, pid_p] {
        assert_eq!(
            d.oracle
                .value(&format!("select pg_terminate_backend({pid}, 5000)")),
            Ok(Some("t".into()))
        );
    }
    let out = d.get(&a, false, "x text");
    assert_eq!(out.notices.len(), 1, "{:?}", out.notices);
    assert_eq!(out.notices[0].sqlstate, "57P01");
    assert_eq!(out.ok("get(false)"), Rows::new());
    assert_eq!(
        d.error_message(&a).ok("error_message"),
        "FATAL:  terminating connection due to administrator command"
    );
    assert_eq!(d.disconnect(Some(&a)).ok("disconnect"), "OK");
}
