//! The behaviour pgdblink's issue 10 rework promises (the "model"), one test
//! per finding: cancel never deadlocks with connect_poll or reset, a forked
//! child leaves the parent's connections alone, COPY ends cleanly through
//! every entry point, refused sends keep error_message bounded,
//! `Duration::MAX` means "no bound", connection names with NUL are refused,
//! and only a UTF8 client_encoding is accepted.
//!
//! Only ordering and generous bounds are asserted, never tight timings. A
//! call that can hang on a buggy library runs in a thread joined with a
//! deadline ([`bounded`]), so a test fails with a message instead of hanging.
//!
//! The tests of this file run one at a time ([`serial`]): the fork tests call
//! `disconnect_all` in the child, which must find no other test's
//! connection in the registry (nor a lock another thread held at fork time).

mod support;

use std::any::Any;
use std::collections::HashMap;
use std::os::raw::c_int;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use pgdblink::{ConnectProgress, DblinkResult, Error, Status};
use support::{shared, unique_name};

/// SQLSTATEs the model uses that pgdblink's `sqlstate` module may not name.
const FEATURE_NOT_SUPPORTED: &str = "0A000";
const INVALID_PARAMETER_VALUE: &str = "22023";
const CONNECTION_DOES_NOT_EXIST: &str = "08003";

/// The start of the 0A000 message for COPY.
const COPY_MESSAGE: &str = "COPY is not supported here";

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// Runs the tests of this file one at a time (see the module docs). A failed
/// test does not poison it for the rest.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

fn connstr() -> String {
    shared().connstr()
}

/// The text of a panic payload.
fn panic_text(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(non-text panic payload)".to_owned())
}

/// Runs `f` on its own thread and waits at most `limit` for it: `Err` says
/// that it hung (the thread is left behind) or panicked.
fn bounded<T: Send + 'static>(
    what: &str,
    limit: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    let (tx, rx) = mpsc::channel();
    let handle = thread::Builder::new()
        .name(format!("bounded: {}", what.escape_debug()))
        .spawn(move || {
            let _ = tx.send(f());
        })
        .expect("spawn a thread");
    match rx.recv_timeout(limit) {
        Ok(v) => {
            let _ = handle.join();
            Ok(v)
        }
        Err(RecvTimeoutError::Timeout) => {
            Err(format!("{what} did not return within {limit:?} (hung)"))
        }
        Err(RecvTimeoutError::Disconnected) => Err(format!(
            "{what} panicked: {}",
            handle
                .join()
                .err()
                .map_or_else(|| "(no payload)".to_owned(), |p| panic_text(&*p))
        )),
    }
}

/// `f` with a panic turned into `Err` with its message.
fn no_panic<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|p| format!("panicked: {}", panic_text(&*p)))
}

/// Disconnects `name` without waiting: a thread stuck in a call on it (a
/// deadlock this file found) would block a plain disconnect forever. The
/// name leaves the registry at once; the closing thread may stay blocked.
fn abandon(name: &str) {
    let owned = name.to_owned();
    let (tx, rx) = mpsc::channel();
    let _ = thread::Builder::new()
        .name(format!("abandon {}", name.escape_debug()))
        .spawn(move || {
            drop(pgdblink::disconnect(Some(&owned)));
            let _ = tx.send(());
        });
    if rx.recv_timeout(Duration::from_secs(2)).is_ok() {
        return;
    }
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until
        && pgdblink::get_connections().is_some_and(|names| names.iter().any(|n| n == name))
    {
        thread::sleep(Duration::from_millis(10));
    }
}

/// Disconnects `name` when dropped (also when the test panics), without
/// blocking on a stuck connection.
struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        abandon(&self.0);
    }
}

/// Connects `name` to the shared server (panics on failure) and returns its
/// cleanup guard.
fn connect(name: &str) -> Cleanup {
    pgdblink::connect(Some(name), &connstr()).unwrap_or_else(|e| panic!("connect {name}: {e:?}"));
    Cleanup(name.to_owned())
}

/// Waits with poll(2) until `fd` has one of `events`, at most `ms`.
fn wait_fd(fd: c_int, events: libc::c_short, ms: c_int) {
    let mut pfd = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    // SAFETY: `pfd` is one live, initialized pollfd for the call's duration;
    // poll only writes its `revents`.
    let n = unsafe { libc::poll(&mut pfd, 1, ms) };
    assert!(n >= 0, "poll: {}", std::io::Error::last_os_error());
}

/// Drives a `connect_start` of `name` to `Ready`, waiting on its socket.
fn poll_until_ready(name: &str) -> Result<(), String> {
    for _ in 0..1000 {
        match pgdblink::connect_poll(Some(name)) {
            Ok(ConnectProgress::Ready) => return Ok(()),
            Ok(ConnectProgress::Reading(fd)) => wait_fd(fd, libc::POLLIN, 5000),
            Ok(ConnectProgress::Writing(fd)) => wait_fd(fd, libc::POLLOUT, 5000),
            Ok(other) => return Err(format!("connect_poll({name}): unexpected {other:?}")),
            Err(e) => return Err(format!("connect_poll({name}): {e:?}")),
        }
    }
    Err(format!("connect_poll({name}) not Ready after 1000 polls"))
}

/// `select 1` on `name` must answer 1 (within a bound).
fn select_one(name: &str) -> Result<(), String> {
    let owned = name.to_owned();
    let res = bounded(
        &format!("dblink({name}, 'select 1')"),
        Duration::from_secs(20),
        move || pgdblink::dblink(Some(&owned), "select 1", true),
    )?;
    match res {
        Ok(r) if r.get(0, 0) == Some("1") => Ok(()),
        Ok(r) => Err(format!(
            "select 1 on {name} gave {:?} {:?}",
            r.status(),
            r.rows()
        )),
        Err(e) => Err(format!(
            "select 1 on {name} failed: {} {} ({:?})",
            e.sqlstate, e.message, e.detail
        )),
    }
}

/// Reads results of `name` until `Done`, at most `max` of them; `false`
/// when `Done` never came.
fn drain(name: &str, max: usize) -> bool {
    (0..max)
        .any(|_| pgdblink::get_result(Some(name), false).is_ok_and(|r| r.status() == Status::Done))
}

/// Fails with every message in `failures`, if any.
fn assert_none(what: &str, failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{what}: {} failure(s):\n- {}",
        failures.len(),
        failures.join("\n- ")
    );
}

// ---------------------------------------------------------------------------
// 1. cancel never deadlocks with connect_poll or reset
// ---------------------------------------------------------------------------

/// How many connect/reset rounds the deadlock tests run.
const ROUNDS: usize = 200;
/// How long both threads of a deadlock test may take together.
const DEADLOCK_LIMIT: Duration = Duration::from_secs(30);

/// Runs `cancel_query_timeout(name, 100 ms)` in a loop on one thread while
/// `rounds` runs on another (reporting its progress); both must finish
/// within [`DEADLOCK_LIMIT`].
fn cancel_loop_against(
    name: &str,
    what: &str,
    rounds: impl FnOnce(&AtomicUsize) -> Result<(), String> + Send + 'static,
) {
    let start = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let cancels = Arc::new(AtomicUsize::new(0));
    let done_rounds = Arc::new(AtomicUsize::new(0));

    let (cancel_tx, cancel_rx) = mpsc::channel();
    {
        let (name, stop, cancels) = (name.to_owned(), Arc::clone(&stop), Arc::clone(&cancels));
        thread::spawn(move || {
            while !stop.load(Ordering::Acquire) {
                let _ = pgdblink::cancel_query_timeout(Some(&name), Duration::from_millis(100));
                cancels.fetch_add(1, Ordering::Relaxed);
            }
            let _ = cancel_tx.send(());
        });
    }
    let (rounds_tx, rounds_rx) = mpsc::channel();
    {
        let done_rounds = Arc::clone(&done_rounds);
        thread::spawn(move || {
            let _ = rounds_tx.send(rounds(&done_rounds));
        });
    }

    let outcome = rounds_rx.recv_timeout(DEADLOCK_LIMIT);
    stop.store(true, Ordering::Release);
    let left = DEADLOCK_LIMIT.saturating_sub(start.elapsed()) + Duration::from_secs(1);
    let cancel_done = cancel_rx.recv_timeout(left).is_ok();
    let progress = format!(
        "after {:?}: {} of {ROUNDS} {what} rounds done, {} cancel calls",
        start.elapsed(),
        done_rounds.load(Ordering::Relaxed),
        cancels.load(Ordering::Relaxed)
    );
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(e)) => panic!("the {what} thread failed ({progress}): {e}"),
        Err(_) => {
            abandon(name);
            panic!(
                "deadlock: the {what} loop did not finish within {DEADLOCK_LIMIT:?} while another \
                 thread looped cancel_query_timeout on the same name ({progress})"
            );
        }
    }
    if !cancel_done {
        abandon(name);
        panic!(
            "deadlock: the cancel_query_timeout loop did not finish within {DEADLOCK_LIMIT:?} \
             ({progress})"
        );
    }
}

#[test]
fn f1_cancel_loop_vs_connect_start_poll_loop_never_deadlocks() {
    let _serial = serial();
    let name = unique_name("model_cancel_connect");
    let _cleanup = Cleanup(name.clone());
    let cs = connstr();
    let n = name.clone();
    cancel_loop_against(
        &name,
        "connect_start/connect_poll/disconnect",
        move |done| {
            for i in 0..ROUNDS {
                pgdblink::connect_start(Some(&n), &cs)
                    .map_err(|e| format!("round {i}: connect_start: {e:?}"))?;
                poll_until_ready(&n).map_err(|e| format!("round {i}: {e}"))?;
                pgdblink::disconnect(Some(&n))
                    .map_err(|e| format!("round {i}: disconnect: {e:?}"))?;
                done.fetch_add(1, Ordering::Relaxed);
            }
            Ok(())
        },
    );
}

#[test]
fn f1_cancel_loop_vs_reset_loop_never_deadlocks() {
    let _serial = serial();
    let name = unique_name("model_cancel_reset");
    let _cleanup = connect(&name);
    let n = name.clone();
    cancel_loop_against(&name, "reset", move |done| {
        for i in 0..ROUNDS {
            pgdblink::reset(Some(&n)).map_err(|e| format!("round {i}: reset: {e:?}"))?;
            done.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    });
    assert_eq!(select_one(&name), Ok(()), "the connection after the resets");
}

// ---------------------------------------------------------------------------
// 2. fork: the child leaves the parent's connections alone
// ---------------------------------------------------------------------------

/// How long a forked child may take before it counts as hung.
const CHILD_LIMIT: Duration = Duration::from_secs(20);

/// Forks; the child runs `child` (a panic is exit code 101) and `_exit`s
/// with its code, skipping atexit handlers (the test server's cleanup) and
/// destructors. Returns the child's exit code, or why there is none.
fn fork_and_wait(child: impl FnOnce() -> c_int) -> Result<c_int, String> {
    // SAFETY: fork has no memory-safety preconditions. The child only runs
    // `child` (a pgdblink call: no other test of this file runs meanwhile,
    // see `serial`) and then `_exit`s; it never returns into the harness.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let code = catch_unwind(AssertUnwindSafe(child)).unwrap_or(101);
        // SAFETY: _exit ends the child process at once; nothing runs after.
        unsafe { libc::_exit(code) }
    }
    assert!(pid > 0, "fork: {}", std::io::Error::last_os_error());
    let until = Instant::now() + CHILD_LIMIT;
    loop {
        let mut status: c_int = 0;
        // SAFETY: `pid` is our own child; `status` is a valid out-pointer.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if r == pid {
            if libc::WIFEXITED(status) {
                return Ok(libc::WEXITSTATUS(status));
            }
            return Err(format!(
                "the child ended abnormally (wait status {status:#x})"
            ));
        }
        if r < 0 {
            return Err(format!("waitpid: {}", std::io::Error::last_os_error()));
        }
        if Instant::now() >= until {
            // SAFETY: kill and waitpid take plain integers and our own
            // child's pid; a NULL status pointer is allowed.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, std::ptr::null_mut(), 0);
            }
            return Err(format!("the child hung for {CHILD_LIMIT:?} and was killed"));
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// Connects `name` and uses it (exec), as a program does before forking.
fn connect_and_use(name: &str) -> Cleanup {
    let guard = connect(name);
    assert_eq!(
        pgdblink::exec(Some(name), "set application_name = 'model_fork'", true).as_deref(),
        Ok("SET")
    );
    assert_eq!(select_one(name), Ok(()), "{name} before the fork");
    guard
}

#[test]
fn f2_fork_child_disconnect_all_leaves_parent_connection_working() {
    let _serial = serial();
    let a = unique_name("model_fork_all");
    let _cleanup = connect_and_use(&a);
    let child = fork_and_wait(|| {
        pgdblink::disconnect_all();
        0
    });
    assert_eq!(child, Ok(0), "the child's disconnect_all() then _exit(0)");
    assert_eq!(
        select_one(&a),
        Ok(()),
        "the parent's connection after the child's disconnect_all()"
    );
}

#[test]
fn f2_fork_child_disconnect_leaves_parent_connection_working() {
    let _serial = serial();
    let a = unique_name("model_fork_one");
    let _cleanup = connect_and_use(&a);
    let name = a.clone();
    let child = fork_and_wait(move || {
        let _ = pgdblink::disconnect(Some(&name));
        0
    });
    assert_eq!(child, Ok(0), "the child's disconnect(a) then _exit(0)");
    assert_eq!(
        select_one(&a),
        Ok(()),
        "the parent's connection after the child's disconnect(a)"
    );
}

#[test]
fn f2_fork_child_call_on_inherited_connection_fails_08003() {
    let _serial = serial();
    let a = unique_name("model_fork_call");
    let _cleanup = connect_and_use(&a);
    let name = a.clone();
    // Exit codes: 0 = Err 08003 mentioning fork (the model), 1 = Ok (the
    // child used the parent's session), 2 = 08003 not mentioning fork,
    // 3 = another error.
    let child = fork_and_wait(
        move || match pgdblink::dblink(Some(&name), "select 1", true) {
            Err(e) if e.sqlstate == CONNECTION_DOES_NOT_EXIST && e.message.contains("fork") => 0,
            Ok(_) => 1,
            Err(e) if e.sqlstate == CONNECTION_DOES_NOT_EXIST => 2,
            Err(_) => 3,
        },
    );
    let verdict = match child {
        Ok(0) => Ok(()),
        Ok(1) => Err("the child's dblink(a, 'select 1') succeeded on the inherited connection"),
        Ok(2) => Err("the child's call failed 08003 but the message does not mention fork"),
        Ok(3) => Err("the child's call failed with another SQLSTATE than 08003"),
        Ok(101) => Err("the child panicked"),
        Ok(_) => Err("the child exited with an unexpected code"),
        Err(ref e) => Err(e.as_str()),
    };
    assert_eq!(
        verdict,
        Ok(()),
        "a call on an inherited connection in a forked child (child: {child:?})"
    );
    assert_eq!(
        select_one(&a),
        Ok(()),
        "the parent's connection after the child's call"
    );
}

// ---------------------------------------------------------------------------
// 3. COPY ends cleanly through every entry point
// ---------------------------------------------------------------------------

/// Whether `e` is the model's COPY error.
fn is_copy_error(e: &Error) -> bool {
    e.sqlstate == FEATURE_NOT_SUPPORTED && e.message.starts_with(COPY_MESSAGE)
}

fn show_err(e: &Error) -> String {
    format!("{} {:?} (detail {:?})", e.sqlstate, e.message, e.detail)
}

fn show_res(r: &DblinkResult) -> String {
    format!(
        "{:?} {:?} error {:?}",
        r.status(),
        r.rows().into_iter().take(3).collect::<Vec<_>>(),
        r.error().map(show_err)
    )
}

/// Runs one COPY case on a fresh connection (a temp table `t` exists), then
/// `select 1` on it; the failures, if any, prefixed with `case`.
fn copy_case(case: &str, run: fn(&str) -> Result<(), String>) -> Vec<String> {
    let a = unique_name("model_copy");
    let _cleanup = connect(&a);
    if let Err(e) = pgdblink::exec(Some(&a), "create temp table t(x int)", true) {
        return vec![format!("{case}: create temp table: {}", show_err(&e))];
    }
    let name = a.clone();
    let mut failures = Vec::new();
    match bounded(case, Duration::from_secs(30), move || run(&name)) {
        Ok(Ok(())) => {}
        Ok(Err(e)) | Err(e) => failures.push(format!("{case}: {e}")),
    }
    if let Err(e) = select_one(&a) {
        failures.push(format!("{case}: then select 1: {e}"));
    }
    failures
}

/// The read-until-Done loop after `send_query(sql)`: reaches Done in under
/// 10 results, one of which is the COPY error.
fn copy_via_send_query(a: &str, sql: &str) -> Result<(), String> {
    match pgdblink::send_query(Some(a), sql) {
        Ok(true) => {}
        other => return Err(format!("send_query: {other:?}")),
    }
    let mut seen = Vec::new();
    let mut copy_error = false;
    for _ in 0..1000 {
        match pgdblink::get_result(Some(a), false) {
            Ok(r) if r.status() == Status::Done => {
                if seen.len() >= 10 {
                    return Err(format!(
                        "Done only after {} results: {:?}",
                        seen.len(),
                        &seen[..3]
                    ));
                }
                if !copy_error {
                    return Err(format!("Done, but no result carried 0A000: {seen:?}"));
                }
                return Ok(());
            }
            Ok(r) => {
                copy_error |= r.error().is_some_and(is_copy_error);
                seen.push(show_res(&r));
            }
            Err(e) => {
                copy_error |= is_copy_error(&e);
                seen.push(format!("Err {}", show_err(&e)));
            }
        }
    }
    Err(format!(
        "no Done after 1000 get_result calls; the first: {:?}",
        &seen[..seen.len().min(3)]
    ))
}

#[test]
fn f3_copy_through_every_entry_point_ends_cleanly() {
    let _serial = serial();
    let mut failures = Vec::new();
    failures.extend(copy_case(
        "dblink(copy to stdout, fail_on_error=true)",
        |a| match pgdblink::dblink(Some(a), "copy (select 1) to stdout", true) {
            Err(e) if is_copy_error(&e) => Ok(()),
            Err(e) => Err(format!("Err {}", show_err(&e))),
            Ok(r) => Err(format!("Ok {}", show_res(&r))),
        },
    ));
    failures.extend(copy_case(
        "dblink(copy to stdout, fail_on_error=false)",
        |a| match pgdblink::dblink(Some(a), "copy (select 1) to stdout", false) {
            Ok(r) if r.status() == Status::Error && r.error().is_some_and(is_copy_error) => Ok(()),
            Ok(r) => Err(format!("Ok {}", show_res(&r))),
            Err(e) => Err(format!("Err {}", show_err(&e))),
        },
    ));
    failures.extend(copy_case(
        "exec(copy t from stdin, fail_on_error=true)",
        |a| match pgdblink::exec(Some(a), "copy t from stdin", true) {
            Err(e) if is_copy_error(&e) => Ok(()),
            Err(e) => Err(format!("Err {}", show_err(&e))),
            Ok(s) => Err(format!("Ok {s:?}")),
        },
    ));
    failures.extend(copy_case(
        "send_query(copy 100000 rows to stdout) + get_result until Done",
        |a| copy_via_send_query(a, "copy (select generate_series(1,100000)) to stdout"),
    ));
    failures.extend(copy_case(
        "send_query(copy t from stdin) + get_result until Done",
        |a| copy_via_send_query(a, "copy t from stdin"),
    ));
    assert_none("COPY", &failures);
}

// ---------------------------------------------------------------------------
// 4. refused sends keep error_message and the NOTICE bounded
// ---------------------------------------------------------------------------

/// The last NOTICE per connection name, kept by this file's notice handler
/// (only the last: 10,000 growing notices must not all be kept, which
/// `support::notices` would do).
fn last_notices() -> &'static Mutex<HashMap<String, Error>> {
    static LAST: OnceLock<Arc<Mutex<HashMap<String, Error>>>> = OnceLock::new();
    LAST.get_or_init(|| {
        let last: Arc<Mutex<HashMap<String, Error>>> = Arc::default();
        let sink = Arc::clone(&last);
        pgdblink::set_notice_handler(Some(Arc::new(move |name: Option<&str>, e: &Error| {
            if let Some(n) = name {
                sink.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(n.to_owned(), e.clone());
            }
        })));
        last
    })
}

#[test]
fn f4_ten_thousand_refused_sends_keep_messages_bounded() {
    let _serial = serial();
    let notices = last_notices();
    let a = unique_name("model_refused");
    let _cleanup = connect(&a);
    assert_eq!(
        pgdblink::send_query(Some(&a), "select pg_sleep(0.5)"),
        Ok(true)
    );
    let name = a.clone();
    let refused = bounded(
        "10,000 refused send_query",
        Duration::from_secs(60),
        move || {
            (0..10_000)
                .filter(|_| pgdblink::send_query(Some(&name), "select 1") == Ok(false))
                .count()
        },
    );
    let message = pgdblink::error_message(Some(&a));
    let notice = notices
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .remove(&a);
    let drained = drain(&a, 10);

    let mut failures = Vec::new();
    if refused != Ok(10_000) {
        failures.push(format!("refused sends (want Ok(10000)): {refused:?}"));
    }
    // dblink's own text for the first refusals of a query (libpq adds the
    // line once per refused send: the differential tests compare up to six),
    // then no more: at most eight lines, under 1 KiB.
    let line = "another command is already in progress";
    let dblink_like = |m: &str| {
        let lines: Vec<&str> = m.split('\n').collect();
        (1..=8).contains(&lines.len()) && lines.iter().all(|l| *l == line) && m.len() < 1024
    };
    match message {
        Ok(m) if dblink_like(&m) => {}
        Ok(m) => failures.push(format!(
            "error_message is {} bytes (want \"{line}\", at most eight times, under 1 KiB \
             bytes); it starts {:?}",
            m.len(),
            m.chars().take(120).collect::<String>()
        )),
        Err(e) => failures.push(format!("error_message: Err {}", show_err(&e))),
    }
    match notice {
        Some(n) if n.message.len() < 1024 => {}
        Some(n) => failures.push(format!(
            "the last NOTICE is {} bytes (want < 1 KiB); it starts {:?}",
            n.message.len(),
            n.message.chars().take(120).collect::<String>()
        )),
        None => failures.push("no NOTICE for the refused sends".to_owned()),
    }
    if !drained {
        failures.push("the pg_sleep query's Done never came".to_owned());
    }
    assert_none("after 10,000 refused send_query", &failures);
}

// ---------------------------------------------------------------------------
// 5. Duration::MAX means no bound, never a panic
// ---------------------------------------------------------------------------

#[test]
fn f5_duration_max_is_no_bound_and_never_panics() {
    let _serial = serial();
    let (a, b, c) = (
        unique_name("model_max_a"),
        unique_name("model_max_b"),
        unique_name("model_max_c"),
    );
    let _cleanup = connect(&a);
    let _cleanup_b = Cleanup(b.clone());
    let _cleanup_c = Cleanup(c.clone());
    let limit = Duration::from_secs(20);
    let mut failures = Vec::new();
    let mut check = |what: &str, outcome: Result<Result<String, String>, String>| match outcome {
        Ok(Ok(_)) => {}
        Ok(Err(e)) | Err(e) => failures.push(format!("{what}: {e}")),
    };

    assert_eq!(pgdblink::send_query(Some(&a), "select 1"), Ok(true));
    let n = a.clone();
    check(
        "get_result_timeout(a, true, Duration::MAX)",
        bounded("get_result_timeout", limit, move || {
            no_panic(|| pgdblink::get_result_timeout(Some(&n), true, Duration::MAX)).and_then(|r| {
                match r {
                    Ok(r) if r.status() == Status::Tuples && r.get(0, 0) == Some("1") => {
                        Ok(String::new())
                    }
                    Ok(r) => Err(format!("not the row: {}", show_res(&r))),
                    Err(e) => Err(format!("Err {}", show_err(&e))),
                }
            })
        }),
    );
    // The query's Done (or, after a panic, its row and Done).
    assert!(drain(&a, 10), "the select 1's Done");

    let n = a.clone();
    check(
        "wait_any(&[a], Some(Duration::MAX))",
        bounded("wait_any", limit, move || {
            no_panic(|| pgdblink::wait_any(&[n.as_str()], Some(Duration::MAX))).and_then(
                |r| match r {
                    Ok(v) if v == [0] => Ok(String::new()),
                    other => Err(format!("{other:?} (want Ok([0]))")),
                },
            )
        }),
    );
    let n = a.clone();
    check(
        "wait_all(&[a], Some(Duration::MAX))",
        bounded("wait_all", limit, move || {
            no_panic(|| pgdblink::wait_all(&[n.as_str()], Some(Duration::MAX))).and_then(
                |r| match r {
                    Ok(true) => Ok(String::new()),
                    other => Err(format!("{other:?} (want Ok(true))")),
                },
            )
        }),
    );
    let n = a.clone();
    check(
        "cancel_query_timeout(a, Duration::MAX)",
        bounded("cancel_query_timeout", limit, move || {
            no_panic(|| pgdblink::cancel_query_timeout(Some(&n), Duration::MAX)).and_then(|r| {
                match r {
                    Ok(s) if s == "OK" => Ok(s),
                    other => Err(format!("{other:?} (want Ok(\"OK\"))")),
                }
            })
        }),
    );
    let (n, cs) = (b.clone(), connstr());
    check(
        "connect_timeout(b, connstr, Duration::MAX)",
        bounded("connect_timeout", limit, move || {
            no_panic(|| pgdblink::connect_timeout(Some(&n), &cs, Duration::MAX)).and_then(|r| {
                r.map(|()| String::new())
                    .map_err(|e| format!("Err {}", show_err(&e)))
            })
        }),
    );
    let (n, cs) = (c.clone(), connstr());
    check(
        "connect_all(&[(c, connstr)], Some(Duration::MAX))",
        bounded("connect_all", limit, move || {
            no_panic(|| pgdblink::connect_all(&[(n.as_str(), cs.as_str())], Some(Duration::MAX)))
                .and_then(|r| match r.as_slice() {
                    [Ok(())] => Ok(String::new()),
                    other => Err(format!("{other:?} (want [Ok(())])")),
                })
        }),
    );
    assert_none("Duration::MAX", &failures);
    assert_eq!(select_one(&b), Ok(()), "b, connected with Duration::MAX");
    assert_eq!(select_one(&c), Ok(()), "c, connected with Duration::MAX");
}

// ---------------------------------------------------------------------------
// 6. names with NUL are refused (22023)
// ---------------------------------------------------------------------------

#[test]
fn f6_names_with_nul_are_refused_22023() {
    let _serial = serial();
    let other = unique_name("model_nul_other");
    let _cleanup = connect(&other);
    let nul = format!("{}\0b", unique_name("model_nul"));
    let _cleanup_nul = Cleanup(nul.clone());
    let want_22023 = |what: &str, outcome: pgdblink::Result<String>| match outcome {
        Err(e) if e.sqlstate == INVALID_PARAMETER_VALUE => None,
        Err(e) => Some(format!("{what}: Err {} (want 22023)", show_err(&e))),
        Ok(v) => Some(format!("{what}: Ok({v}) (want Err 22023)")),
    };
    let mut failures = Vec::new();
    failures.extend(want_22023(
        "connect(Some(\"…\\0b\"), connstr)",
        pgdblink::connect(Some(&nul), &connstr()).map(|()| "()".to_owned()),
    ));
    match pgdblink::get_connections() {
        Some(names) if names.contains(&other) && !names.iter().any(|n| n.contains('\0')) => {}
        listed => failures.push(format!(
            "get_connections() after connect(\"…\\0b\") is {listed:?} (want a list with \
             {other:?} and no name with NUL)"
        )),
    }
    failures.extend(want_22023(
        "send_query(Some(\"x\\0\"), ..)",
        pgdblink::send_query(Some("x\0"), "select 1").map(|b| b.to_string()),
    ));
    failures.extend(want_22023(
        "get_result(Some(\"x\\0\"), true)",
        pgdblink::get_result(Some("x\0"), true).map(|r| show_res(&r)),
    ));
    failures.extend(want_22023(
        "disconnect(Some(\"x\\0\"))",
        pgdblink::disconnect(Some("x\0")).map(|()| "()".to_owned()),
    ));
    assert_none("names with NUL", &failures);
}

// ---------------------------------------------------------------------------
// 7. only a UTF8 client_encoding is accepted
// ---------------------------------------------------------------------------

#[test]
fn f7_client_encoding_other_than_utf8_is_refused_22023() {
    let _serial = serial();
    let latin1 = unique_name("model_latin1");
    let utf8 = unique_name("model_utf8");
    let _cleanup = Cleanup(latin1.clone());
    let _cleanup_utf8 = Cleanup(utf8.clone());
    let mut failures = Vec::new();

    match pgdblink::connect(
        Some(&latin1),
        &format!("{} client_encoding=LATIN1", connstr()),
    ) {
        Err(e)
            if e.sqlstate == INVALID_PARAMETER_VALUE
                && e.message.to_ascii_uppercase().contains("LATIN1") => {}
        Err(e) => failures.push(format!(
            "client_encoding=LATIN1: Err {} (want 22023 naming LATIN1)",
            show_err(&e)
        )),
        Ok(()) => {
            failures.push("client_encoding=LATIN1: Ok (want Err 22023 naming LATIN1)".to_owned())
        }
    }
    match pgdblink::connect(Some(&utf8), &format!("{} client_encoding=UTF8", connstr())) {
        Ok(()) => match pgdblink::dblink(Some(&utf8), "show client_encoding", true) {
            Ok(r) if r.get(0, 0) == Some("UTF8") => {}
            other => failures.push(format!(
                "client_encoding=UTF8: show client_encoding gave {:?}",
                other.map(|r| show_res(&r))
            )),
        },
        Err(e) => failures.push(format!("client_encoding=UTF8: Err {}", show_err(&e))),
    }
    assert_none("client_encoding", &failures);
}

// ---------------------------------------------------------------------------
// Notices: severity, and the FATAL sent to an idle connection
// ---------------------------------------------------------------------------

/// A WARNING with SQLSTATE 22012 reaches the severity-aware handler as a
/// WARNING (the plain handler cannot tell it from a NOTICE); the FATAL
/// 57P01 a terminated backend sends to an idle connection is not a notice:
/// the plain server-notice handler never sees it, the message handler gets
/// it as FATAL.
///
/// Failed before the commit that added `set_server_message_handler` (the
/// function did not exist; the FATAL reached the notice handler).
#[test]
fn server_messages_keep_their_severity_and_an_idle_fatal_is_no_notice() {
    let _serial = serial();
    type Seen = Arc<Mutex<Vec<(String, String, String)>>>;
    let with_severity: Seen = Arc::default();
    let plain: Seen = Arc::default();
    let (w, p) = (Arc::clone(&with_severity), Arc::clone(&plain));
    pgdblink::set_server_message_handler(Some(Arc::new(move |_, severity, m: &Error| {
        let mut w = w.lock().unwrap_or_else(PoisonError::into_inner);
        w.push((severity.to_owned(), m.sqlstate.clone(), m.message.clone()));
    })));
    pgdblink::set_server_notice_handler(Some(Arc::new(move |_, m: &Error| {
        let mut p = p.lock().unwrap_or_else(PoisonError::into_inner);
        p.push((String::new(), m.sqlstate.clone(), m.message.clone()));
    })));
    let a = unique_name("sev");
    let _cleanup = connect(&a);
    pgdblink::exec(
        Some(&a),
        "do $$ begin raise warning 'careful' using errcode = '22012'; raise notice 'fyi'; end $$",
        true,
    )
    .expect("raise");
    let pid = pgdblink::dblink(Some(&a), "select pg_backend_pid()", true).expect("pid");
    let pid = pid.get(0, 0).expect("a pid").to_owned();
    shared()
        .psql(
            "postgres",
            &format!("select pg_terminate_backend({pid}, 5000)"),
        )
        .expect("terminate");
    // The idle connection reads the FATAL (and the end of the socket).
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline
        && !with_severity
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .any(|(s, _, _)| s == "FATAL")
    {
        let _ = pgdblink::is_busy(Some(&a));
        thread::sleep(Duration::from_millis(20));
    }
    pgdblink::set_server_message_handler(None);
    pgdblink::set_server_notice_handler(None);
    let with_severity = with_severity
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let plain = plain.lock().unwrap_or_else(PoisonError::into_inner).clone();
    let w = |s: &str, code: &str| with_severity.iter().any(|(a, b, _)| a == s && b == code);
    assert!(w("WARNING", "22012"), "a WARNING 22012: {with_severity:?}");
    assert!(w("NOTICE", "00000"), "a NOTICE: {with_severity:?}");
    assert!(
        w("FATAL", "57P01"),
        "the idle FATAL 57P01: {with_severity:?}"
    );
    assert!(
        plain.iter().any(|(_, code, _)| code == "22012"),
        "the plain handler keeps the warning: {plain:?}"
    );
    assert!(
        !plain.iter().any(|(_, code, _)| code == "57P01"),
        "the idle FATAL is not a notice: {plain:?}"
    );
}
