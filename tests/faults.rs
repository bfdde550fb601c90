//! Faults: what pgdblink does when the server or the network fails under it,
//! compared with the real dblink where dblink can take part.
//!
//! * a backend terminated mid-query (`pg_terminate_backend`),
//! * the server stopped with `pg_ctl stop -m immediate` and started again
//!   while connections are idle, and while a `get_result` is blocked in
//!   another thread (on a private cluster of the test's own: the binary's
//!   shared server is never restarted),
//! * a streamed (chunked) result cancelled while it is being read,
//! * a peer that accepts TCP connections but never answers, for connect
//!   and for cancel.
//!
//! Every scenario asserts a clear outcome on the next call (dblink's texts
//! and SQLSTATEs where the oracle can run the same sequence), that no call
//! hangs (each risky call runs in a thread and the test fails if it has not
//! returned within its own timeout + 30 s), that the name can be
//! disconnected and connected again, and that no file descriptor leaks:
//! `/proc/self/fd` is counted before and after (once everything is
//! disconnected). The counts are only meaningful if nothing else in the
//! process opens or closes descriptors meanwhile, so every test takes one
//! process-wide lock ([`serial`]) and the tests of this binary run one at a
//! time.
//!
//! For the restart scenarios the oracle runs in the shared server and its
//! dblink connects to the private cluster, so that the oracle session
//! itself survives the restart.
//!
//! The steps that dblink can take part in are written in dblink's SQL call
//! syntax and run in both worlds ([`Pair`]: the real dblink in an oracle
//! session, pgdblink through the same calls), their outcomes compared
//! rendered (values, ERRORs, NOTICEs); a step that must not hang runs
//! pgdblink's call in a bounded thread ([`Pair::step_via`]).
//!
//! Known, legitimate differences, asserted with each world's own outcome:
//!
//! * `dblink_cancel_query` on a connection whose socket libpq has closed
//!   returns `PQcancel() -- no cancel object supplied` in dblink 15 (libpq
//!   15's `PQgetCancel`); pgdblink returns `connection not open`, libpq 17's
//!   `PQcancelCreate` text, which dblink 17+ returns too.
//! * libpq's `connect_timeout`: dblink 16+ connects with the server's
//!   `libpqsrv_connect`, whose wait has no timeout, so its dblink_connect to
//!   a peer that never answers waits until canceled; pgdblink (and dblink
//!   15) give up after connect_timeout.

mod support;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::net::{TcpListener, TcpStream};
use std::sync::{Mutex, MutexGuard, Once, PoisonError, mpsc};
use std::thread;
use std::time::Duration;

use pgdblink::Status;
use support::notices;
use support::scenario::{Outcome, Pair, PgdblinkCall};
use support::server::PrivateOptions;
use support::{Server, ServerExt, shared, unique_name};

/// How much longer than its own timeout a call may take before the test
/// calls it hung.
const HANG_MARGIN: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------
// One test at a time; file descriptors
// ---------------------------------------------------------------------------

/// The lock every test of this binary holds for its whole run, so that the
/// descriptor counts of one scenario are not disturbed by another.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The open descriptors of this process and what they point to.
struct Fds(BTreeMap<String, String>);

impl Fds {
    fn now() -> Fds {
        let dir = std::fs::read_dir("/proc/self/fd").expect("list /proc/self/fd");
        Fds(dir
            .filter_map(Result::ok)
            // The directory being listed is itself an open descriptor.
            .filter(|e| std::fs::read_link(e.path()).is_ok_and(|t| !t.starts_with("/proc")))
            .map(|e| {
                let target = std::fs::read_link(e.path())
                    .map(|t| t.display().to_string())
                    .unwrap_or_else(|err| format!("({err})"));
                (e.file_name().to_string_lossy().into_owned(), target)
            })
            .collect())
    }

    /// Fails when more descriptors are open than at `self` (listing the new ones).
    fn assert_none_leaked(&self, scenario: &str) {
        let after = Fds::now();
        let new: Vec<String> = after
            .0
            .iter()
            .filter(|(fd, target)| self.0.get(*fd) != Some(*target))
            .map(|(fd, target)| format!("{fd} -> {target}"))
            .collect();
        assert!(
            after.0.len() <= self.0.len(),
            "{scenario}: {} descriptors open before, {} after; new or reused: {new:?}",
            self.0.len(),
            after.0.len()
        );
    }
}

/// Opens and closes a connection over TCP and over the unix socket, with a
/// cancel, so that whatever libpq or the TLS library sets up once per
/// process is not counted as a leak of the first scenario.
fn warm_up(server: &Server) {
    static WARM: Once = Once::new();
    WARM.call_once(|| {
        for connstr in [server.tcp_connstr(), server.connstr()] {
            let name = unique_name("warm");
            pgdblink::connect(Some(&name), &connstr).expect("warm-up connect");
            assert_eq!(pgdblink::cancel_query(Some(&name)), Ok("OK".to_owned()));
            pgdblink::disconnect(Some(&name)).expect("warm-up disconnect");
        }
    });
}

/// Runs `f` in a thread and returns its value; fails the test if it has not
/// returned after `limit` (it hangs) or panicked.
fn bounded<T: Send + 'static>(
    what: &str,
    limit: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    let handle = thread::Builder::new()
        .name(what.chars().take(15).collect())
        .spawn(move || {
            let v = f();
            // The receiver is gone only when the test already failed.
            let _ = tx.send((v, notices::take()));
        })
        .expect("spawn a thread for a bounded call");
    match rx.recv_timeout(limit) {
        Ok((v, raised)) => {
            handle.join().expect("the bounded call's thread ended");
            hand_back(raised);
            v
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("{what} has not returned after {limit:?}: it hangs")
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("{what} panicked"),
    }
}

// ---------------------------------------------------------------------------
// Notices; steps in both worlds
// ---------------------------------------------------------------------------

thread_local! {
    /// The NOTICEs pgdblink raised for this test (its thread's, and those
    /// its other threads handed back) that no [`take_notices`] took yet.
    static RAISED: RefCell<Vec<(Option<String>, pgdblink::Error)>> =
        const { RefCell::new(Vec::new()) };
}

/// Keeps the NOTICEs another thread of this test recorded (pgdblink
/// records a notice on the thread that made the call).
fn hand_back(raised: Vec<(Option<String>, pgdblink::Error)>) {
    RAISED.with(|r| r.borrow_mut().extend(raised));
}

/// Takes this test's NOTICEs for connection `name` (this thread's and
/// those handed back), leaving the other names'.
fn take_notices(name: &str) -> Vec<pgdblink::Error> {
    RAISED.with(|r| {
        let mut all = r.borrow_mut();
        all.extend(notices::take());
        let (mine, rest): (Vec<_>, Vec<_>) =
            all.drain(..).partition(|(n, _)| n.as_deref() == Some(name));
        *all = rest;
        mine.into_iter().map(|(_, e)| e).collect()
    })
}

/// Fails if pgdblink's calls on `name` outside the compared steps (resets,
/// probes) raised NOTICEs: they would have shown in the next step had the
/// test not made them, and the real dblink raises none.
#[track_caller]
fn assert_no_notices(name: &str) {
    let raised = take_notices(name);
    assert!(raised.is_empty(), "NOTICEs on {name}: {raised:?}");
}

/// `statement` in both worlds, pgdblink's call in a thread that must
/// return within `limit`: the outcomes must be equal.
#[track_caller]
fn bounded_step(pair: &mut Pair, what: &str, limit: Duration, statement: &str) -> Outcome {
    pair.step_via(statement, |call: PgdblinkCall| bounded(what, limit, call))
}

/// A get_result step (`statement`), which must not hang.
#[track_caller]
fn bounded_get(pair: &mut Pair, statement: &str) -> Outcome {
    bounded_step(pair, "get_result", HANG_MARGIN, statement)
}

/// The steps on connection `:n`.
const IS_BUSY: &str = "SELECT dblink_is_busy(:'n')";
const ERROR_MESSAGE: &str = "SELECT dblink_error_message(:'n')";
const SELECT_1: &str = "SELECT * FROM dblink(:'n', 'select 1') AS t(x int)";
const SEND_SELECT_1: &str = "SELECT dblink_send_query(:'n', 'select 1')";
const SEND_SLEEP: &str = "SELECT dblink_send_query(:'n', 'select pg_sleep(60)')";
const GET_RESULT: &str = "SELECT * FROM dblink_get_result(:'n', false) AS t(x text)";
const GET_RESULT_FAIL: &str = "SELECT * FROM dblink_get_result(:'n', true) AS t(x text)";
const CONNECT: &str = "SELECT dblink_connect(:'n', :'cs')";
const DISCONNECT: &str = "SELECT dblink_disconnect(:'n')";

// ---------------------------------------------------------------------------
// Helpers on the servers
// ---------------------------------------------------------------------------

/// Polls `sql` (one value) on a fresh session of `server` until it yields
/// `want` (a few seconds at most).
fn wait_until(server: &Server, sql: &str, want: &str) {
    for _ in 0..1000 {
        if server.psql("postgres", sql).as_deref() == Ok(want) {
            return;
        }
        thread::sleep(Duration::from_millis(10));
    }
    panic!("never got {want:?} from {sql}");
}

fn wait_active(server: &Server, pid: i32) {
    wait_until(
        server,
        &format!("select count(*) from pg_stat_activity where pid = {pid} and state = 'active'"),
        "1",
    );
}

/// The backend pid of pgdblink's connection `name`.
fn pg_backend_pid(name: &str) -> i32 {
    pgdblink::dblink(Some(name), "select pg_backend_pid()", true)
        .expect("select pg_backend_pid()")
        .get(0, 0)
        .and_then(|p| p.parse().ok())
        .expect("a pid")
}

/// A private cluster of the test's own, whatever PGDBLINK_TEST_DSN says
/// (it is restarted).
fn private_server() -> Server {
    Server::start_private(&PrivateOptions::default())
        .unwrap_or_else(|e| panic!("cannot start a private cluster: {e}"))
}

/// The connection works: `select 1` returns 1.
#[track_caller]
fn assert_works(name: &str) {
    let r = pgdblink::dblink(Some(name), "select 1", true)
        .unwrap_or_else(|e| panic!("{name} does not work: {e:?}"));
    assert_eq!(r.rows(), vec![vec![Some("1".to_owned())]]);
}

/// Disconnect `:n`, then connect it again (to `:cs`), in both worlds.
fn disconnect_and_reconnect_both(pair: &mut Pair) {
    pair.step(DISCONNECT);
    pair.step(CONNECT);
    pair.step(SELECT_1);
    pair.step(DISCONNECT);
}

/// The cancel texts for `:n`, a connection whose socket libpq has closed
/// (see the module docs): each world's own.
fn cancel_on_a_closed_socket(pair: &mut Pair) {
    let cancel = "SELECT dblink_cancel_query(:'n')";
    let theirs = pair.theirs.run(cancel);
    let mine = pair.mine.run_via(cancel, |call| {
        bounded(
            "cancel_query",
            pgdblink::DEFAULT_CANCEL_TIMEOUT + HANG_MARGIN,
            call,
        )
    });
    assert_eq!(pair.mine.render(&mine), "= 'connection not open'\n");
    let dblinks = if pair.oracle_version() >= 170_000 {
        "connection not open"
    } else {
        "PQcancel() -- no cancel object supplied"
    };
    assert_eq!(pair.theirs.render(&theirs), format!("= '{dblinks}'\n"));
}

// ---------------------------------------------------------------------------
// Backend terminated
// ---------------------------------------------------------------------------

/// send 'select pg_sleep(60)'; pg_terminate_backend; then every call: the
/// FATAL 57P01 first, then 08006 `server closed the connection
/// unexpectedly`, then the final empty set; sends fail with `no connection
/// to the server`; then disconnect + connect under the same name works.
#[test]
fn terminate_backend_mid_query_then_get_result_send_cancel_and_reconnect() {
    let _serial = serial();
    let server = shared();
    let mut pair = Pair::on(server);
    warm_up(server);
    let fds = Fds::now();

    let name = unique_name("terminated");
    let n = Some(name.as_str());
    pair.set("n", &name);
    pair.set("cs", &server.connstr());
    pair.step(CONNECT);
    pair.step(SEND_SLEEP);
    pair.theirs.wait_active(n);
    pair.mine.wait_active(n);
    // pg_terminate_backend waits until each backend is gone: its FATAL
    // message is then on the socket.
    let terminated = (pair.theirs.terminate(n), pair.mine.terminate(n));
    assert_eq!(
        (terminated.0.scalar(), terminated.1.scalar()),
        (Some("true"), Some("true"))
    );

    pair.step(IS_BUSY);
    // NOTICE 57P01 terminating connection due to administrator command.
    bounded_get(&mut pair, GET_RESULT);
    pair.step(ERROR_MESSAGE);
    // NOTICE 08006 FATAL ... server closed the connection unexpectedly ...
    bounded_get(&mut pair, GET_RESULT);
    // The end.
    bounded_get(&mut pair, GET_RESULT_FAIL);
    // A send on the lost connection, and the get_result after it.
    pair.step(SEND_SELECT_1);
    bounded_get(&mut pair, GET_RESULT_FAIL);
    pair.step(SELECT_1);
    cancel_on_a_closed_socket(&mut pair);
    assert!(
        pgdblink::get_connections().is_some_and(|c| c.contains(&name)),
        "a lost connection stays registered until disconnected, as in dblink"
    );
    disconnect_and_reconnect_both(&mut pair);

    fds.assert_none_leaked("terminate mid-query");
}

/// send 'select pg_sleep(60)' on `name` (backend `pid`), cancel it from
/// this thread once it runs: 57014, then the end.
fn sleep_then_cancel(server: &Server, name: &str, pid: i32) {
    let n = Some(name);
    assert_eq!(pgdblink::send_query(n, "select pg_sleep(60)"), Ok(true));
    wait_active(server, pid);
    let cancel = bounded(
        "cancel_query",
        pgdblink::DEFAULT_CANCEL_TIMEOUT + HANG_MARGIN,
        {
            let name = name.to_owned();
            move || pgdblink::cancel_query(Some(&name))
        },
    );
    assert_eq!(cancel, Ok("OK".to_owned()));
    let r = bounded("get_result after the cancel", HANG_MARGIN, {
        let name = name.to_owned();
        move || pgdblink::get_result(Some(&name), true)
    });
    assert_eq!(
        r.expect_err("canceled").sqlstate,
        "57014",
        "the cancel reached backend {pid}"
    );
    assert_eq!(
        pgdblink::get_result(n, true).map(|r| r.status()),
        Ok(Status::Done)
    );
}

/// A cancel (so the cancel handle has been used); send 'select
/// pg_sleep(60)'; pg_terminate_backend; get_result (57P01); reset: the
/// connection works again, on a new backend, and its cancel handle is the
/// new backend's (a cancel interrupts the next query). The old cancel
/// handle's descriptor is not leaked.
#[test]
fn cancel_then_terminate_backend_mid_query_then_reset_then_cancel_again() {
    let _serial = serial();
    let server = shared();
    warm_up(server);
    let fds = Fds::now();

    let name = unique_name("reset");
    let n = Some(name.as_str());
    pgdblink::connect(n, &server.tcp_connstr()).expect("connect");
    let pid = pg_backend_pid(&name);
    sleep_then_cancel(server, &name, pid);

    assert_eq!(pgdblink::send_query(n, "select pg_sleep(60)"), Ok(true));
    wait_active(server, pid);
    server
        .psql("postgres", &format!("select pg_terminate_backend({pid})"))
        .expect("pg_terminate_backend");
    let r = bounded("get_result", HANG_MARGIN, {
        let name = name.clone();
        move || pgdblink::get_result(Some(&name), true)
    });
    let e = r.expect_err("the query was terminated");
    assert_eq!(
        (e.sqlstate.as_str(), e.message.as_str()),
        (
            "57P01",
            "terminating connection due to administrator command"
        )
    );

    bounded("reset", HANG_MARGIN, {
        let name = name.clone();
        move || pgdblink::reset(Some(&name))
    })
    .expect("reset reconnects");
    assert_works(&name);
    let new_pid = pg_backend_pid(&name);
    assert_ne!(new_pid, pid, "reset opened a new backend");
    assert_eq!(pgdblink::error_message(n), Ok("OK".to_owned()));
    sleep_then_cancel(server, &name, new_pid);

    pgdblink::disconnect(n).expect("disconnect");
    pgdblink::connect(n, &server.connstr()).expect("connect again under the same name");
    assert_works(&name);
    pgdblink::disconnect(n).expect("disconnect");

    fds.assert_none_leaked("cancel, terminate, reset, cancel");
}

// ---------------------------------------------------------------------------
// Server restarted (pg_ctl stop -m immediate, then start)
// ---------------------------------------------------------------------------

/// Two idle connections; the server restarts. The next calls report the
/// lost connection as dblink does (the first send still succeeds: libpq
/// notices the closed socket when it reads the answer); one name is reset,
/// the other disconnected and connected again.
#[test]
fn restart_immediate_while_idle_then_send_get_result_dblink_exec_reset_reconnect() {
    let _serial = serial();
    let server = shared();
    let private = private_server();
    let mut pair = Pair::on(server);
    warm_up(server);
    let fds = Fds::now();

    let name = unique_name("idle");
    let resettable = unique_name("idle_reset");
    pair.set("n", &name);
    pair.set("cs", &private.connstr());
    pair.step(CONNECT);
    pgdblink::connect(Some(&resettable), &private.tcp_connstr()).expect("connect");
    assert_works(&name);
    assert_works(&resettable);
    assert_no_notices(&name);

    private
        .restart_immediate()
        .expect("restart the private cluster");

    pair.step(IS_BUSY);
    // get_result with nothing sent.
    pair.step(GET_RESULT);
    pair.step(ERROR_MESSAGE);
    pair.step(SEND_SELECT_1);
    // NOTICE 08006 server closed the connection unexpectedly ...
    bounded_get(&mut pair, GET_RESULT);
    // The end.
    bounded_get(&mut pair, GET_RESULT_FAIL);
    pair.step(SELECT_1);
    pair.step("SELECT dblink_exec(:'n', 'select 1', false)");
    cancel_on_a_closed_socket(&mut pair);
    disconnect_and_reconnect_both(&mut pair);

    // The other connection (TCP) is reset instead.
    bounded("reset", HANG_MARGIN, {
        let name = resettable.clone();
        move || pgdblink::reset(Some(&name))
    })
    .expect("reset after the restart");
    assert_works(&resettable);
    pgdblink::disconnect(Some(&resettable)).expect("disconnect");

    fds.assert_none_leaked("restart while idle");
    drop(private);
}

/// A get_result blocked in another thread on `select pg_sleep(60)` (and a
/// wait_any blocked in a third on another connection); the server restarts:
/// the blocked get_result returns (08006, as dblink's does), wait_any
/// returns the lost connection as ready, the connection reports itself
/// lost, reset works, and so do disconnect + connect under the same name.
#[test]
fn restart_immediate_while_get_result_blocks_in_another_thread() {
    let _serial = serial();
    let server = shared();
    let private = private_server();
    let mut pair = Pair::on(server);
    let mut admin = server.oracle();
    warm_up(server);
    let fds = Fds::now();

    let name = unique_name("busy");
    let n = Some(name.as_str());
    pair.set("n", &name);
    pair.set("cs", &private.connstr());
    pair.step(CONNECT);
    pair.step(SEND_SLEEP);
    // pgdblink only: another connection waited on with wait_any.
    let waiter = unique_name("busy_wait_any");
    pgdblink::connect(Some(&waiter), &private.tcp_connstr()).expect("connect");
    let waiter_pid = pg_backend_pid(&waiter);
    assert_eq!(
        pgdblink::send_query(Some(&waiter), "select pg_sleep(60)"),
        Ok(true)
    );
    for pid in [pair.theirs.pid(n), pair.mine.pid(n), waiter_pid] {
        wait_active(&private, pid);
    }

    // The readers block: each world's get_result in a thread of ours (the
    // oracle's in its session). The sleeps run for 60 s, so a return within
    // HANG_MARGIN of the restart is the restart's doing.
    let limit = HANG_MARGIN;
    let Pair {
        mut theirs,
        mut mine,
    } = pair;
    let (w_tx, w_rx) = mpsc::channel();
    let w_reader = thread::spawn({
        let waiter = waiter.clone();
        move || {
            let _ = w_tx.send(pgdblink::wait_any(&[&waiter], None));
        }
    });
    let (pg_tx, pg_rx) = mpsc::channel();
    let pg_reader = thread::spawn(move || {
        let out = mine.run(GET_RESULT);
        let _ = pg_tx.send((out, mine));
    });
    let (o_tx, o_rx) = mpsc::channel();
    let o_reader = thread::spawn(move || {
        let out = theirs.run(GET_RESULT);
        let _ = o_tx.send((out, theirs));
    });
    wait_until(
        server,
        "select count(*) from pg_stat_activity where state = 'active' \
         and query ilike 'select * from dblink_get_result(%'",
        "1",
    );
    // Nothing can have ended the readers yet: the sleeps run for 60 s.
    assert!(pg_rx.try_recv().is_err() && o_rx.try_recv().is_err() && w_rx.try_recv().is_err());

    private
        .restart_immediate()
        .expect("restart the private cluster");

    let (pg_seen, mine) = pg_rx
        .recv_timeout(limit)
        .unwrap_or_else(|e| panic!("the blocked get_result has not returned: {e}"));
    let (o_seen, theirs) = o_rx
        .recv_timeout(limit)
        .unwrap_or_else(|e| panic!("the oracle's blocked get_result has not returned: {e}"));
    let woken = w_rx
        .recv_timeout(limit)
        .unwrap_or_else(|e| panic!("the blocked wait_any has not returned: {e}"));
    pg_reader.join().expect("the reader thread");
    o_reader.join().expect("the oracle reader thread");
    w_reader.join().expect("the wait_any thread");
    let mut pair = Pair { theirs, mine };
    assert_eq!(woken, Ok(vec![0]), "the lost connection is ready to report");
    let r = pgdblink::get_result(Some(&waiter), false).expect("an error result");
    let e = r.error().expect("the lost connection");
    assert_eq!(e.sqlstate, "08006", "{e:?}");
    assert!(
        e.message
            .starts_with("server closed the connection unexpectedly"),
        "{e:?}"
    );
    assert_eq!(
        pgdblink::get_result(Some(&waiter), false).map(|r| r.status()),
        Ok(Status::Done)
    );
    pgdblink::disconnect(Some(&waiter)).expect("disconnect");
    // NOTICE 08006 server closed the connection unexpectedly ...
    pair.assert_same(GET_RESULT, &o_seen, &pg_seen);
    assert_eq!(
        admin
            .value("select 1")
            .expect("the shared server is untouched"),
        Some("1".to_owned())
    );

    pair.step(IS_BUSY);
    // The end.
    pair.step(GET_RESULT_FAIL);
    pair.step(ERROR_MESSAGE);
    pair.step(SEND_SELECT_1);
    pair.step(SELECT_1);
    cancel_on_a_closed_socket(&mut pair);

    // pgdblink only: reset, then the disconnect + connect of both worlds.
    bounded("reset", HANG_MARGIN, {
        let name = name.clone();
        move || pgdblink::reset(Some(&name))
    })
    .expect("reset after the restart");
    assert_works(&name);
    assert_no_notices(&name);
    let still_lost = pair
        .theirs
        .run("SELECT dblink_exec(:'n', 'select 1', false)");
    assert_eq!(
        still_lost.scalar(),
        Some("ERROR"),
        "the oracle's connection is still lost"
    );
    disconnect_and_reconnect_both(&mut pair);

    fds.assert_none_leaked("restart while get_result blocks");
    drop(private);
}

// ---------------------------------------------------------------------------
// Cancel while a streamed result is being read
// ---------------------------------------------------------------------------

/// send_query_chunked of 2 million rows in chunks of 1000; after the first
/// chunk another thread cancels while this one keeps reading: the chunks
/// that follow are contiguous and end with 57014 (or, if the cancel came too
/// late, with all rows and the empty end of the set), then Done. No hang.
#[test]
fn send_query_chunked_then_cancel_from_another_thread_between_chunks() {
    const ROWS: u64 = 2_000_000;
    const CHUNK: usize = 1000;
    let _serial = serial();
    let server = shared();
    warm_up(server);
    let fds = Fds::now();

    let name = unique_name("chunks");
    let n = Some(name.as_str());
    pgdblink::connect(n, &server.tcp_connstr()).expect("connect");
    let sql = format!("select g from generate_series(1, {ROWS}) g");
    assert_eq!(pgdblink::send_query_chunked(n, &sql, CHUNK), Ok(true));

    let get = |name: &str| {
        let name = name.to_owned();
        bounded("get_result of a chunk", HANG_MARGIN, move || {
            pgdblink::get_result(Some(&name), true)
        })
    };
    let mut next: u64 = 1;
    let mut check_chunk = |r: &pgdblink::DblinkResult| {
        assert_eq!(r.status(), Status::Tuples);
        assert!(r.ntuples() <= CHUNK, "a chunk of {} rows", r.ntuples());
        for i in 0..r.ntuples() {
            assert_eq!(
                r.get(i, 0),
                Some(next.to_string().as_str()),
                "rows in order"
            );
            next += 1;
        }
    };
    let first = get(&name).expect("the first chunk");
    assert!(first.ntuples() > 0);
    check_chunk(&first);

    let canceller = thread::spawn({
        let name = name.clone();
        move || (pgdblink::cancel_query(Some(&name)), notices::take())
    });
    let mut canceled = None;
    let mut chunks = 1;
    loop {
        match get(&name) {
            Ok(r) if r.status() == Status::Done => break,
            Ok(r) => {
                assert!(canceled.is_none(), "rows after the 57014: {r:?}");
                check_chunk(&r);
                chunks += 1;
            }
            Err(e) => {
                assert!(canceled.is_none(), "a second error: {e:?}");
                assert_eq!(e.sqlstate, "57014", "{e:?}");
                assert_eq!(e.message, "canceling statement due to user request");
                assert_eq!(
                    e.context,
                    Some(format!(
                        "while executing query on dblink connection named \"{name}\""
                    ))
                );
                canceled = Some(e);
            }
        }
    }
    let (cancel, raised) = canceller.join().expect("the cancelling thread");
    hand_back(raised);
    assert_eq!(cancel, Ok("OK".to_owned()));
    let read = next - 1;
    match canceled {
        Some(_) => assert!(read < ROWS, "57014 after all {ROWS} rows"),
        None => assert_eq!(read, ROWS, "no 57014, so every row came"),
    }
    println!(
        "read {read} rows in {chunks} chunks, then {}",
        if read < ROWS {
            "57014"
        } else {
            "the end of the set"
        }
    );
    assert_eq!(pgdblink::is_busy(n), Ok(false));
    assert_works(&name);
    pgdblink::disconnect(n).expect("disconnect");
    pgdblink::connect(n, &server.connstr()).expect("connect again under the same name");
    assert_works(&name);
    pgdblink::disconnect(n).expect("disconnect");
    assert!(take_notices(&name).is_empty());

    fds.assert_none_leaked("cancel between chunks");
}

// ---------------------------------------------------------------------------
// A peer that accepts TCP connections but never answers
// ---------------------------------------------------------------------------

/// A listening socket nobody accepts on: the kernel completes the TCP
/// handshakes, and whatever the client sends is never read or answered.
struct Silent {
    listener: TcpListener,
}

impl Silent {
    fn start() -> Silent {
        Silent {
            listener: TcpListener::bind("127.0.0.1:0").expect("bind a silent listener"),
        }
    }

    fn port(&self) -> u16 {
        self.listener.local_addr().expect("local addr").port()
    }

    fn connstr(&self, extra: &str) -> String {
        let port = self.port();
        format!("host=127.0.0.1 port={port} user=postgres dbname=postgres sslmode=disable {extra}")
    }
}

/// After a failed connect, the name is not registered, and can be connected.
fn name_is_free_and_reusable(name: &str, server: &Server) {
    let n = Some(name);
    let e = pgdblink::send_query(n, "select 1").expect_err("not registered");
    assert_eq!(
        (e.sqlstate.as_str(), e.message),
        ("08003", format!("connection \"{name}\" not available"))
    );
    assert!(
        !pgdblink::get_connections().is_some_and(|c| c.iter().any(|c| c == name)),
        "a failed connect registers nothing"
    );
    pgdblink::connect(n, &server.connstr()).expect("connect under the same name");
    assert_works(name);
    pgdblink::disconnect(n).expect("disconnect");
}

/// connect_timeout(300 ms) to a peer that never answers: 08001 with DETAIL
/// `timed out after 300 ms`, nothing registered, the name reusable.
#[test]
fn connect_timeout_to_a_peer_that_never_answers() {
    let _serial = serial();
    let server = shared();
    let silent = Silent::start();
    warm_up(server);
    let fds = Fds::now();

    let name = unique_name("silent");
    let timeout = Duration::from_millis(300);
    let e = bounded("connect_timeout", timeout + HANG_MARGIN, {
        let name = name.clone();
        let connstr = silent.connstr("");
        move || pgdblink::connect_timeout(Some(&name), &connstr, timeout)
    })
    .expect_err("nobody answers");
    assert_eq!(
        (
            e.sqlstate.as_str(),
            e.message.as_str(),
            e.detail.as_deref(),
            e.hint.as_deref(),
            e.context.as_deref()
        ),
        (
            "08001",
            "could not establish connection",
            Some("timed out after 300 ms"),
            None,
            None
        )
    );
    name_is_free_and_reusable(&name, server);
    assert!(take_notices(&name).is_empty());

    fds.assert_none_leaked("connect_timeout to a silent peer");
    drop(silent);
}

/// connect_all of three names, the middle one to a peer that never
/// answers, bounded by 300 ms: the other two connect, the silent one is
/// 08001 with DETAIL `timed out after 300 ms` and is not registered.
#[test]
fn connect_all_with_one_peer_that_never_answers() {
    let _serial = serial();
    let server = shared();
    let silent = Silent::start();
    warm_up(server);
    let fds = Fds::now();

    let names = [
        unique_name("all_tcp"),
        unique_name("all_silent"),
        unique_name("all_unix"),
    ];
    let connstrs = [server.tcp_connstr(), silent.connstr(""), server.connstr()];
    let timeout = Duration::from_millis(300);
    let outcomes = bounded("connect_all", timeout + HANG_MARGIN, {
        let names = names.clone();
        let connstrs = connstrs.clone();
        move || {
            let targets: Vec<(&str, &str)> = names
                .iter()
                .zip(&connstrs)
                .map(|(n, c)| (n.as_str(), c.as_str()))
                .collect();
            pgdblink::connect_all(&targets, Some(timeout))
        }
    });
    assert_eq!(outcomes.len(), 3);
    assert_eq!(outcomes[0], Ok(()));
    assert_eq!(outcomes[2], Ok(()));
    let e = outcomes[1].as_ref().expect_err("nobody answers");
    assert_eq!(
        (e.sqlstate.as_str(), e.message.as_str(), e.detail.as_deref()),
        (
            "08001",
            "could not establish connection",
            Some("timed out after 300 ms")
        )
    );
    assert_works(&names[0]);
    assert_works(&names[2]);
    name_is_free_and_reusable(&names[1], server);
    for name in [&names[0], &names[2]] {
        pgdblink::disconnect(Some(name)).expect("disconnect");
    }
    for name in &names {
        assert!(take_notices(name).is_empty());
    }

    fds.assert_none_leaked("connect_all with a silent peer");
    drop(silent);
}

/// connect with libpq's own `connect_timeout=2` to a peer that never
/// answers, in both worlds at once: the same 08001 and DETAIL (`timeout
/// expired`), where dblink honours connect_timeout (dblink 15; see the
/// module docs for 16+); the name is reusable afterwards.
#[test]
fn connect_with_libpq_connect_timeout_to_a_peer_that_never_answers() {
    let _serial = serial();
    let server = shared();
    let silent = Silent::start();
    let mut pair = Pair::on(server);
    warm_up(server);
    let fds = Fds::now();

    let name = unique_name("silent_libpq");
    pair.set("n", &name);
    pair.set("cs", &silent.connstr("connect_timeout=2"));
    let waits = pair.oracle_version() >= 160_000;
    if waits {
        // dblink's wait, ended after connect_timeout + 3 s (the oracle
        // world sends any call verbatim).
        pair.theirs
            .run("SELECT set_config('statement_timeout', '5s', false)");
    }
    let (theirs, mine) = thread::scope(|s| {
        let mine = s.spawn(|| {
            pair.mine.run_via(CONNECT, |call| {
                bounded("connect", Duration::from_secs(2) + HANG_MARGIN, call)
            })
        });
        let theirs = pair.theirs.run(CONNECT);
        (theirs, mine.join().expect("the connecting thread"))
    });
    if waits {
        pair.theirs
            .run("SELECT set_config('statement_timeout', '0', false)");
        assert_eq!(
            pair.theirs.render(&theirs),
            "ERROR 57014: canceling statement due to statement timeout\n",
            "dblink 16+ ignores connect_timeout"
        );
        assert_eq!(
            pair.mine.render(&mine),
            format!(
                "ERROR 08001: could not establish connection\n\
                 DETAIL: connection to server at \"127.0.0.1\", port {} failed: timeout expired\n",
                silent.port()
            ),
            "pgdblink gives up after connect_timeout, as dblink 15 does"
        );
    } else {
        pair.assert_same(CONNECT, &theirs, &mine);
    }
    name_is_free_and_reusable(&name, server);
    assert!(take_notices(&name).is_empty());

    fds.assert_none_leaked("connect with connect_timeout to a silent peer");
    drop(silent);
}

/// A TCP proxy to the server that forwards its first connection and accepts
/// no other: the cancel request libpq opens to the same address is never
/// answered.
struct OneShotProxy {
    listener: TcpListener,
    pipes: Option<thread::JoinHandle<[thread::JoinHandle<()>; 2]>>,
}

impl OneShotProxy {
    fn start(upstream: u16) -> OneShotProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let accepting = listener.try_clone().expect("clone the proxy listener");
        let pipes = thread::spawn(move || {
            let (client, _) = accepting.accept().expect("accept the one client");
            drop(accepting);
            let server = TcpStream::connect(("127.0.0.1", upstream)).expect("connect upstream");
            [pipe(&client, &server), pipe(&server, &client)]
        });
        OneShotProxy {
            listener,
            pipes: Some(pipes),
        }
    }

    fn port(&self) -> u16 {
        self.listener.local_addr().expect("proxy addr").port()
    }

    /// Waits until both directions have ended (the client disconnected).
    fn join(&mut self) {
        if let Some(p) = self.pipes.take() {
            for h in p.join().expect("the proxy thread") {
                h.join().expect("a proxy pipe");
            }
        }
    }
}

/// Copies `from` to `to` until EOF, then shuts `to` down; the clones are
/// closed when the thread ends.
fn pipe(from: &TcpStream, to: &TcpStream) -> thread::JoinHandle<()> {
    let mut from = from.try_clone().expect("clone a proxy stream");
    let mut to = to.try_clone().expect("clone a proxy stream");
    thread::spawn(move || {
        let _ = std::io::copy(&mut from, &mut to);
        let _ = to.shutdown(std::net::Shutdown::Both);
        let _ = from.shutdown(std::net::Shutdown::Both);
    })
}

/// A query running through a proxy whose cancel port never answers:
/// cancel_query_timeout gives up with `cancel request timed out` (twice:
/// the cancel handle is reusable), the query is not canceled and its result
/// arrives, the connection keeps working, and the name can be connected
/// again directly.
#[test]
fn cancel_query_timeout_to_a_peer_that_never_answers() {
    let _serial = serial();
    let server = shared();
    warm_up(server);
    let mut proxy = OneShotProxy::start(server.port());
    let fds_with_proxy = Fds::now();

    let name = unique_name("cancel_silent");
    let n = Some(name.as_str());
    let via_proxy = format!(
        "host=127.0.0.1 port={} user=postgres dbname=postgres sslmode=disable",
        proxy.port()
    );
    pgdblink::connect(n, &via_proxy).expect("connect through the proxy");
    assert!(pgdblink::send_query(n, "select pg_sleep(0.5)::text || 'done'").expect("send"));
    let timeout = Duration::from_millis(300);
    for attempt in 1..=2 {
        let text = bounded("cancel_query_timeout", timeout + HANG_MARGIN, {
            let name = name.clone();
            move || pgdblink::cancel_query_timeout(Some(&name), timeout)
        });
        assert_eq!(
            text,
            Ok("cancel request timed out".to_owned()),
            "attempt {attempt}"
        );
    }
    let r = bounded("get_result", HANG_MARGIN, {
        let name = name.clone();
        move || pgdblink::get_result(Some(&name), true)
    })
    .expect("the query was not canceled");
    assert_eq!(r.rows(), vec![vec![Some("done".to_owned())]]);
    assert_eq!(
        pgdblink::get_result(n, true).map(|r| r.status()),
        Ok(Status::Done)
    );
    assert_works(&name);
    pgdblink::disconnect(n).expect("disconnect");
    proxy.join();
    pgdblink::connect(n, &server.connstr()).expect("connect again under the same name");
    assert_works(&name);
    pgdblink::disconnect(n).expect("disconnect");
    assert!(take_notices(&name).is_empty());

    // The proxy's listener is the only descriptor left of the scenario: the
    // cancel connections were closed with the connection.
    fds_with_proxy.assert_none_leaked("cancel_query_timeout to a silent peer");
    drop(proxy);
}
