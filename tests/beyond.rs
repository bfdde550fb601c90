//! What pgdblink adds to dblink: waiting without polling, parameters,
//! streaming, bounded waits, parallel connects, reset.

mod support;

use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use pgdblink::Status;
use support::{shared, unique_name};

fn connect(prefix: &str) -> String {
    support::connect_new(prefix, &shared().connstr())
}

use support::drain_rows as drain;

fn cpu_time() -> Duration {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given; RUSAGE_THREAD is valid on Linux.
    let usage = unsafe {
        assert_eq!(libc::getrusage(libc::RUSAGE_THREAD, usage.as_mut_ptr()), 0);
        usage.assume_init()
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

#[test]
fn wait_any_returns_the_fast_connection_first_among_slow_ones() {
    let slow: Vec<String> = (0..3).map(|_| connect("slow")).collect();
    let fast = connect("fast");
    for name in &slow {
        assert!(pgdblink::send_query(Some(name), "select pg_sleep(3)").expect("send"));
    }
    assert!(pgdblink::send_query(Some(&fast), "select 'fast'").expect("send"));
    let mut names: Vec<&str> = slow.iter().map(String::as_str).collect();
    names.insert(1, &fast);
    let ready = pgdblink::wait_any(&names, None).expect("wait_any");
    assert_eq!(ready, vec![1], "only the fast connection is ready");
    assert_eq!(drain(&fast), vec![vec![Some("fast".to_owned())]]);
    for name in &slow {
        assert_eq!(pgdblink::cancel_query(Some(name)).expect("cancel"), "OK");
    }
    assert!(pgdblink::wait_all(&names, Some(Duration::from_secs(30))).expect("wait_all"));
    for name in slow.iter().chain([&fast]) {
        pgdblink::disconnect(Some(name)).expect("disconnect");
    }
}

#[test]
fn wait_any_times_out_with_nothing_ready() {
    let name = connect("timeout");
    assert!(pgdblink::send_query(Some(&name), "select pg_sleep(2)").expect("send"));
    let ready = pgdblink::wait_any(&[&name], Some(Duration::from_millis(100))).expect("wait_any");
    assert!(ready.is_empty());
    assert!(!pgdblink::wait_all(&[&name], Some(Duration::from_millis(50))).expect("wait_all"));
    assert_eq!(pgdblink::cancel_query(Some(&name)).expect("cancel"), "OK");
    let r = pgdblink::get_result(Some(&name), false).expect("get_result");
    assert_eq!(r.error().map(|e| e.sqlstate.as_str()), Some("57014"));
    pgdblink::disconnect(Some(&name)).expect("disconnect");
}

#[test]
fn wait_any_on_unknown_name_is_08003() {
    let err = pgdblink::wait_any(&["no_such_connection"], None).expect_err("unknown");
    assert_eq!(err.sqlstate, "08003");
    assert_eq!(
        err.message,
        "connection \"no_such_connection\" not available"
    );
}

#[test]
fn waiting_one_second_on_16_busy_connections_uses_little_cpu() {
    let names: Vec<String> = (0..16).map(|_| connect("cpu")).collect();
    for name in &names {
        assert!(pgdblink::send_query(Some(name), "select pg_sleep(5)").expect("send"));
    }
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let before = cpu_time();
    let ready = pgdblink::wait_any(&refs, Some(Duration::from_secs(1))).expect("wait_any");
    let used = cpu_time() - before;
    assert!(ready.is_empty());
    // Not a speed test: a busy loop would burn the whole second.
    assert!(
        used < Duration::from_millis(20),
        "waiting used {used:?} of CPU"
    );
    for name in &names {
        pgdblink::cancel_query(Some(name)).expect("cancel");
        pgdblink::disconnect(Some(name)).expect("disconnect");
    }
}

#[test]
fn socket_and_consume_input_drive_an_external_loop() {
    let name = connect("sock");
    let fd = pgdblink::socket(Some(&name)).expect("socket");
    assert!(fd >= 0);
    assert!(pgdblink::send_query(Some(&name), "select 7").expect("send"));
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    while pgdblink::is_busy(Some(&name)).expect("is_busy") {
        // SAFETY: one valid pollfd, as poll(2) expects.
        assert!(unsafe { libc::poll(&mut pfd, 1, 10_000) } >= 0);
        assert!(pgdblink::consume_input(Some(&name)).expect("consume_input"));
    }
    assert_eq!(drain(&name), vec![vec![Some("7".to_owned())]]);
    pgdblink::disconnect(Some(&name)).expect("disconnect");
}

#[test]
fn params_with_quotes_null_unicode_and_1mib_round_trip() {
    let name = connect("params");
    let big = "x'\"\\".repeat(256 * 1024);
    let values: Vec<Option<&str>> = vec![
        Some("it's a \"quote\"; drop table x; --"),
        None,
        Some("grüße, 世界, 🐘"),
        Some(&big),
    ];
    let sql = "select $1::text, $2::text, $3::text, $4::text, length($4::text)";
    assert!(pgdblink::send_query_params(Some(&name), sql, &values).expect("send"));
    let rows = drain(&name);
    let mut expected: Vec<Option<String>> = values.iter().map(|v| v.map(str::to_owned)).collect();
    expected.push(Some(big.chars().count().to_string()));
    assert_eq!(rows, vec![expected.clone()]);
    let r = pgdblink::dblink_params(Some(&name), sql, &values, true).expect("dblink_params");
    assert_eq!(r.rows(), vec![expected]);
    pgdblink::disconnect(Some(&name)).expect("disconnect");
}

#[test]
fn chunked_results_come_in_bounded_chunks_then_empty_then_done() {
    let name = connect("chunk");
    let sql = "select g from generate_series(1, 25) g";
    assert!(pgdblink::send_query_chunked(Some(&name), sql, 10).expect("send"));
    let mut sizes = Vec::new();
    let mut all = Vec::new();
    loop {
        let r = pgdblink::get_result(Some(&name), true).expect("get_result");
        if r.status() == Status::Done {
            break;
        }
        assert_eq!(r.status(), Status::Tuples);
        sizes.push(r.ntuples());
        all.extend(
            r.rows()
                .into_iter()
                .map(|row| row[0].clone().expect("not null")),
        );
    }
    // libpq 17+ streams chunks of up to 10 rows; an older system libpq falls
    // back to single-row mode (chunks of one).
    let expected_sizes = if pgdblink::libpq_version() >= 170000 {
        vec![10, 10, 5, 0]
    } else {
        [vec![1; 25], vec![0]].concat()
    };
    assert_eq!(
        sizes, expected_sizes,
        "chunks, then the empty end of the result set"
    );
    let expected: Vec<String> = (1..=25).map(|i| i.to_string()).collect();
    assert_eq!(all, expected);
    pgdblink::disconnect(Some(&name)).expect("disconnect");
}

#[test]
fn connect_all_opens_many_and_reports_each_failure() {
    let server = shared();
    let names: Vec<String> = (0..10).map(|_| unique_name("many")).collect();
    let dead = server.dead_port_connstr();
    let mut targets: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "")).collect();
    let good = server.tcp_connstr();
    for (i, t) in targets.iter_mut().enumerate() {
        t.1 = if i == 3 { &dead } else { &good };
    }
    let outcomes = pgdblink::connect_all(&targets, Some(Duration::from_secs(30)));
    for (i, outcome) in outcomes.iter().enumerate() {
        if i == 3 {
            let err = outcome.as_ref().expect_err("dead port");
            assert_eq!(err.sqlstate, "08001");
            assert_eq!(err.message, "could not establish connection");
            assert!(
                err.detail
                    .as_deref()
                    .is_some_and(|d| d.contains("Connection refused")),
                "{err:?}"
            );
        } else {
            outcome.as_ref().expect("connected");
            let r = pgdblink::dblink(Some(&names[i]), "select 1", true).expect("query");
            assert_eq!(r.get(0, 0), Some("1"));
            pgdblink::disconnect(Some(&names[i])).expect("disconnect");
        }
    }
}

#[test]
fn connect_timeout_is_honoured_by_a_server_that_never_answers() {
    let silent = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = silent.local_addr().expect("addr").port();
    let name = unique_name("silent");
    let connstr =
        format!("host=127.0.0.1 port={port} user=postgres dbname=postgres sslmode=disable");
    let err = pgdblink::connect_timeout(Some(&name), &connstr, Duration::from_millis(300))
        .expect_err("nobody answers");
    assert_eq!(err.sqlstate, "08001");
    assert_eq!(err.detail.as_deref(), Some("timed out after 300 ms"));
    let names = pgdblink::get_connections().unwrap_or_default();
    assert!(!names.contains(&name), "a failed connect registers nothing");
    drop(silent);
}

#[test]
fn cancel_against_a_server_that_is_not_answering_returns_within_its_timeout() {
    // A proxy in front of the real server; once frozen it stops reading, so
    // the cancel request (sent to the proxy's port) is never answered.
    let server = shared();
    let proxy = FreezingProxy::start(server.port());
    let name = unique_name("frozen");
    let connstr = format!(
        "host=127.0.0.1 port={} user=postgres dbname=postgres sslmode=disable",
        proxy.port()
    );
    pgdblink::connect(Some(&name), &connstr).expect("connect through proxy");
    proxy.freeze();
    let text =
        pgdblink::cancel_query_timeout(Some(&name), Duration::from_millis(500)).expect("cancel");
    assert_eq!(text, "cancel request timed out");
    pgdblink::disconnect(Some(&name)).expect("disconnect");
}

/// A TCP proxy to the test server that, once frozen, accepts connections
/// but never reads from or answers them.
struct FreezingProxy {
    port: u16,
    frozen: Arc<AtomicBool>,
}

impl FreezingProxy {
    fn start(upstream: u16) -> FreezingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let port = listener.local_addr().expect("proxy addr").port();
        let frozen = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&frozen);
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if flag.load(Ordering::SeqCst) {
                    held.push(client); // never read, never answered
                    continue;
                }
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                    continue;
                };
                pipe(&client, &server);
                pipe(&server, &client);
            }
        });
        FreezingProxy { port, frozen }
    }

    fn port(&self) -> u16 {
        self.port
    }

    fn freeze(&self) {
        self.frozen.store(true, Ordering::SeqCst);
    }
}

fn pipe(from: &TcpStream, to: &TcpStream) {
    let (mut from, mut to) = (
        from.try_clone().expect("clone"),
        to.try_clone().expect("clone"),
    );
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut from, &mut to);
        let _ = to.shutdown(std::net::Shutdown::Both);
    });
}

#[test]
fn get_result_timeout_leaves_the_query_running() {
    let name = connect("grt");
    assert!(
        pgdblink::send_query(Some(&name), "select pg_sleep(0.5)::text || 'done'").expect("send")
    );
    let err = pgdblink::get_result_timeout(Some(&name), true, Duration::from_millis(50))
        .expect_err("too soon");
    assert_eq!(err.sqlstate, "57014");
    assert!(
        err.message.starts_with("timed out after 50 ms"),
        "{}",
        err.message
    );
    assert_eq!(drain(&name), vec![vec![Some("done".to_owned())]]);
    pgdblink::disconnect(Some(&name)).expect("disconnect");
}

#[test]
fn reset_reconnects_a_connection_whose_backend_was_terminated() {
    let name = connect("reset");
    let pid = pgdblink::dblink(Some(&name), "select pg_backend_pid()", true).expect("pid");
    let pid = pid.get(0, 0).expect("pid").to_owned();
    shared()
        .psql("postgres", &format!("select pg_terminate_backend({pid})"))
        .expect("terminate");
    let err = pgdblink::exec(Some(&name), "select 1", true).expect_err("broken");
    assert_eq!(err.sqlstate, "08006", "{err:?}");
    pgdblink::reset(Some(&name)).expect("reset");
    let r = pgdblink::dblink(Some(&name), "select 1", true).expect("works again");
    assert_eq!(r.get(0, 0), Some("1"));
    pgdblink::disconnect(Some(&name)).expect("disconnect");
}

#[test]
fn server_notices_reach_the_server_notice_handler_with_the_connection_name() {
    type Seen = std::sync::Mutex<Vec<(Option<String>, pgdblink::Error)>>;
    let seen: Arc<Seen> = Arc::default();
    let sink = Arc::clone(&seen);
    pgdblink::set_server_notice_handler(Some(Arc::new(
        move |name: Option<&str>, e: &pgdblink::Error| {
            let mut v = sink
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            v.push((name.map(str::to_owned), e.clone()));
        },
    )));
    let name = connect("notices");
    let sql =
        "do $$ begin raise notice 'hello %', 1; raise warning 'careful' using hint = 'h'; end $$";
    assert_eq!(pgdblink::exec(Some(&name), sql, true).expect("exec"), "DO");
    pgdblink::set_server_notice_handler(None);
    let mine: Vec<pgdblink::Error> = seen
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .iter()
        .filter(|(n, _)| n.as_deref() == Some(name.as_str()))
        .map(|(_, e)| e.clone())
        .collect();
    let summary: Vec<(&str, &str, Option<&str>)> = mine
        .iter()
        .map(|e| (e.sqlstate.as_str(), e.message.as_str(), e.hint.as_deref()))
        .collect();
    assert_eq!(
        summary,
        vec![("00000", "hello 1", None), ("01000", "careful", Some("h"))]
    );
    pgdblink::disconnect(Some(&name)).expect("disconnect");
}

#[test]
fn connect_start_then_poll_opens_many_connections_at_once() {
    use pgdblink::ConnectProgress;
    let names: Vec<String> = (0..8).map(|_| unique_name("start")).collect();
    for name in &names {
        pgdblink::connect_start(Some(name), &shared().tcp_connstr()).expect("connect_start");
    }
    let err = pgdblink::is_busy(Some(&names[0])).expect_err("still connecting");
    assert!(err.message.contains("still connecting"), "{err:?}");
    let mut progress: Vec<ConnectProgress> = vec![ConnectProgress::Writing(-1); names.len()];
    while progress.iter().any(|p| *p != ConnectProgress::Ready) {
        for (i, name) in names.iter().enumerate() {
            if progress[i] != ConnectProgress::Ready {
                progress[i] = pgdblink::connect_poll(Some(name)).expect("connect_poll");
            }
        }
        let mut fds: Vec<libc::pollfd> = progress
            .iter()
            .filter_map(|p| match *p {
                ConnectProgress::Reading(fd) => Some((fd, libc::POLLIN)),
                ConnectProgress::Writing(fd) => Some((fd, libc::POLLOUT)),
                _ => None, // Ready
            })
            .map(|(fd, events)| libc::pollfd {
                fd,
                events,
                revents: 0,
            })
            .collect();
        if !fds.is_empty() {
            // SAFETY: a valid array of pollfd of the given length.
            assert!(unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 10_000) } > 0);
        }
    }
    for name in &names {
        let r = pgdblink::dblink(Some(name), "select 1", true).expect("usable");
        assert_eq!(r.get(0, 0), Some("1"));
        pgdblink::disconnect(Some(name)).expect("disconnect");
    }
}

/// The status of each result `get_result` returns (dblink shows only rows;
/// pgdblink says which result it is): moved here from the old
/// `tests/async_diff.rs`, whose dblink comparisons are now scenario files
/// (`tests/scenarios/async_*.sql`).
#[test]
fn get_result_status_tells_results_from_the_end() {
    let a = connect("status");
    let status = |fail: bool| {
        pgdblink::get_result(Some(&a), fail)
            .expect("get_result")
            .status()
    };
    // Nothing sent: the end at once.
    assert_eq!(status(true), Status::Done);
    // A zero-row SELECT: a result with no rows (not the end), then the end.
    assert_eq!(
        pgdblink::send_query(Some(&a), "select 1 where false"),
        Ok(true)
    );
    assert_eq!(status(true), Status::Tuples, "zero rows, not the end");
    assert_eq!(status(true), Status::Done);
    // Two commands: Command, Command, the end.
    assert_eq!(
        pgdblink::send_query(
            Some(&a),
            "create temp table s1(x int); create temp table s2(x int)"
        ),
        Ok(true)
    );
    assert_eq!(status(true), Status::Command);
    assert_eq!(status(true), Status::Command);
    assert_eq!(status(true), Status::Done);
    // A remote error read with fail_on_error false: Error, then the end.
    assert_eq!(pgdblink::send_query(Some(&a), "select 1/0"), Ok(true));
    assert_eq!(status(false), Status::Error);
    assert_eq!(status(false), Status::Done);
    pgdblink::disconnect(Some(&a)).expect("disconnect");
}
