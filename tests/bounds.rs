//! Issue 10: every wait is bounded or wakeable.
//!
//! Timed calls return within their bound while another thread holds the
//! connection; disconnect / disconnect_all / reset wake the threads waiting
//! on a connection; connects never block on a peer that stalls after the
//! startup exchange; a timed-out cancel is abandoned; exit is prompt.
//!
//! Every call that might hang runs on its own thread, watched with a
//! deadline: a test fails with a message instead of hanging (the stuck
//! thread is left behind; the harness still exits). Bounds are generous
//! (a 200 ms timeout must return within 2 s), never tight.
//!
//! The tests that count this process's descriptors, or disconnect every
//! connection, run alone ([`alone`]); the others share ([`shared_run`]).

mod support;

use std::collections::BTreeMap;
use std::os::raw::c_int;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::thread;
use std::time::{Duration, Instant};

use pgdblink::{ConnectProgress, Status};
use support::proxy::{Dir, Plan, Proxy, What, When};
use support::{shared, unique_name};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// How long a thread that is about to block is given to get there.
const SETTLE: Duration = Duration::from_millis(300);

// ---------------------------------------------------------------------------
// Running alone or together
// ---------------------------------------------------------------------------

static EXCLUSIVE: RwLock<()> = RwLock::new(());

/// For a test that may run beside others.
fn shared_run() -> RwLockReadGuard<'static, ()> {
    EXCLUSIVE.read().unwrap_or_else(PoisonError::into_inner)
}

/// For a test that counts descriptors or disconnects everything.
fn alone() -> RwLockWriteGuard<'static, ()> {
    EXCLUSIVE.write().unwrap_or_else(PoisonError::into_inner)
}

// ---------------------------------------------------------------------------
// Watched calls
// ---------------------------------------------------------------------------

/// A call running on its own thread.
struct Call<T> {
    what: String,
    started: Instant,
    /// The value and when the call returned.
    rx: mpsc::Receiver<(T, Instant)>,
    value: Option<(T, Instant)>,
}

/// Starts `f` on its own thread.
fn spawn_call<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> Call<T> {
    let (tx, rx) = mpsc::channel();
    let started = Instant::now();
    thread::Builder::new()
        .name(what.chars().take(15).collect())
        .spawn(move || {
            let value = f();
            // The receiver is gone only when the test already failed.
            let _ = tx.send((value, Instant::now()));
        })
        .expect("spawn a thread for a watched call");
    Call {
        what: what.to_owned(),
        started,
        rx,
        value: None,
    }
}

impl<T> Call<T> {
    /// Whether the call has returned.
    fn finished(&mut self) -> bool {
        if self.value.is_none() {
            self.value = self.rx.try_recv().ok();
        }
        self.value.is_some()
    }

    /// Its value, if it returns within `limit` of `since`, with the time it
    /// took from `since`; fails the test (saying `why`) otherwise.
    fn within_since(mut self, since: Instant, limit: Duration, why: &str) -> (T, Duration) {
        let returned = match self.value.take() {
            Some(v) => Ok(v),
            None => self
                .rx
                .recv_timeout((since + limit).saturating_duration_since(Instant::now())),
        };
        match returned {
            Ok((v, at)) => {
                let took = at.saturating_duration_since(since);
                assert!(
                    took <= limit,
                    "{} returned only after {took:?} (bound {limit:?}): {why}",
                    self.what
                );
                (v, took)
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                panic!("{} has not returned after {limit:?}: {why}", self.what)
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => panic!("{} panicked", self.what),
        }
    }

    /// [`within_since`](Self::within_since) the call's start.
    fn within(self, limit: Duration, why: &str) -> (T, Duration) {
        let since = self.started;
        self.within_since(since, limit, why)
    }
}

/// Runs `f` on its own thread; its value and time, if it returns within
/// `limit` (else the test fails, saying `why`).
fn bounded<T: Send + 'static>(
    what: &str,
    limit: Duration,
    why: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> (T, Duration) {
    spawn_call(what, f).within(limit, why)
}

// ---------------------------------------------------------------------------
// Connections
// ---------------------------------------------------------------------------

/// A connection string to the shared server (unix socket when private).
fn direct() -> String {
    shared().connstr()
}

/// A connection string to the shared server through `proxy`.
fn via(proxy: &Proxy) -> String {
    proxy.connstr(&shared().tcp_connstr())
}

/// A proxy to the shared server.
fn proxy() -> Proxy {
    Proxy::start(shared().port())
}

use support::{connect_new as connect, drain_rows as drain};

/// The outcome of a get_result, as the test compares it.
type Got = Result<Status, pgdblink::Error>;

/// Sends `sql` on `name`, then starts a thread in get_result(name) and
/// gives it time to block there.
fn reader_in_get_result(name: &str, sql: &str) -> Call<Got> {
    assert!(pgdblink::send_query(Some(name), sql).expect("send_query"));
    let n = name.to_owned();
    let (tx, rx) = mpsc::channel();
    let call = spawn_call("get_result", move || {
        let _ = tx.send(());
        pgdblink::get_result(Some(&n), true).map(|r| r.status())
    });
    rx.recv().expect("the reader started");
    thread::sleep(SETTLE);
    call
}

fn is_08003(e: &pgdblink::Error) -> bool {
    e.sqlstate == "08003"
}

// ---------------------------------------------------------------------------
// Descriptors
// ---------------------------------------------------------------------------

/// The open descriptors of this process and what they point to.
struct Fds(BTreeMap<String, String>);

impl Fds {
    fn now() -> Fds {
        let dir = std::fs::read_dir("/proc/self/fd").expect("list /proc/self/fd");
        Fds(dir
            .filter_map(Result::ok)
            .filter_map(|e| {
                let target = std::fs::read_link(e.path()).ok()?.display().to_string();
                // The directory being listed is itself an open descriptor.
                (!target.starts_with("/proc"))
                    .then(|| (e.file_name().to_string_lossy().into_owned(), target))
            })
            .collect())
    }

    /// The descriptors open now that were not at `self`.
    fn new_since(&self) -> Vec<String> {
        Fds::now()
            .0
            .into_iter()
            .filter(|(fd, target)| self.0.get(fd) != Some(target))
            .map(|(fd, target)| format!("{fd} -> {target}"))
            .collect()
    }

    /// Fails unless, within 2 s, every descriptor opened since `self` is
    /// closed again (the count is back).
    fn assert_back(&self, scenario: &str) {
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            let new = self.new_since();
            if new.is_empty() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{scenario}: descriptors still open (before: {}, now: {}): {new:?}",
                self.0.len(),
                Fds::now().0.len()
            );
            thread::sleep(ms(50));
        }
    }
}

/// The descriptors open before a scenario, after a warm-up (the shared
/// server started, one connection used and closed), so that what the
/// process or the library opens once is not counted as the scenario's.
fn fds_before() -> Fds {
    static WARM: std::sync::Once = std::sync::Once::new();
    WARM.call_once(|| {
        let w = connect("warm", &direct());
        assert!(pgdblink::send_query(Some(&w), "select 1").expect("send"));
        assert_eq!(pgdblink::wait_any(&[&w], None), Ok(vec![0]));
        drain(&w);
        assert_eq!(pgdblink::cancel_query(Some(&w)).expect("cancel"), "OK");
        pgdblink::disconnect(Some(&w)).expect("disconnect");
    });
    Fds::now()
}

/// What descriptor `fd` of this process points to (e.g. `socket:[123]`).
fn fd_target(fd: c_int) -> String {
    std::fs::read_link(format!("/proc/self/fd/{fd}"))
        .expect("read a descriptor's link")
        .display()
        .to_string()
}

/// The socket of connection `name` (as `socket:[inode]`).
fn library_socket(name: &str) -> String {
    let fd = pgdblink::socket(Some(name)).expect("socket");
    assert!(fd >= 0, "{name} has a socket");
    fd_target(fd)
}

/// Fails if some descriptor of this process still points to `socket`.
fn assert_socket_closed(socket: &str, scenario: &str) {
    let open: Vec<String> = Fds::now()
        .0
        .into_iter()
        .filter(|(_, t)| t == socket)
        .map(|(fd, _)| fd)
        .collect();
    assert!(
        open.is_empty(),
        "{scenario}: the library's socket {socket} is still open as descriptor(s) {open:?}"
    );
}

/// Waits up to `limit` for `fd` to be ready for reading or writing.
fn wait_fd(fd: c_int, write: bool, limit: Duration) {
    let mut p = libc::pollfd {
        fd,
        events: if write { libc::POLLOUT } else { libc::POLLIN },
        revents: 0,
    };
    let timeout = c_int::try_from(limit.as_millis()).unwrap_or(c_int::MAX);
    // SAFETY: `p` is one initialized pollfd, exclusively borrowed for the
    // call; poll only writes its revents. A stale descriptor is reported in
    // revents, never dereferenced.
    unsafe { libc::poll(&mut p, 1, timeout) };
}

// ---------------------------------------------------------------------------
// The proxy itself
// ---------------------------------------------------------------------------

/// The proxy does what the tests rely on, against a fake server: stall
/// after the startup exchange / after N bytes, hold and resume, drop what a
/// client that hung up sent while held, cut, count connections.
#[test]
fn proxy_self_check() {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};

    let _run = shared_run();
    let upstream = TcpListener::bind("127.0.0.1:0").expect("bind a fake server");
    let p = Proxy::start(upstream.local_addr().expect("addr").port());
    let open = || {
        let c = TcpStream::connect(("127.0.0.1", p.port())).expect("connect to the proxy");
        c.set_read_timeout(Some(ms(300))).expect("read timeout");
        let (s, _) = upstream.accept().expect("the proxy connects upstream");
        s.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("read timeout");
        (c, s)
    };
    // Reads what arrives within the read timeout.
    let read_all = |from: &mut TcpStream| {
        let (mut got, mut buf) = (Vec::new(), [0u8; 4096]);
        while let Ok(n @ 1..) = from.read(&mut buf) {
            got.extend_from_slice(&buf[..n]);
        }
        got
    };

    // Stall after the startup exchange: exactly up to the end of the first 'Z'.
    p.on_new(Some(Plan::new(When::AfterStartup, What::Stall(Dir::Both))));
    let (mut c, mut s) = open();
    let startup = [&b"R\0\0\0\x08\0\0\0\0"[..], b"Z\0\0\0\x05I"].concat();
    s.write_all(&[&startup[..], b"D\0\0\0\x04"].concat())
        .expect("write");
    assert_eq!(read_all(&mut c), startup, "relayed up to ReadyForQuery");
    assert_eq!(p.stalled(0), (true, true));
    p.resume(0);
    assert_eq!(
        read_all(&mut c),
        b"D\0\0\0\x04",
        "the held bytes after resume"
    );

    // Stall after N bytes server->client, then resume.
    p.on_new(None);
    let (mut c, mut s) = open();
    p.arm(
        1,
        Plan::new(When::AfterServerBytes(10), What::Stall(Dir::ToClient)),
    );
    s.write_all(&[7u8; 100]).expect("write");
    assert_eq!(read_all(&mut c).len(), 10);
    p.resume(1);
    assert_eq!(read_all(&mut c).len(), 90);

    // Never answer: held while stalled; delivered on resume while the client
    // is there, dropped (and cut) if it hung up meanwhile.
    p.on_new(Some(Plan::never_answer()));
    let (mut c, mut s) = open();
    c.write_all(b"kept").expect("write");
    let (mut gone, mut s_gone) = open();
    gone.write_all(b"lost").expect("write");
    drop(gone);
    thread::sleep(ms(100));
    s.set_read_timeout(Some(ms(300))).expect("read timeout");
    assert_eq!(read_all(&mut s), b"", "nothing while held");
    p.resume_all();
    assert_eq!(read_all(&mut s), b"kept");
    assert_eq!(
        s_gone.read(&mut [0u8; 16]).ok(),
        Some(0),
        "cut, nothing delivered"
    );
    c.write_all(b"!").expect("write");
    assert_eq!(read_all(&mut s), b"!", "relays after resume");

    // Cut after N bytes client->server.
    p.on_new(None);
    let (mut c, mut s) = open();
    p.arm(4, Plan::new(When::AfterClientBytes(5), What::Cut));
    c.write_all(b"0123456789").expect("write");
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    assert_eq!(got, b"01234");
    assert_eq!(p.accepted(), 5);
}

// ---------------------------------------------------------------------------
// Timeouts while another thread holds the connection
// ---------------------------------------------------------------------------

/// get_result_timeout(a, 200 ms) while another thread is in get_result(a)
/// on pg_sleep(5): 57014 `timed out after 200 ms ...` in < 2 s, before the
/// other thread returns.
#[test]
fn get_result_timeout_is_bounded_while_another_thread_reads() {
    let _run = shared_run();
    let a = connect("grt_held", &direct());
    let mut reader = reader_in_get_result(&a, "select pg_sleep(5)");
    let (got, took) = bounded(
        "get_result_timeout",
        Duration::from_secs(2),
        "its 200 ms bound must include waiting for the thread holding the connection",
        {
            let a = a.clone();
            move || pgdblink::get_result_timeout(Some(&a), true, ms(200)).map(|r| r.status())
        },
    );
    let err = got.expect_err("get_result_timeout timed out");
    assert_eq!(err.sqlstate, "57014", "{err:?}");
    assert!(
        err.message.starts_with("timed out after 200 ms"),
        "{}",
        err.message
    );
    assert!(
        !reader.finished(),
        "returned ({took:?}) while the reader still waits"
    );
    assert_eq!(pgdblink::cancel_query(Some(&a)).expect("cancel"), "OK");
    let (r, _) = reader.within(Duration::from_secs(10), "the canceled reader returns");
    assert_eq!(r.expect_err("canceled").sqlstate, "57014");
    assert_eq!(drain(&a), Vec::<Vec<Option<String>>>::new());
    pgdblink::disconnect(Some(&a)).expect("disconnect");
}

/// wait_any(&[a], 200 ms) while another thread is in get_result(a) on
/// pg_sleep(5): the empty vector in < 2 s.
#[test]
fn wait_any_timeout_is_bounded_while_another_thread_reads() {
    let _run = shared_run();
    let a = connect("wany_held", &direct());
    let mut reader = reader_in_get_result(&a, "select pg_sleep(5)");
    let (got, took) = bounded(
        "wait_any",
        Duration::from_secs(2),
        "its 200 ms bound must include waiting for the thread holding the connection",
        {
            let a = a.clone();
            move || pgdblink::wait_any(&[&a], Some(ms(200)))
        },
    );
    assert_eq!(got, Ok(vec![]), "nothing is ready");
    assert!(
        !reader.finished(),
        "returned ({took:?}) while the reader still waits"
    );
    assert_eq!(pgdblink::cancel_query(Some(&a)).expect("cancel"), "OK");
    let _ = reader.within(Duration::from_secs(10), "the canceled reader returns");
    pgdblink::disconnect(Some(&a)).expect("disconnect");
}

/// wait_all(&[a], 200 ms) likewise: false in < 2 s.
#[test]
fn wait_all_timeout_is_bounded_while_another_thread_reads() {
    let _run = shared_run();
    let a = connect("wall_held", &direct());
    let mut reader = reader_in_get_result(&a, "select pg_sleep(5)");
    let (got, took) = bounded(
        "wait_all",
        Duration::from_secs(2),
        "its 200 ms bound must include waiting for the thread holding the connection",
        {
            let a = a.clone();
            move || pgdblink::wait_all(&[&a], Some(ms(200)))
        },
    );
    assert_eq!(got, Ok(false), "not all ready");
    assert!(
        !reader.finished(),
        "returned ({took:?}) while the reader still waits"
    );
    assert_eq!(pgdblink::cancel_query(Some(&a)).expect("cancel"), "OK");
    let _ = reader.within(Duration::from_secs(10), "the canceled reader returns");
    pgdblink::disconnect(Some(&a)).expect("disconnect");
}

/// cancel_query_timeout(a, 200 ms) while another thread's cancel_query on a
/// is stuck (the proxy never answers the cancel's own connection):
/// `cancel request timed out` in < 2 s, while the other is still stuck.
#[test]
fn cancel_query_timeout_is_bounded_while_another_cancel_is_stuck() {
    let _run = shared_run();
    let proxy = proxy();
    let a = connect("cancel_held", &via(&proxy));
    proxy.on_new(Some(Plan::never_answer()));
    let mut stuck = spawn_call("cancel_query", {
        let a = a.clone();
        move || pgdblink::cancel_query(Some(&a))
    });
    assert!(
        proxy.wait_accepted(2, Duration::from_secs(5)),
        "the first cancel request reached the proxy"
    );
    thread::sleep(SETTLE);
    let (got, took) = bounded(
        "cancel_query_timeout",
        Duration::from_secs(2),
        "its 200 ms bound must include waiting for the other cancel in flight",
        {
            let a = a.clone();
            move || pgdblink::cancel_query_timeout(Some(&a), ms(200))
        },
    );
    assert_eq!(got, Ok("cancel request timed out".to_owned()));
    assert!(
        !stuck.finished(),
        "returned ({took:?}) while the first cancel is stuck"
    );
    drop(proxy); // cuts the stuck cancel's connection (and a's)
    let _ = stuck.within_since(Instant::now(), Duration::from_secs(5), "the proxy cut it");
    pgdblink::disconnect(Some(&a)).expect("disconnect");
}

// ---------------------------------------------------------------------------
// Connecting to a peer that stalls after the startup exchange, or never answers
// ---------------------------------------------------------------------------

/// A proxy whose connections stall (both ways) once the server's first
/// ReadyForQuery has been relayed.
fn stalling_after_startup() -> Proxy {
    let p = proxy();
    p.on_new(Some(Plan::new(When::AfterStartup, What::Stall(Dir::Both))));
    p
}

/// A connect outcome is acceptable: connected, or 08001.
fn assert_connected_or_08001(name: &str, got: pgdblink::Result<()>, what: &str) {
    match got {
        Ok(()) => {
            bounded("disconnect", Duration::from_secs(5), "cleanup", {
                let name = name.to_owned();
                move || pgdblink::disconnect(Some(&name))
            })
            .0
            .expect("disconnect");
        }
        Err(e) => assert_eq!(
            (e.sqlstate.as_str(), e.message.as_str()),
            ("08001", "could not establish connection"),
            "{what}: {e:?}"
        ),
    }
}

/// Fails unless the proxy's first connection stalled after its startup
/// exchange (the scenario really happened).
fn assert_stalled_after_startup(proxy: &Proxy) {
    assert!(
        proxy.wait_stalled(0, Duration::from_secs(5)),
        "the proxy never saw the startup exchange end"
    );
}

/// connect_timeout(x, 1000 ms) through a peer stalled after the startup
/// exchange: returns (Ok or 08001) in < 5 s.
#[test]
fn connect_timeout_through_a_peer_stalled_after_startup() {
    let _run = shared_run();
    let proxy = stalling_after_startup();
    let x = unique_name("stall_ct");
    let call = spawn_call("connect_timeout", {
        let (x, cs) = (x.clone(), via(&proxy));
        move || pgdblink::connect_timeout(Some(&x), &cs, ms(1000))
    });
    assert_stalled_after_startup(&proxy);
    let (got, _) = call.within(
        Duration::from_secs(5),
        "a 1000 ms connect blocks on a peer stalled after ReadyForQuery",
    );
    assert_connected_or_08001(&x, got, "connect_timeout");
}

/// connect_all(Some(1000 ms)) likewise.
#[test]
fn connect_all_timeout_through_a_peer_stalled_after_startup() {
    let _run = shared_run();
    let proxy = stalling_after_startup();
    let x = unique_name("stall_ca");
    let call = spawn_call("connect_all", {
        let (x, cs) = (x.clone(), via(&proxy));
        move || pgdblink::connect_all(&[(x.as_str(), cs.as_str())], Some(ms(1000)))
    });
    assert_stalled_after_startup(&proxy);
    let (mut got, _) = call.within(
        Duration::from_secs(5),
        "a 1000 ms connect_all blocks on a peer stalled after ReadyForQuery",
    );
    assert_eq!(got.len(), 1);
    assert_connected_or_08001(&x, got.remove(0), "connect_all");
}

/// connect() with connect_timeout=2 in the connstr likewise.
#[test]
fn connect_with_connstr_timeout_through_a_peer_stalled_after_startup() {
    let _run = shared_run();
    let proxy = stalling_after_startup();
    let x = unique_name("stall_c");
    let call = spawn_call("connect", {
        let (x, cs) = (x.clone(), format!("{} connect_timeout=2", via(&proxy)));
        move || pgdblink::connect(Some(&x), &cs)
    });
    assert_stalled_after_startup(&proxy);
    let (got, _) = call.within(
        Duration::from_secs(5),
        "connect (connect_timeout=2) blocks on a peer stalled after ReadyForQuery",
    );
    assert_connected_or_08001(&x, got, "connect");
}

/// How a connect_poll loop is doing, for the watchdog's message.
#[derive(Default)]
struct PollLog {
    calls: usize,
    longest: Duration,
    current: Option<Instant>,
}

/// A connect_start/connect_poll loop through a peer stalled after the
/// startup exchange: ends (Ready or 08001) in < 5 s; no connect_poll call
/// takes more than 1 s.
#[test]
fn connect_poll_never_blocks_on_a_peer_stalled_after_startup() {
    let _run = shared_run();
    let proxy = stalling_after_startup();
    let x = unique_name("stall_cp");
    let log: Arc<Mutex<PollLog>> = Arc::default();
    let call = spawn_call("connect_poll loop", {
        let (x, cs, log) = (x.clone(), via(&proxy), Arc::clone(&log));
        move || -> pgdblink::Result<bool> {
            pgdblink::connect_start(Some(&x), &cs)?;
            let deadline = Instant::now() + Duration::from_secs(4);
            loop {
                let started = Instant::now();
                log.lock().unwrap_or_else(PoisonError::into_inner).current = Some(started);
                let step = pgdblink::connect_poll(Some(&x));
                let took = started.elapsed();
                {
                    let mut l = log.lock().unwrap_or_else(PoisonError::into_inner);
                    l.calls += 1;
                    l.longest = l.longest.max(took);
                    l.current = None;
                }
                let (fd, write) = match step? {
                    ConnectProgress::Reading(fd) => (fd, false),
                    ConnectProgress::Writing(fd) => (fd, true),
                    _ => return Ok(true), // Ready
                };
                if Instant::now() >= deadline {
                    return Ok(false);
                }
                wait_fd(fd, write, ms(100));
            }
        }
    });
    assert_stalled_after_startup(&proxy);
    let why = {
        let log = Arc::clone(&log);
        move || {
            let l = log.lock().unwrap_or_else(PoisonError::into_inner);
            format!(
                "a connect_poll call blocks (running for {:?}, after {} calls, longest {:?})",
                l.current.map(|c| c.elapsed()),
                l.calls,
                l.longest
            )
        }
    };
    let limit = Duration::from_secs(5);
    let (got, _) = call.rx.recv_timeout(limit).unwrap_or_else(|e| match e {
        mpsc::RecvTimeoutError::Timeout => {
            panic!(
                "the connect_poll loop has not ended after {limit:?}: {}",
                why()
            )
        }
        mpsc::RecvTimeoutError::Disconnected => panic!("the connect_poll loop panicked"),
    });
    let longest = log.lock().unwrap_or_else(PoisonError::into_inner).longest;
    assert!(
        longest < Duration::from_secs(1),
        "a connect_poll call took {longest:?}"
    );
    match got {
        Ok(true) => pgdblink::disconnect(Some(&x)).expect("disconnect"),
        Ok(false) => panic!("still connecting after 4 s: {}", why()),
        Err(e) => assert_eq!(e.sqlstate, "08001", "{e:?}"),
    }
}

/// connect_all(None) through a peer that never answers, connect_timeout=2
/// in the connstr: 08001 in < 4 s.
#[test]
fn connect_all_without_timeout_honours_the_connstr_timeout() {
    let _run = shared_run();
    let proxy = proxy();
    proxy.on_new(Some(Plan::never_answer()));
    let x = unique_name("silent_ca");
    let (mut got, took) = bounded(
        "connect_all(None)",
        Duration::from_secs(4),
        "connect_all(None) must honour the connstr's connect_timeout=2",
        {
            let (x, cs) = (x.clone(), format!("{} connect_timeout=2", via(&proxy)));
            move || pgdblink::connect_all(&[(x.as_str(), cs.as_str())], None)
        },
    );
    let err = got.remove(0).expect_err("nothing answers");
    assert_eq!(err.sqlstate, "08001", "{err:?} after {took:?}");
}

/// connect_timeout(x, 5000 ms) through a peer that never answers,
/// connect_timeout=2 in the connstr: the smaller bound wins, 08001 in < 4 s.
#[test]
fn connect_timeout_and_the_connstr_timeout_the_smaller_wins() {
    let _run = shared_run();
    let proxy = proxy();
    proxy.on_new(Some(Plan::never_answer()));
    let x = unique_name("silent_ct");
    let call = spawn_call("connect_timeout(5000 ms)", {
        let (x, cs) = (x.clone(), format!("{} connect_timeout=2", via(&proxy)));
        move || pgdblink::connect_timeout(Some(&x), &cs, ms(5000))
    });
    // Waits past 4 s, so that a late return shows how late.
    let (got, took) = call.within(Duration::from_secs(7), "hangs");
    assert!(
        took < Duration::from_secs(4),
        "returned after {took:?}: the connstr's connect_timeout=2 must win over 5000 ms ({got:?})"
    );
    let err = got.expect_err("nothing answers");
    assert_eq!(err.sqlstate, "08001", "{err:?}");
}

// ---------------------------------------------------------------------------
// disconnect / disconnect_all / reset wake the threads waiting on a connection
// ---------------------------------------------------------------------------

/// Runs `close` (a disconnect, disconnect_all or reset of `a`) on another
/// thread while `waiter` waits on a: close returns in < 2 s, then the
/// waiter in < 2 s; the waiter's outcome is returned. a's `socket` (see
/// [`library_socket`], taken before the waiter started) must be closed when
/// close returns (`closed_on_return`: disconnect promises it), or else once
/// the waiter has returned too (reset).
fn close_while_waiting<T: Send + 'static>(
    socket: &str,
    what: &str,
    closed_on_return: bool,
    waiter: Call<T>,
    close: impl FnOnce() -> pgdblink::Result<()> + Send + 'static,
) -> (pgdblink::Result<()>, T) {
    let closed = Instant::now();
    let (outcome, _) = bounded(
        what,
        Duration::from_secs(2),
        "it waits for the thread blocked on the connection",
        close,
    );
    if closed_on_return {
        assert_socket_closed(socket, &format!("when {what} returned"));
    }
    let why = format!("{what} does not wake it");
    let (got, _) = waiter.within_since(closed, Duration::from_secs(2), &why);
    assert_socket_closed(socket, &format!("after {what} and the waiter returned"));
    (outcome, got)
}

fn assert_reader_got_08003(got: &Got) {
    match got {
        Err(e) if is_08003(e) => {}
        other => panic!("the woken reader got {other:?}, not 08003"),
    }
}

/// disconnect(a) from another thread while a thread is in get_result(a) on
/// pg_sleep(20): disconnect in < 2 s, the reader Err 08003 in < 2 s, the
/// socket closed when disconnect returns, the descriptors back.
#[test]
fn disconnect_wakes_a_reader_in_pg_sleep() {
    let _run = alone();
    let before = fds_before();
    let a = connect("disc_sleep", &direct());
    let socket = library_socket(&a);
    let reader = reader_in_get_result(&a, "select pg_sleep(20)");
    let (done, got) = close_while_waiting(&socket, "disconnect", true, reader, {
        let a = a.clone();
        move || pgdblink::disconnect(Some(&a))
    });
    done.expect("disconnect");
    assert_reader_got_08003(&got);
    before.assert_back("after disconnect");
}

/// The same with a stalled peer (the proxy stalls mid-result).
#[test]
fn disconnect_wakes_a_reader_on_a_stalled_peer() {
    let _run = alone();
    let before = fds_before();
    let proxy = proxy();
    let a = connect("disc_stall", &via(&proxy));
    let socket = library_socket(&a);
    proxy.arm(
        0,
        Plan::new(When::AfterServerBytes(64 << 10), What::Stall(Dir::ToClient)),
    );
    let reader = reader_in_get_result(&a, "select repeat('x', 4 << 20)");
    assert!(
        proxy.wait_stalled(0, Duration::from_secs(5)),
        "the result stalled mid-way"
    );
    let (done, got) = close_while_waiting(&socket, "disconnect", true, reader, {
        let a = a.clone();
        move || pgdblink::disconnect(Some(&a))
    });
    done.expect("disconnect");
    assert_reader_got_08003(&got);
    drop(proxy);
    before.assert_back("after disconnect and the proxy's end");
}

/// disconnect_all() while a thread is in get_result(a) on pg_sleep(20).
#[test]
fn disconnect_all_wakes_a_reader() {
    let _run = alone();
    let before = fds_before();
    let a = connect("disc_all", &direct());
    let socket = library_socket(&a);
    let reader = reader_in_get_result(&a, "select pg_sleep(20)");
    let (done, got) = close_while_waiting(&socket, "disconnect_all", true, reader, || {
        pgdblink::disconnect_all();
        Ok(())
    });
    done.expect("disconnect_all");
    assert_reader_got_08003(&got);
    before.assert_back("after disconnect_all");
}

/// reset(a) while a thread is in get_result(a) on pg_sleep(20): reset in
/// < 2 s, the reader an 08xxx error in < 2 s, the old socket closed; the
/// connection works afterwards.
#[test]
fn reset_wakes_a_reader() {
    let _run = alone();
    let before = fds_before();
    let a = connect("reset_wake", &direct());
    let socket = library_socket(&a);
    let reader = reader_in_get_result(&a, "select pg_sleep(20)");
    let (done, got) = close_while_waiting(&socket, "reset", false, reader, {
        let a = a.clone();
        move || pgdblink::reset(Some(&a))
    });
    done.expect("reset");
    match &got {
        Err(e) if e.sqlstate.starts_with("08") => {}
        other => panic!("the woken reader got {other:?}, not an 08xxx error"),
    }
    let r = pgdblink::dblink(Some(&a), "select 1", true).expect("works after reset");
    assert_eq!(r.get(0, 0), Some("1"));
    pgdblink::disconnect(Some(&a)).expect("disconnect");
    before.assert_back("after reset and disconnect");
}

/// disconnect(a) while a thread is in wait_any(&[a], None): it returns in
/// < 2 s, Err 08003 or a ready index whose get_result is then 08003.
#[test]
fn disconnect_wakes_wait_any() {
    let _run = alone();
    let before = fds_before();
    let a = connect("disc_wany", &direct());
    let socket = library_socket(&a);
    assert!(pgdblink::send_query(Some(&a), "select pg_sleep(20)").expect("send"));
    let waiter = spawn_call("wait_any", {
        let a = a.clone();
        move || pgdblink::wait_any(&[&a], None)
    });
    thread::sleep(SETTLE);
    let (done, got) = close_while_waiting(&socket, "disconnect", true, waiter, {
        let a = a.clone();
        move || pgdblink::disconnect(Some(&a))
    });
    done.expect("disconnect");
    match got {
        Err(e) if is_08003(&e) => {}
        Ok(ready) if ready == [0] => {
            let r = pgdblink::get_result(Some(&a), true).map(|r| r.status());
            assert_reader_got_08003(&r);
        }
        other => panic!("the woken wait_any got {other:?}"),
    }
    before.assert_back("after disconnect");
}

// ---------------------------------------------------------------------------
// A name reconnected while wait_any waits on it (its fd number reused)
// ---------------------------------------------------------------------------

/// The old query outlives every bound here, so that the old socket stays
/// silent: only a wake (or a poll of the new socket) ends the wait. (With
/// pg_sleep(2), the old backend's late answer wakes a poll stuck on the old
/// socket within the bound, and the bug goes unseen.)
const OLD_QUERY: &str = "select pg_sleep(20)";

/// connect a, send a long query, W: wait_any(&[a], timeout); disconnect a,
/// connect a again (new socket, likely the same fd number), send `select 1`:
/// W returns in < 5 s (Err 08003 is fine for the old connection); then a
/// fresh wait_any(&[a], 10 s) reports index 0 ready promptly.
fn wait_any_across_a_reconnect(prefix: &str, timeout: Option<Duration>) {
    let _run = shared_run();
    let a = connect(prefix, &direct());
    let old_fd = pgdblink::socket(Some(&a)).expect("socket");
    assert!(pgdblink::send_query(Some(&a), OLD_QUERY).expect("send"));
    let waiter = spawn_call("wait_any", {
        let a = a.clone();
        move || pgdblink::wait_any(&[&a], timeout)
    });
    thread::sleep(SETTLE);
    bounded(
        "disconnect",
        Duration::from_secs(2),
        "nothing holds the connection",
        {
            let a = a.clone();
            move || pgdblink::disconnect(Some(&a))
        },
    )
    .0
    .expect("disconnect");
    pgdblink::connect(Some(&a), &direct()).expect("connect again");
    let new_fd = pgdblink::socket(Some(&a)).expect("socket");
    eprintln!(
        "{prefix}: old fd {old_fd}, new fd {new_fd}: {}",
        if old_fd == new_fd {
            "reused"
        } else {
            "not reused"
        }
    );
    assert!(pgdblink::send_query(Some(&a), "select 1").expect("send"));
    let reconnected = Instant::now();
    let (got, _) = waiter.within_since(
        reconnected,
        Duration::from_secs(5),
        "it still polls the descriptor of the closed connection",
    );
    match got {
        Ok(ready) => assert_eq!(ready, vec![0], "the new connection is ready"),
        Err(e) => assert!(is_08003(&e), "{e:?}"),
    }
    let (ready, took) = bounded(
        "a fresh wait_any",
        Duration::from_secs(2),
        "the new connection's result is there",
        {
            let a = a.clone();
            move || pgdblink::wait_any(&[&a], Some(Duration::from_secs(10)))
        },
    );
    assert_eq!(ready, Ok(vec![0]), "after {took:?}");
    assert_eq!(drain(&a), vec![vec![Some("1".to_owned())]]);
    pgdblink::disconnect(Some(&a)).expect("disconnect");
}

#[test]
fn wait_any_with_a_timeout_across_a_reconnect() {
    wait_any_across_a_reconnect("reuse_t", Some(Duration::from_secs(10)));
}

#[test]
fn wait_any_without_timeout_across_a_reconnect() {
    wait_any_across_a_reconnect("reuse_n", None);
}

// ---------------------------------------------------------------------------
// A huge statement to a stalled peer
// ---------------------------------------------------------------------------

/// send_query of a 64 MB statement through a proxy that stalls
/// client->server after 1 MB: calls on other names are not delayed; a
/// disconnect from another thread makes the sender return in < 5 s.
#[test]
fn disconnect_wakes_a_sender_of_a_huge_statement() {
    let _run = shared_run();
    let proxy = proxy();
    let a = connect("huge", &via(&proxy));
    proxy.arm(
        0,
        Plan::new(When::AfterClientBytes(1 << 20), What::Stall(Dir::ToServer)),
    );
    let sql = format!("select '{}'::text is null", "x".repeat(64 << 20));
    let mut sender = spawn_call("send_query", {
        let a = a.clone();
        move || pgdblink::send_query(Some(&a), &sql)
    });
    assert!(
        proxy.wait_stalled(0, Duration::from_secs(20)),
        "the statement stalled after 1 MB"
    );
    thread::sleep(SETTLE);
    assert!(!sender.finished(), "send_query blocks on the stalled peer");

    let (other, took) = bounded(
        "calls on another name",
        Duration::from_secs(5),
        "a stalled send on one name delays the others",
        || {
            let b = connect("huge_other", &direct());
            let r = pgdblink::dblink(Some(&b), "select 1", true).map(|r| r.rows());
            pgdblink::disconnect(Some(&b))?;
            r
        },
    );
    assert_eq!(other, Ok(vec![vec![Some("1".to_owned())]]));
    assert!(
        took < Duration::from_secs(2),
        "calls on another name took {took:?}"
    );

    let disconnecting = Instant::now();
    let closer = spawn_call("disconnect", {
        let a = a.clone();
        move || pgdblink::disconnect(Some(&a))
    });
    let (sent, took) = sender.within_since(
        disconnecting,
        Duration::from_secs(5),
        "disconnect does not wake a send_query flushing to a stalled peer",
    );
    eprintln!("the sender returned {sent:?} after {took:?}");
    let (done, _) = closer.within_since(
        disconnecting,
        Duration::from_secs(5),
        "it waits for the stalled send",
    );
    done.expect("disconnect");
}

// ---------------------------------------------------------------------------
// reset on a name still connecting
// ---------------------------------------------------------------------------

/// reset(a) on a name whose connect_start has not finished (the peer never
/// answers): Err 08003 `... is still connecting ...` in < 2 s; connect_poll
/// still reports Reading/Writing afterwards.
#[test]
fn reset_refuses_a_name_still_connecting() {
    let _run = shared_run();
    let proxy = proxy();
    proxy.on_new(Some(Plan::never_answer()));
    let a = unique_name("reset_connecting");
    let cs = format!("{} connect_timeout=10", via(&proxy));
    pgdblink::connect_start(Some(&a), &cs).expect("connect_start");
    let poll = |a: &str| {
        let a = a.to_owned();
        bounded(
            "connect_poll",
            Duration::from_secs(1),
            "it blocks",
            move || pgdblink::connect_poll(Some(&a)),
        )
        .0
    };
    let step = poll(&a).expect("connect_poll");
    assert!(
        matches!(
            step,
            ConnectProgress::Reading(_) | ConnectProgress::Writing(_)
        ),
        "{step:?}"
    );
    let (got, _) = bounded(
        "reset",
        Duration::from_secs(2),
        "reset reconnects a name that is still connecting",
        {
            let a = a.clone();
            move || pgdblink::reset(Some(&a))
        },
    );
    let err = got.expect_err("still connecting");
    assert_eq!(err.sqlstate, "08003", "{err:?}");
    assert_eq!(
        err.message,
        format!("connection \"{a}\" is still connecting: call connect_poll until it is ready")
    );
    let step = poll(&a).expect("connect_poll after reset");
    assert!(
        matches!(
            step,
            ConnectProgress::Reading(_) | ConnectProgress::Writing(_)
        ),
        "{step:?}"
    );
    pgdblink::disconnect(Some(&a)).expect("disconnect");
}

// ---------------------------------------------------------------------------
// A timed-out cancel is abandoned
// ---------------------------------------------------------------------------

/// cancel_query_timeout(a, 300 ms) times out (the proxy holds the cancel's
/// bytes); then, with a later query running, the proxy resumes: the held
/// cancel must not cancel that query (its connection was closed at once).
#[test]
fn a_timed_out_cancel_is_abandoned() {
    let _run = shared_run();
    let proxy = proxy();
    let a = connect("cancel_abandoned", &via(&proxy));
    proxy.on_new(Some(Plan::never_answer()));
    let (got, _) = bounded(
        "cancel_query_timeout",
        Duration::from_secs(3),
        "a 300 ms cancel hangs",
        {
            let a = a.clone();
            move || pgdblink::cancel_query_timeout(Some(&a), ms(300))
        },
    );
    assert_eq!(got, Ok("cancel request timed out".to_owned()));
    assert!(proxy.accepted() >= 2, "the cancel went through the proxy");
    assert!(pgdblink::send_query(Some(&a), "select pg_sleep(1)").expect("send"));
    thread::sleep(SETTLE); // the query is running
    proxy.on_new(None);
    proxy.resume_all();
    let (got, _) = bounded("get_result", Duration::from_secs(10), "hangs", {
        let a = a.clone();
        move || pgdblink::get_result(Some(&a), true).map(|r| r.status())
    });
    match got {
        Ok(Status::Tuples) => {}
        Err(e) if e.sqlstate == "57014" => panic!(
            "the timed-out cancel, delivered late, canceled a later query: {}",
            e.message
        ),
        other => panic!("pg_sleep(1) got {other:?}"),
    }
    assert_eq!(drain(&a), Vec::<Vec<Option<String>>>::new());
    pgdblink::disconnect(Some(&a)).expect("disconnect");
}

// ---------------------------------------------------------------------------
// exit while a worker sits in get_result
// ---------------------------------------------------------------------------

/// Names the child mode and carries the connection string to the child.
const CHILD_ENV: &str = "PGDBLINK_BOUNDS_EXIT_CHILD";

/// A child process connects, starts a worker in get_result(pg_sleep(30)),
/// calls disconnect_all() and exits: it must finish in < 5 s.
#[test]
fn exit_is_prompt_while_a_worker_is_in_get_result() {
    let _run = shared_run();
    let exe = std::env::current_exe().expect("the test binary");
    let started = Instant::now();
    let mut child = Command::new(exe)
        .args(["--exact", "exit_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, direct())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the child");
    let limit = Duration::from_secs(5);
    let finished = loop {
        match child.try_wait().expect("wait for the child") {
            Some(_) => break true,
            None if started.elapsed() > limit => break false,
            None => thread::sleep(ms(20)),
        }
    };
    if !finished {
        // Our own child, killed by its handle.
        let _ = child.kill();
    }
    let out = child.wait_with_output().expect("the child's output");
    let shown = support::process::show(&out);
    assert!(
        finished,
        "the child has not exited after {limit:?} (disconnect_all waits for the worker)\n{shown}"
    );
    assert!(out.status.success(), "{shown}");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("child: exiting"), "{shown}");
}

/// The child of [`exit_is_prompt_while_a_worker_is_in_get_result`]; does
/// nothing unless [`CHILD_ENV`] is set.
#[test]
fn exit_child() {
    let Ok(connstr) = std::env::var(CHILD_ENV) else {
        return;
    };
    pgdblink::connect(Some("exit_child"), &connstr).expect("connect");
    assert!(pgdblink::send_query(Some("exit_child"), "select pg_sleep(30)").expect("send"));
    thread::spawn(|| {
        let _ = pgdblink::get_result(Some("exit_child"), true);
    });
    thread::sleep(SETTLE);
    println!("child: disconnect_all");
    pgdblink::disconnect_all();
    println!("child: exiting");
    std::process::exit(0);
}
