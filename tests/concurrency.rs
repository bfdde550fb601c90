//! Concurrency of pgdblink's process-wide registry and per-connection locks:
//! a cancel from another thread interrupts a blocked get_result, a slow query
//! on one connection does not hold up calls on the others, and many threads
//! each on their own connection see only their own results.
//!
//! Only ordering is asserted (channels, barriers, flags), never timings.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, mpsc};
use std::thread;
use std::time::Duration;

use pgdblink::Status;
use support::{ServerExt, shared, unique_name};

fn connect(name: &str) {
    pgdblink::connect(Some(name), &shared().connstr())
        .unwrap_or_else(|e| panic!("connect {name}: {e:?}"));
}

/// Disconnects `name` when dropped (also when the test panics).
struct Disconnect(String);

impl Drop for Disconnect {
    fn drop(&mut self) {
        drop(pgdblink::disconnect(Some(&self.0)));
    }
}

/// A blocked reader: the flag it sets once get_result returned, and its
/// thread (which yields the result).
type Reader = (
    Arc<AtomicBool>,
    thread::JoinHandle<pgdblink::Result<pgdblink::DblinkResult>>,
);

/// The backend pid of connection `name`.
fn backend_pid(name: &str) -> i32 {
    pgdblink::dblink(Some(name), "select pg_backend_pid()", true)
        .expect("select pg_backend_pid()")
        .get(0, 0)
        .and_then(|p| p.parse().ok())
        .expect("an int4 pid")
}

/// Waits until backend `pid` is running `query`: a cancel that arrives
/// before the backend started the query would be lost.
fn wait_active(pid: i32, query: &str) {
    let mut oracle = shared().oracle();
    let sql = format!(
        "select count(*) from pg_stat_activity where pid = {pid} \
         and state = 'active' and query = '{query}'"
    );
    for _ in 0..2000 {
        if oracle.value(&sql).expect("pg_stat_activity").as_deref() == Some("1") {
            return;
        }
        thread::sleep(Duration::from_millis(5));
    }
    panic!("backend {pid} never started {query}");
}

/// Starts `select pg_sleep(30)` on `name` and a thread that blocks in
/// `get_result(name, false)`. Returns once the backend runs the query and
/// the thread has signalled that it is about to call get_result.
fn blocked_reader(name: &str) -> Reader {
    let pid = backend_pid(name);
    assert_eq!(
        pgdblink::send_query(Some(name), "select pg_sleep(30)"),
        Ok(true)
    );
    assert_eq!(pgdblink::is_busy(Some(name)), Ok(true));
    wait_active(pid, "select pg_sleep(30)");
    let returned = Arc::new(AtomicBool::new(false));
    let (about_to_get, started) = mpsc::channel();
    let reader = {
        let name = name.to_owned();
        let returned = Arc::clone(&returned);
        thread::spawn(move || {
            about_to_get
                .send(())
                .expect("the test waits for this signal");
            let res = pgdblink::get_result(Some(&name), false);
            returned.store(true, Ordering::SeqCst);
            res
        })
    };
    started
        .recv()
        .expect("the reader thread signals before get_result");
    (returned, reader)
}

/// The outcome a canceled `select pg_sleep(30)` must have.
fn assert_canceled(res: pgdblink::Result<pgdblink::DblinkResult>) {
    let res = res.expect("get_result(fail_on_error = false) reports the error in the result");
    assert_eq!(res.status(), Status::Error, "{res:?}");
    let err = res.error().expect("an Error result holds its error");
    assert_eq!(err.sqlstate, "57014", "{err:?}");
    assert_eq!(err.message, "canceling statement due to user request");
}

#[test]
fn cancel_from_another_thread_unblocks_get_result() {
    let name = unique_name("cc_cancel");
    connect(&name);
    let _cleanup = Disconnect(name.clone());

    let (returned, reader) = blocked_reader(&name);
    // pg_sleep(30) cannot have finished: nothing has released the reader.
    assert!(!returned.load(Ordering::SeqCst));
    // cancel_query does not need the connection lock the reader holds.
    assert_eq!(pgdblink::cancel_query(Some(&name)), Ok("OK".to_owned()));
    assert_canceled(reader.join().expect("the reader thread does not panic"));
    assert!(returned.load(Ordering::SeqCst));

    // The query is finished; the connection works again.
    assert_eq!(
        pgdblink::get_result(Some(&name), true).map(|r| r.status()),
        Ok(Status::Done)
    );
    assert_eq!(pgdblink::is_busy(Some(&name)), Ok(false));
    assert_eq!(
        pgdblink::send_query(Some(&name), "select 'again'"),
        Ok(true)
    );
    let res = pgdblink::get_result(Some(&name), true).expect("get_result");
    assert_eq!(res.rows(), vec![vec![Some("again".to_owned())]]);
    assert_eq!(
        pgdblink::get_result(Some(&name), true).map(|r| r.status()),
        Ok(Status::Done)
    );
}

#[test]
fn slow_query_on_one_connection_does_not_delay_others() {
    let a = unique_name("cc_slow_a");
    let b = unique_name("cc_slow_b");
    let c = unique_name("cc_slow_c");
    connect(&a);
    let _cleanup_a = Disconnect(a.clone());
    connect(&b);
    let _cleanup_b = Disconnect(b.clone());

    let (returned, reader) = blocked_reader(&a);

    // All of these complete while the reader of 'a' is still blocked.
    connect(&c);
    let cleanup_c = Disconnect(c.clone());
    assert_eq!(pgdblink::is_busy(Some(&b)), Ok(false));
    assert_eq!(pgdblink::send_query(Some(&b), "select 'b', 2"), Ok(true));
    let res = pgdblink::get_result(Some(&b), true).expect("get_result b");
    assert_eq!(
        res.rows(),
        vec![vec![Some("b".to_owned()), Some("2".to_owned())]]
    );
    assert_eq!(
        pgdblink::get_result(Some(&b), true).map(|r| r.status()),
        Ok(Status::Done)
    );
    assert_eq!(pgdblink::error_message(Some(&b)), Ok("OK".to_owned()));
    let names = pgdblink::get_connections().expect("a, b and c are open");
    for n in [&a, &b, &c] {
        assert!(names.contains(n), "{n} in {names:?}");
    }
    assert_eq!(pgdblink::disconnect(Some(&c)), Ok(()));
    std::mem::forget(cleanup_c);
    let names = pgdblink::get_connections().unwrap_or_default();
    assert!(!names.contains(&c), "{names:?}");
    assert!(
        !returned.load(Ordering::SeqCst),
        "the reader of 'a' must still be blocked in get_result"
    );

    assert_eq!(pgdblink::cancel_query(Some(&a)), Ok("OK".to_owned()));
    assert_canceled(reader.join().expect("the reader thread does not panic"));
    assert_eq!(
        pgdblink::get_result(Some(&a), true).map(|r| r.status()),
        Ok(Status::Done)
    );
}

#[test]
fn many_threads_each_on_own_connection_send_get_loops() {
    const THREADS: usize = 8;
    const ROUNDS: usize = 25;
    let barrier = Arc::new(Barrier::new(THREADS));
    let workers: Vec<_> = (0..THREADS)
        .map(|tid| {
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                let name = unique_name(&format!("cc_many_{tid}"));
                connect(&name);
                let _cleanup = Disconnect(name.clone());
                barrier.wait();
                for round in 0..ROUNDS {
                    // Two statements: the thread's tag, then a row count that
                    // depends on the thread and round.
                    let sql = format!(
                        "select {tid} as tid, {round} as round, '{name}' as name; \
                         select g from generate_series(1, {}) g",
                        tid + round
                    );
                    assert_eq!(pgdblink::send_query(Some(&name), &sql), Ok(true));
                    let first = pgdblink::get_result(Some(&name), true).expect("first result");
                    assert_eq!(first.status(), Status::Tuples);
                    assert_eq!(first.columns(), ["tid", "round", "name"]);
                    assert_eq!(
                        first.rows(),
                        vec![vec![
                            Some(tid.to_string()),
                            Some(round.to_string()),
                            Some(name.clone())
                        ]]
                    );
                    let second = pgdblink::get_result(Some(&name), true).expect("second result");
                    assert_eq!(second.status(), Status::Tuples);
                    let expected: Vec<_> = (1..=tid + round)
                        .map(|g| vec![Some(g.to_string())])
                        .collect();
                    assert_eq!(second.rows(), expected);
                    assert_eq!(
                        pgdblink::get_result(Some(&name), true).map(|r| r.status()),
                        Ok(Status::Done)
                    );
                    // Keep the connection idle for the next send.
                    assert_eq!(pgdblink::is_busy(Some(&name)), Ok(false));
                    assert_eq!(pgdblink::error_message(Some(&name)), Ok("OK".to_owned()));
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("a worker thread panicked");
    }
}

#[test]
fn cancel_each_of_many_blocked_readers_from_the_main_thread() {
    const READERS: usize = 4;
    let names: Vec<String> = (0..READERS)
        .map(|i| unique_name(&format!("cc_multi_{i}")))
        .collect();
    let _cleanup: Vec<Disconnect> = names
        .iter()
        .map(|n| {
            connect(n);
            Disconnect(n.clone())
        })
        .collect();
    let readers: Vec<_> = names.iter().map(|n| blocked_reader(n)).collect();
    // Cancel them one by one; each cancel releases exactly its own reader.
    for (i, (name, (returned, reader))) in names.iter().zip(readers).enumerate() {
        assert!(!returned.load(Ordering::SeqCst), "reader {i} still blocked");
        assert_eq!(pgdblink::cancel_query(Some(name)), Ok("OK".to_owned()));
        assert_canceled(reader.join().expect("the reader thread does not panic"));
        assert_eq!(
            pgdblink::get_result(Some(name), true).map(|r| r.status()),
            Ok(Status::Done)
        );
    }
}

#[test]
fn disconnect_waits_for_the_blocked_reader_of_the_same_connection() {
    let name = unique_name("cc_disc");
    connect(&name);
    let _cleanup = Disconnect(name.clone());
    let pid = backend_pid(&name);
    let (returned, reader) = blocked_reader(&name);
    let disconnecter = {
        let name = name.clone();
        let returned = Arc::clone(&returned);
        thread::spawn(move || {
            let r = pgdblink::disconnect(Some(&name));
            // The connection is only closed after its reader is done.
            (r, returned.load(Ordering::SeqCst))
        })
    };
    // Release the reader by canceling its backend from outside (the name
    // may already be unregistered, so not through cancel_query).
    let mut oracle = shared().oracle();
    oracle
        .value(&format!("select pg_cancel_backend({pid})"))
        .expect("pg_cancel_backend");
    let res = reader.join().expect("the reader thread does not panic");
    let (disconnected, reader_had_returned) =
        disconnecter.join().expect("the disconnecting thread");
    assert_eq!(disconnected, Ok(()));
    match res {
        // The reader locked the connection first: disconnect waited for it.
        Ok(r) => {
            assert_canceled(Ok(r));
            assert!(reader_had_returned, "disconnect returned before the reader");
        }
        // The disconnect came first: the reader found the connection closed.
        Err(e) => assert_eq!(e.sqlstate, "08003", "{e:?}"),
    }
    let e = pgdblink::is_busy(Some(&name)).expect_err("disconnected");
    assert_eq!(e.sqlstate, "08003");
}
