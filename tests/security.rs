//! Security: passwords given in connection strings stay secret, and TLS
//! (`sslmode=require`) covers the connection and, with libpq ≥ 17, its cancel
//! request.
//!
//! These tests use their own private cluster (`Server::start_private`), not
//! the shared one: its pg_hba.conf requires scram-sha-256 over TLS for TCP
//! (`hostssl ... scram-sha-256`, `hostnossl ... reject`), and it has a
//! self-signed certificate made with the `openssl` CLI at start (the tests
//! fail, asking to install `openssl`, when it is missing). The role
//! `secret_user` has the password [`RIGHT`]; the failing connects use
//! [`WRONG`].
//!
//! "Never appears" is checked everywhere a text can come out of pgdblink:
//! every field of `Error` and its Display/Debug forms, the notice handler's
//! reports, `error_message`, `get_connections`, the C ABI's
//! `dblink_last_*`/`dblink_error_message`/`dblink_get_connections`, whatever
//! is written to this process's stderr (fd 2) meanwhile, and the private
//! server's log (with `log_connections = on`).

mod support;

use std::ffi::{CStr, CString};
use std::fs;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::raw::{c_char, c_int};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use pgdblink::{Error, Status, ffi};
use support::{Server, unique_name, unnamed_lock};

/// The password the failing connects give (never the role's).
const WRONG: &str = "s3cr3t-P4ss-xyzzy";
/// The role's real password, for the connections that succeed.
const RIGHT: &str = "r1ght-P4ss-plugh";
/// What must not show up anywhere: both passwords, and distinctive pieces
/// of them (a truncated or split echo is a leak too).
const NEEDLES: &[&str] = &[WRONG, RIGHT, "s3cr3t", "xyzzy", "r1ght", "plugh"];
/// The role with a password.
const ROLE: &str = "secret_user";
/// A role whose password one test changes (so as not to disturb the others).
const RESET_ROLE: &str = "secret_reset";

// ---------------------------------------------------------------------------
// The private server
// ---------------------------------------------------------------------------

/// The private server; also installs the recording notice handler, so that
/// every test that uses the server records its notices.
fn private() -> &'static Server {
    notices();
    static PRIVATE: OnceLock<Result<Server, String>> = OnceLock::new();
    let started = PRIVATE.get_or_init(|| {
        support::tls::start(
            &["log_connections = on"],
            &[(ROLE, RIGHT), (RESET_ROLE, RIGHT)],
        )
    });
    match started {
        Ok(server) => server,
        Err(e) => panic!("could not start the private TLS/scram test server:\n{e}"),
    }
}

/// `host=127.0.0.1 port=<port> user=secret_user dbname=postgres` plus `extra`.
fn tcp(port: u16, extra: &str) -> String {
    support::tls::tcp(port, ROLE, extra)
}

/// key=value connstrs with the wrong password, to a server that checks it.
fn wrong_password_connstrs() -> Vec<String> {
    let port = private().port();
    vec![
        tcp(port, &format!("password={WRONG}")),
        tcp(port, &format!("password='{WRONG}' connect_timeout=10")),
        format!("postgresql://{ROLE}:{WRONG}@127.0.0.1:{port}/postgres"),
        format!("postgresql://127.0.0.1:{port}/postgres?user={ROLE}&password={WRONG}"),
    ]
}

/// Connstrs with a password, to a port where nothing listens.
fn wrong_port_connstrs() -> Vec<String> {
    let dead = private().dead_port_connstr();
    let port = dead_port();
    vec![
        format!("{dead} user={ROLE} password={WRONG}"),
        format!("postgresql://{ROLE}:{WRONG}@127.0.0.1:{port}/postgres?connect_timeout=5"),
    ]
}

fn dead_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("bound address").port()
}

// ---------------------------------------------------------------------------
// Leak checks
// ---------------------------------------------------------------------------

fn assert_clean(what: &str, text: &str) {
    for needle in NEEDLES {
        assert!(
            !text.contains(needle),
            "{what} reveals a password (found {needle:?}):\n{text}"
        );
    }
}

/// Every field of the error and its Display and Debug forms.
fn assert_error_clean(what: &str, e: &Error) {
    assert_clean(&format!("{what}: sqlstate"), &e.sqlstate);
    assert_clean(&format!("{what}: message"), &e.message);
    for (field, value) in [
        ("detail", &e.detail),
        ("hint", &e.hint),
        ("context", &e.context),
    ] {
        if let Some(v) = value {
            assert_clean(&format!("{what}: {field}"), v);
        }
    }
    assert_clean(&format!("{what}: Display"), &e.to_string());
    assert_clean(&format!("{what}: Debug"), &format!("{e:?}"));
    assert_clean(&format!("{what}: Debug (alternate)"), &format!("{e:#?}"));
}

/// Asserts a failed connect: 08001 `could not establish connection`, its
/// DETAIL mentioning `cause` (so that libpq really got to that point), and
/// no password anywhere.
fn assert_connect_failure(what: &str, e: &Error, cause: &str) {
    assert_error_clean(what, e);
    assert_eq!(e.sqlstate, "08001", "{what}: {e:?}");
    assert_eq!(e.message, "could not establish connection", "{what}");
    let detail = e.detail.as_deref().unwrap_or_default();
    assert!(
        detail.contains(cause),
        "{what}: DETAIL should mention {cause:?}: {e:?}"
    );
}

fn assert_connections_clean(what: &str, absent: &[&str]) {
    let names = pgdblink::get_connections().unwrap_or_default();
    assert_clean(&format!("{what}: get_connections"), &names.join("\n"));
    for name in absent {
        assert!(
            !names.iter().any(|n| n == name),
            "{what}: {name} is listed after a failed connect: {names:?}"
        );
    }
    let listed = ffi_connections();
    assert_clean(
        &format!("{what}: dblink_get_connections"),
        &listed.join("\n"),
    );
}

/// Every notice reported so far (all of this binary's tests) is clean.
fn assert_notices_clean(what: &str) {
    for (name, e) in notices()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
    {
        assert_clean(
            &format!("{what}: notice's connection name"),
            name.as_deref().unwrap_or(""),
        );
        assert_error_clean(&format!("{what}: notice"), e);
    }
}

fn assert_server_log_clean(what: &str) {
    assert_clean(
        &format!("{what}: the server log"),
        &private().log_tail(usize::MAX),
    );
}

type Recorded = Mutex<Vec<(Option<String>, Error)>>;

/// Installs (once) a notice handler recording every notice of this process
/// (process-wide on purpose, unlike `support::notices`: no notice of any
/// thread may carry a password).
fn notices() -> &'static Recorded {
    static RECORDED: OnceLock<Arc<Recorded>> = OnceLock::new();
    RECORDED.get_or_init(|| {
        let recorded: Arc<Recorded> = Arc::default();
        let sink = Arc::clone(&recorded);
        pgdblink::set_notice_handler(Some(Arc::new(move |name: Option<&str>, e: &Error| {
            sink.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((name.map(str::to_owned), e.clone()));
        })));
        recorded
    })
}

fn notices_for(name: Option<&str>) -> Vec<Error> {
    notices()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .filter(|(n, _)| n.as_deref() == name)
        .map(|(_, e)| e.clone())
        .collect()
}

/// Runs `f` with this process's stderr (fd 2) redirected to a file and
/// returns what was written there: libpq or pgdblink writing a password to
/// stderr would be a "log line" too. Serialized, since fd 2 is shared; the
/// test harness' own output does not go through fd 2 while it captures.
fn capture_stderr<T>(f: impl FnOnce() -> T) -> (T, String) {
    static FD2: Mutex<()> = Mutex::new(());
    struct Restore(c_int);
    impl Drop for Restore {
        fn drop(&mut self) {
            // SAFETY: self.0 is the dup of the original fd 2, owned here.
            unsafe {
                libc::dup2(self.0, 2);
                libc::close(self.0);
            }
        }
    }
    let _serial = FD2.lock().unwrap_or_else(PoisonError::into_inner);
    let path = std::env::temp_dir().join(format!(
        "pgdblink-security-stderr-{}-{}",
        std::process::id(),
        unique_name("fd2")
    ));
    let file = fs::File::create(&path).expect("create the stderr capture file");
    std::io::stderr().flush().expect("flush stderr");
    // SAFETY: plain descriptor calls on fd 2 and on our open file.
    let saved = unsafe { libc::dup(2) };
    assert!(saved >= 0, "dup(2) failed");
    let restore = Restore(saved);
    // SAFETY: as above; fd 2 now writes to our file until `restore` drops.
    let redirected = unsafe { libc::dup2(file.as_raw_fd(), 2) };
    assert!(redirected >= 0, "dup2 failed");
    let value = f();
    drop(restore);
    let written = fs::read_to_string(&path).unwrap_or_default();
    let _ = fs::remove_file(&path);
    (value, written)
}

// ---------------------------------------------------------------------------
// The C ABI, called from Rust
// ---------------------------------------------------------------------------

fn c(s: &str) -> CString {
    CString::new(s).expect("test strings have no NUL")
}

fn opt_text(p: *const c_char) -> Option<String> {
    // SAFETY: pgdblink returns NULL or a NUL-terminated string that stays
    // valid until the thread's next pgdblink call; copied at once.
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
}

/// The thread's last C error, every field checked for passwords.
fn ffi_last_error(what: &str) -> Error {
    let mut e = Error::new(
        &opt_text(ffi::dblink_last_sqlstate()).unwrap_or_default(),
        opt_text(ffi::dblink_last_error()).unwrap_or_default(),
    );
    e.detail = opt_text(ffi::dblink_last_detail());
    e.hint = opt_text(ffi::dblink_last_hint());
    e.context = opt_text(ffi::dblink_last_context());
    assert_error_clean(&format!("{what}: dblink_last_*"), &e);
    e
}

/// A string pgdblink handed over (freed here).
fn take_text(p: *mut c_char) -> Option<String> {
    let text = opt_text(p);
    // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
    unsafe { ffi::dblink_free(p) };
    text
}

fn ffi_connections() -> Vec<String> {
    let list = ffi::dblink_get_connections();
    let mut names = Vec::new();
    if !list.is_null() {
        for i in 0.. {
            // SAFETY: a NULL-terminated array from dblink_get_connections;
            // we stop at the NULL.
            let p = unsafe { *list.add(i) };
            if p.is_null() {
                break;
            }
            names.extend(opt_text(p));
        }
    }
    // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
    unsafe { ffi::dblink_free_strings(list) };
    names
}

/// Frees a C result, checking its error fields.
fn ffi_free_result(what: &str, r: *mut pgdblink::DblinkResult) {
    if !r.is_null() {
        for text in [
            // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
            opt_text(unsafe { ffi::dblink_result_error_message(r) }),
            // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
            opt_text(unsafe { ffi::dblink_result_sqlstate(r) }),
        ]
        .into_iter()
        .flatten()
        {
            assert_clean(&format!("{what}: dblink_result_error_message"), &text);
        }
    }
    // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
    unsafe { ffi::dblink_result_free(r) };
}

// ---------------------------------------------------------------------------
// Every path that takes a connstr
// ---------------------------------------------------------------------------

/// Runs `connstr` (which fails to connect with a DETAIL mentioning `cause`)
/// through every pgdblink function that takes a connection string, Rust and
/// C, checking each outcome.
fn fail_every_path(connstr: &str, cause: &str) {
    let (_, stderr) = capture_stderr(|| fail_every_path_inner(connstr, cause));
    assert_clean(&format!("{connstr}: stderr"), &stderr);
}

fn fail_every_path_inner(connstr: &str, cause: &str) {
    let timeout = Duration::from_secs(20);
    let name = unique_name("sec_fail");
    let what = |f: &str| format!("{f} with {connstr:?}");

    let e = pgdblink::connect(Some(&name), connstr).expect_err("connect must fail");
    assert_connect_failure(&what("connect"), &e, cause);
    {
        let _unnamed = unnamed_lock();
        let e = pgdblink::connect(None, connstr).expect_err("unnamed connect must fail");
        assert_connect_failure(&what("connect (unnamed)"), &e, cause);
    }
    let e = pgdblink::connect_u(Some(&name), connstr).expect_err("connect_u must fail");
    assert_connect_failure(&what("connect_u"), &e, cause);
    let e = pgdblink::connect_timeout(Some(&name), connstr, timeout)
        .expect_err("connect_timeout must fail");
    assert_connect_failure(&what("connect_timeout"), &e, cause);
    let second = unique_name("sec_fail");
    let outcomes = pgdblink::connect_all(&[(&name, connstr), (&second, connstr)], Some(timeout));
    assert_eq!(outcomes.len(), 2);
    for outcome in &outcomes {
        let e = outcome.as_ref().expect_err("connect_all must fail");
        assert_connect_failure(&what("connect_all"), e, cause);
    }
    for fail_on_error in [true, false] {
        let e = pgdblink::dblink(Some(connstr), "select 1", fail_on_error)
            .expect_err("dblink(connstr) must fail");
        assert_connect_failure(&what("dblink"), &e, cause);
        let e = pgdblink::dblink_params(Some(connstr), "select $1", &[Some("x")], fail_on_error)
            .expect_err("dblink_params(connstr) must fail");
        assert_connect_failure(&what("dblink_params"), &e, cause);
        let e = pgdblink::exec(Some(connstr), "set application_name = 'x'", fail_on_error)
            .expect_err("exec(connstr) must fail");
        assert_connect_failure(&what("exec"), &e, cause);
    }

    // The C ABI: the same failures as -1/NULL with the thread's last error.
    let (cname, cconnstr) = (c(&name), c(connstr));
    let sql = c("select 1");
    // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
    assert_eq!(
        // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
        unsafe { ffi::dblink_connect(cname.as_ptr(), cconnstr.as_ptr()) },
        -1
    );
    assert_connect_failure(
        &what("dblink_connect"),
        &ffi_last_error("dblink_connect"),
        cause,
    );
    // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
    assert_eq!(
        // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
        unsafe { ffi::dblink_connect_u(cname.as_ptr(), cconnstr.as_ptr()) },
        -1
    );
    assert_connect_failure(
        &what("dblink_connect_u"),
        &ffi_last_error("dblink_connect_u"),
        cause,
    );
    for timeout_ms in [20_000, -1] {
        assert_eq!(
            // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
            unsafe { ffi::dblink_connect_timeout(cname.as_ptr(), cconnstr.as_ptr(), timeout_ms) },
            -1
        );
        let e = ffi_last_error("dblink_connect_timeout");
        assert_connect_failure(&what("dblink_connect_timeout"), &e, cause);
    }
    let csecond = c(&second);
    let names = [cname.as_ptr(), csecond.as_ptr()];
    let connstrs = [cconnstr.as_ptr(), cconnstr.as_ptr()];
    let mut ok = [7 as c_int; 2];
    // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
    let opened = unsafe {
        ffi::dblink_connect_all(
            names.as_ptr(),
            connstrs.as_ptr(),
            2,
            20_000,
            ok.as_mut_ptr(),
        )
    };
    assert_eq!((opened, ok), (0, [0, 0]));
    let e = ffi_last_error("dblink_connect_all");
    assert_connect_failure(&what("dblink_connect_all"), &e, cause);
    for fail_on_error in [1, 0] {
        // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
        let r = unsafe { ffi::dblink(cconnstr.as_ptr(), sql.as_ptr(), fail_on_error) };
        assert!(r.is_null(), "dblink(connstr) must fail");
        assert_connect_failure(&what("C dblink"), &ffi_last_error("dblink"), cause);
        let value = c("x");
        let values = [value.as_ptr()];
        // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
        let r = unsafe {
            ffi::dblink_params(
                cconnstr.as_ptr(),
                sql.as_ptr(),
                1,
                values.as_ptr(),
                fail_on_error,
            )
        };
        assert!(r.is_null(), "dblink_params(connstr) must fail");
        assert_connect_failure(
            &what("C dblink_params"),
            &ffi_last_error("dblink_params"),
            cause,
        );
        // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
        let status = unsafe { ffi::dblink_exec(cconnstr.as_ptr(), sql.as_ptr(), fail_on_error) };
        assert!(status.is_null(), "dblink_exec(connstr) must fail");
        assert_connect_failure(
            &what("C dblink_exec"),
            &ffi_last_error("dblink_exec"),
            cause,
        );
    }

    assert_connections_clean(&what("after the failed connects"), &[&name, &second]);
    assert!(
        notices_for(Some(&name)).is_empty() && notices_for(Some(&second)).is_empty(),
        "a failed connect raises an ERROR, not a notice"
    );
    assert_notices_clean(&what("after the failed connects"));
}

#[test]
fn wrong_port_connect_everywhere_never_reveals_the_password() {
    for connstr in wrong_port_connstrs() {
        fail_every_path(&connstr, "Connection refused");
    }
    assert_server_log_clean("wrong port");
}

#[test]
fn wrong_password_connect_everywhere_never_reveals_the_password() {
    for connstr in wrong_password_connstrs() {
        fail_every_path(
            &connstr,
            &format!("password authentication failed for user \"{ROLE}\""),
        );
    }
    assert_server_log_clean("wrong password");
}

/// A password the server accepted is not kept where it could be read back:
/// get_connections, error_message, remote errors (raised and as notices) on
/// named and temporary connections.
#[test]
fn connect_with_password_then_remote_errors_never_reveal_it() {
    let port = private().port();
    let connstrs = [
        tcp(port, &format!("password={RIGHT}")),
        format!("postgresql://{ROLE}:{RIGHT}@127.0.0.1:{port}/postgres"),
    ];
    let (_, stderr) = capture_stderr(|| {
        for connstr in &connstrs {
            remote_errors_on(connstr);
        }
    });
    assert_clean("stderr", &stderr);
    assert_notices_clean("after remote errors");
    assert_server_log_clean("after remote errors");
}

fn remote_errors_on(connstr: &str) {
    let name = unique_name("sec_ok");
    pgdblink::connect(Some(&name), connstr).expect("the right password connects");
    let listed = pgdblink::get_connections().expect("a named connection is open");
    assert!(listed.contains(&name));
    assert_connections_clean("open connection", &[]);
    assert_eq!(
        pgdblink::error_message(Some(&name)).expect("error_message"),
        "OK"
    );

    // A remote error raised, and one reported as a notice.
    let e = pgdblink::dblink(Some(&name), "select 1/0", true).expect_err("division by zero");
    assert_error_clean("dblink(name) remote error", &e);
    assert_eq!(e.sqlstate, "22012");
    let r = pgdblink::dblink(Some(&name), "select 1/0", false).expect("fail_on_error false");
    assert_eq!(r.status(), Status::Error);
    assert_error_clean(
        "dblink(name) error result",
        r.error().expect("an Error result"),
    );
    assert_clean("DblinkResult Debug", &format!("{r:?}"));
    let reported = notices_for(Some(&name));
    assert_eq!(reported.len(), 1, "one notice for the remote error");
    assert_eq!(reported[0].sqlstate, "22012");
    let msg = pgdblink::error_message(Some(&name)).expect("error_message");
    assert_clean("error_message after a remote error", &msg);

    // The async family: a remote error collected later.
    assert!(pgdblink::send_query(Some(&name), "select no_such_column").expect("send"));
    let e = pgdblink::get_result(Some(&name), true).expect_err("undefined column");
    assert_error_clean("get_result remote error", &e);
    assert_eq!(
        pgdblink::get_result(Some(&name), true)
            .expect("done")
            .status(),
        Status::Done
    );
    // A send refused while a query is in progress: a notice with libpq's text.
    assert!(pgdblink::send_query(Some(&name), "select 1").expect("send"));
    assert!(!pgdblink::send_query(Some(&name), "select 2").expect("refused send"));
    while pgdblink::get_result(Some(&name), true)
        .expect("drain")
        .status()
        != Status::Done
    {}
    let msg = pgdblink::error_message(Some(&name)).expect("error_message");
    assert_clean("error_message after a refused send", &msg);

    // Temporary connections opened from the connstr.
    let e = pgdblink::dblink(Some(connstr), "select 1/0", true).expect_err("division by zero");
    assert_error_clean("dblink(connstr) remote error", &e);
    assert_eq!(e.sqlstate, "22012");
    assert_eq!(
        e.context.as_deref(),
        Some("while executing query on unnamed dblink connection")
    );
    let r = pgdblink::dblink(Some(connstr), "select 1/0", false).expect("fail_on_error false");
    assert_error_clean(
        "dblink(connstr) error result",
        r.error().expect("an Error result"),
    );
    let e =
        pgdblink::exec(Some(connstr), "drop table no_such_table", true).expect_err("no such table");
    assert_error_clean("exec(connstr) remote error", &e);
    let status = pgdblink::exec(Some(connstr), "drop table no_such_table", false)
        .expect("fail_on_error false");
    assert_eq!(status, "ERROR");
    let e = pgdblink::exec(Some(connstr), "select 1", true).expect_err("2F003");
    assert_error_clean("exec(connstr) of a query", &e);
    let rows = pgdblink::dblink(Some(connstr), "select current_user", true).expect("query");
    assert_eq!(rows.rows(), vec![vec![Some(ROLE.to_owned())]]);

    // The same through the C ABI.
    let (cname, cconnstr) = (c(&name), c(connstr));
    let bad = c("select 1/0");
    // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
    let r = unsafe { ffi::dblink(cname.as_ptr(), bad.as_ptr(), 1) };
    assert!(r.is_null());
    assert_eq!(ffi_last_error("dblink(name)").sqlstate, "22012");
    // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
    let r = unsafe { ffi::dblink(cconnstr.as_ptr(), bad.as_ptr(), 1) };
    assert!(r.is_null());
    assert_eq!(ffi_last_error("dblink(connstr)").sqlstate, "22012");
    // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
    let r = unsafe { ffi::dblink(cconnstr.as_ptr(), bad.as_ptr(), 0) };
    assert!(!r.is_null());
    ffi_free_result("dblink(connstr, fail_on_error 0)", r);
    // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
    let status = unsafe { ffi::dblink_exec(cconnstr.as_ptr(), bad.as_ptr(), 1) };
    assert!(status.is_null());
    ffi_last_error("dblink_exec(connstr)");
    // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
    let msg =
        take_text(unsafe { ffi::dblink_error_message(cname.as_ptr()) }).expect("error message");
    assert_clean("dblink_error_message", &msg);
    let cother = c(&unique_name("sec_ok_c"));
    // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
    assert_eq!(
        // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
        unsafe { ffi::dblink_connect(cother.as_ptr(), cconnstr.as_ptr()) },
        1
    );
    assert_connections_clean("two open connections", &[]);
    // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
    assert_eq!(unsafe { ffi::dblink_disconnect(cother.as_ptr()) }, 1);

    pgdblink::disconnect(Some(&name)).expect("disconnect");
}

/// `reset` reconnects with the parameters libpq kept, password included;
/// when that fails (the password was changed meanwhile), the error must not
/// show it either.
#[test]
fn reset_after_a_password_change_never_reveals_the_password() {
    let server = private();
    let connstr = tcp(
        server.port(),
        &format!("user={RESET_ROLE} password={RIGHT}"),
    );
    let name = unique_name("sec_reset");
    pgdblink::connect(Some(&name), &connstr).expect("the right password connects");
    server
        .psql(
            "postgres",
            &format!(
                "alter role {RESET_ROLE} password 'changed-meanwhile';\n\
                 select pg_terminate_backend(pid) from pg_stat_activity \
                 where usename = '{RESET_ROLE}';"
            ),
        )
        .expect("change the password, end the session");
    let cause = format!("password authentication failed for user \"{RESET_ROLE}\"");
    let (_, stderr) = capture_stderr(|| {
        let e = pgdblink::reset(Some(&name)).expect_err("the old password is refused");
        assert_error_clean("reset", &e);
        assert_eq!(e.sqlstate, "08006", "{e:?}");
        assert!(e.message.contains(&cause), "{e:?}");
        let msg = pgdblink::error_message(Some(&name)).expect("error_message");
        assert_clean("error_message after a failed reset", &msg);
        let cname = c(&name);
        // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
        assert_eq!(unsafe { ffi::dblink_reset(cname.as_ptr()) }, -1);
        let e = ffi_last_error("dblink_reset");
        assert!(e.message.contains(&cause), "{e:?}");
        assert_connections_clean("after a failed reset", &[]);
    });
    assert_clean("stderr", &stderr);
    assert_server_log_clean("after a failed reset");
    pgdblink::disconnect(Some(&name)).expect("disconnect");
}

/// Runs a malformed `connstr` holding a password through the connect paths;
/// returns every place its error shows a password (libpq's parse errors
/// quote pieces of the connection string, and pgdblink passes libpq's
/// message on as DETAIL, as dblink does).
fn malformed_leaks(connstr: &str) -> Vec<String> {
    let mut leaks = Vec::new();
    let (_, stderr) = capture_stderr(|| {
        let name = unique_name("sec_malformed");
        for (path, outcome) in [
            ("connect", pgdblink::connect(Some(&name), connstr)),
            (
                "connect_timeout",
                pgdblink::connect_timeout(Some(&name), connstr, Duration::from_secs(10)),
            ),
            (
                "connect_all",
                pgdblink::connect_all(&[(&name, connstr)], Some(Duration::from_secs(10)))
                    .pop()
                    .expect("one outcome"),
            ),
            (
                "dblink",
                pgdblink::dblink(Some(connstr), "select 1", false).map(drop),
            ),
            (
                "exec",
                pgdblink::exec(Some(connstr), "set application_name = 'x'", false).map(drop),
            ),
        ] {
            let e = outcome.expect_err("a malformed connstr fails");
            assert_eq!(e.sqlstate, "08001", "{path} {connstr:?}: {e:?}");
            let shown = format!("{e:?}");
            if NEEDLES.iter().any(|n| shown.contains(n)) {
                leaks.push(format!("{path}: {e:?}"));
            }
        }
        let (cname, cconnstr) = (c(&name), c(connstr));
        // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
        assert_eq!(
            // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
            unsafe { ffi::dblink_connect(cname.as_ptr(), cconnstr.as_ptr()) },
            -1
        );
        let detail = opt_text(ffi::dblink_last_detail()).unwrap_or_default();
        if NEEDLES.iter().any(|n| detail.contains(n)) {
            leaks.push(format!("dblink_connect: DETAIL {detail:?}"));
        }
        assert_connections_clean("after a malformed connstr", &[&name]);
    });
    assert_clean("stderr", &stderr);
    leaks
}

/// Checks every connstr, then reports all that echo a password.
fn assert_not_echoed(connstrs: &[String]) {
    let report: Vec<String> = connstrs
        .iter()
        .filter_map(|connstr| {
            let leaks = malformed_leaks(connstr);
            (!leaks.is_empty()).then(|| {
                format!(
                    "the password in {connstr:?} is echoed:\n{}",
                    leaks.join("\n")
                )
            })
        })
        .collect();
    assert!(report.is_empty(), "{}", report.join("\n\n"));
}

/// A bad %-escape in a URI's password: libpq 18 says `invalid
/// percent-encoded token: "<the whole password>"` (and for %00 `forbidden
/// value %00 in percent-encoded value: "<the whole password>"`); the real
/// dblink 15 passes that on as DETAIL too.
#[test]
fn uri_password_with_a_bad_percent_escape_is_not_echoed() {
    let port = private().port();
    assert_not_echoed(&[
        format!("postgresql://{ROLE}:{WRONG}%zz@127.0.0.1:{port}/postgres"),
        format!("postgresql://{ROLE}:{WRONG}%00@127.0.0.1:{port}/postgres"),
        format!("postgresql://127.0.0.1:{port}/postgres?user={ROLE}&password={WRONG}%zz"),
    ]);
}

/// Some URI syntax errors quote the whole URI, password included: libpq 18
/// says e.g. `end of string reached when looking for matching "]" in IPv6
/// host address in URI: "postgresql://user:<password>@[127.0.0.1/db"`.
#[test]
fn uri_syntax_errors_do_not_echo_the_uri_with_its_password() {
    let port = private().port();
    assert_not_echoed(&[
        format!("postgresql://{ROLE}:{WRONG}@[127.0.0.1/postgres"),
        format!("postgresql://{ROLE}:{WRONG}@[]:{port}/postgres"),
        format!("postgresql://{ROLE}:{WRONG}@[::1]x/postgres"),
    ]);
}

/// A key=value password with a space, not quoted: its second half becomes
/// a keyword without "=", and libpq says `missing "=" after "xyzzy"`.
#[test]
fn keyword_password_with_an_unquoted_space_is_not_echoed() {
    assert_not_echoed(&[tcp(private().port(), "password=s3cr3t-P4ss xyzzy")]);
}

/// Other malformed connection strings holding a password.
#[test]
fn malformed_connstrs_around_a_password_do_not_echo_it() {
    let port = private().port();
    assert_not_echoed(&[
        tcp(port, &format!("password='{WRONG}")),
        tcp(port, &format!("password={WRONG} sslmode=bogus")),
        tcp(port, &format!("password={WRONG} port=notaport")),
        tcp(port, &format!("password={WRONG} no_such_option=1")),
        format!("postgresql://{ROLE}:{WRONG}@127.0.0.1:{port}/postgres?sslmode=bogus"),
        format!("postgresql://{ROLE}:{WRONG}@127.0.0.1:notaport/postgres"),
        format!("postgresql://{ROLE}:{WRONG}@127.0.0.1:{port}/postgres?no_such_option=1"),
    ]);
}

// ---------------------------------------------------------------------------
// TLS
// ---------------------------------------------------------------------------

/// The first packet of a protocol-3 connection that asks for TLS:
/// length 8, SSLRequest code 80877103.
const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];
/// The code of a plaintext CancelRequest (length 16, code 80877102).
const CANCEL_REQUEST_CODE: [u8; 4] = [0x04, 0xd2, 0x16, 0x2e];
/// The first byte of a TLS handshake record (ClientHello).
const TLS_HANDSHAKE: u8 = 0x16;

/// A TCP relay in front of the server that records the first bytes each
/// client sent on each connection, in the order the connections came.
///
/// Why a relay: the server cannot tell us how a cancel request came.
/// pg_hba.conf is not consulted for CancelRequest packets (the postmaster
/// handles them before authentication), so `hostnossl ... reject` would not
/// refuse a plaintext cancel; and `log_connections` logs "connection
/// received" before it knows what the packet is, with no word about TLS for
/// a cancel. On the wire it is unambiguous: a plaintext cancel starts with a
/// 16-byte CancelRequest; an encrypted one starts with an SSLRequest,
/// followed (after the server's 'S') by a TLS ClientHello.
struct Relay {
    port: u16,
    seen: Arc<Mutex<Vec<FirstBytes>>>,
}

/// The first bytes a client sent on one relayed connection.
type FirstBytes = Arc<Mutex<Vec<u8>>>;

impl Relay {
    fn start(target: u16) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the relay");
        let port = listener.local_addr().expect("relay address").port();
        let seen: Arc<Mutex<Vec<FirstBytes>>> = Arc::default();
        let record = Arc::clone(&seen);
        thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                let first = Arc::new(Mutex::new(Vec::new()));
                record
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(Arc::clone(&first));
                let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) else {
                    continue;
                };
                thread::spawn(move || pipe(client, server, Some(first)));
                thread::spawn(move || pipe(s2, c2, None));
            }
        });
        Relay { port, seen }
    }

    /// The first bytes (up to 32) each connection's client sent.
    fn first_bytes(&self) -> Vec<Vec<u8>> {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|b| b.lock().unwrap_or_else(PoisonError::into_inner).clone())
            .collect()
    }
}

/// Copies `from` to `to` until EOF, recording the first bytes.
fn pipe(mut from: TcpStream, mut to: TcpStream, first: Option<FirstBytes>) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if let Some(first) = &first {
            let mut first = first.lock().unwrap_or_else(PoisonError::into_inner);
            let room = 32usize.saturating_sub(first.len());
            first.extend_from_slice(&buf[..n.min(room)]);
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

fn single_value(name: &str, sql: &str) -> Option<String> {
    let r = pgdblink::dblink(Some(name), sql, true).expect(sql);
    r.rows()
        .into_iter()
        .next()
        .and_then(|row| row.into_iter().next().flatten())
}

/// Whether the session of the connection `name` uses TLS, as the server sees it.
fn uses_ssl(name: &str) -> bool {
    single_value(
        name,
        "select ssl from pg_stat_ssl where pid = pg_backend_pid()",
    )
    .as_deref()
        == Some("t")
}

/// Waits (polling the server from another session) until a backend with
/// `application_name` is running a statement.
fn wait_until_active(application_name: &str) {
    let watch = unique_name("sec_watch");
    pgdblink::connect(Some(&watch), &private().connstr()).expect("watch over the socket");
    let sql = format!(
        "select count(*) from pg_stat_activity \
         where application_name = '{application_name}' and state = 'active'"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while single_value(&watch, &sql).as_deref() != Some("1") {
        assert!(Instant::now() < deadline, "the query never started");
        thread::sleep(Duration::from_millis(10));
    }
    pgdblink::disconnect(Some(&watch)).expect("disconnect watch");
}

#[test]
fn sslmode_require_connect_then_cancel_over_tls() {
    let server = private();
    let relay = Relay::start(server.port());
    let app = unique_name("sec_tls_cancel");
    let connstr = tcp(
        relay.port,
        &format!("password={RIGHT} sslmode=require application_name={app}"),
    );
    let name = unique_name("sec_tls");
    pgdblink::connect(Some(&name), &connstr).expect("sslmode=require connects");
    // The server sees TLS (and its pg_hba.conf rejects TCP without it).
    assert!(uses_ssl(&name), "the connection does not use TLS");

    assert!(pgdblink::send_query(Some(&name), "select pg_sleep(60)").expect("send"));
    // A cancel that arrives before the backend starts the statement is
    // ignored by the server; wait until it runs.
    wait_until_active(&app);
    assert_eq!(pgdblink::cancel_query(Some(&name)).expect("cancel"), "OK");
    let r = pgdblink::get_result_timeout(Some(&name), false, Duration::from_secs(30))
        .expect("the cancelled query ends");
    assert_eq!(r.status(), Status::Error);
    assert_eq!(
        r.error().map(|e| e.sqlstate.as_str()),
        Some("57014"),
        "{r:?}"
    );
    let done =
        pgdblink::get_result_timeout(Some(&name), true, Duration::from_secs(30)).expect("done");
    assert_eq!(done.status(), Status::Done);
    assert!(
        uses_ssl(&name),
        "still the same TLS session after the cancel"
    );

    let seen = relay.first_bytes();
    assert_eq!(
        seen.len(),
        2,
        "the connection and its cancel request: {seen:?}"
    );
    assert!(
        seen[0].starts_with(&SSL_REQUEST),
        "the connection did not start with an SSLRequest: {:x?}",
        seen[0]
    );
    let cancel = &seen[1];
    let version = pgdblink::libpq_version();
    if version >= 170_000 {
        assert!(
            cancel.starts_with(&SSL_REQUEST) && cancel.get(8) == Some(&TLS_HANDSHAKE),
            "with libpq {version} the cancel request must go over TLS \
             (SSLRequest, then a TLS handshake), but the client sent {cancel:x?}"
        );
    } else {
        // libpq before 17 can only send a plaintext cancel (PQcancel).
        assert!(
            cancel.len() >= 8 && cancel[4..8] == CANCEL_REQUEST_CODE,
            "libpq {version}: expected a plaintext CancelRequest, got {cancel:x?}"
        );
    }
    pgdblink::disconnect(Some(&name)).expect("disconnect");
}

#[test]
fn sslmode_require_through_connect_timeout_connect_all_and_temporary_connections() {
    let connstr = tcp(
        private().port(),
        &format!("password={RIGHT} sslmode=require"),
    );
    let timeout = Some(Duration::from_secs(20));
    let (a, b, d) = (
        unique_name("sec_tls"),
        unique_name("sec_tls"),
        unique_name("sec_tls"),
    );
    pgdblink::connect_timeout(Some(&a), &connstr, Duration::from_secs(20))
        .expect("connect_timeout with sslmode=require");
    for outcome in pgdblink::connect_all(&[(&b, &connstr), (&d, &connstr)], timeout) {
        outcome.expect("connect_all with sslmode=require");
    }
    for name in [&a, &b, &d] {
        assert!(uses_ssl(name), "{name} does not use TLS");
    }
    let r = pgdblink::dblink(
        Some(&connstr),
        "select ssl from pg_stat_ssl where pid = pg_backend_pid()",
        true,
    )
    .expect("a temporary connection with sslmode=require");
    assert_eq!(r.rows(), vec![vec![Some("t".to_owned())]]);
    assert_eq!(
        pgdblink::exec(Some(&connstr), "set application_name = 'tls'", true).expect("exec"),
        "SET"
    );
    for name in [&a, &b, &d] {
        pgdblink::disconnect(Some(name)).expect("disconnect");
    }
}

/// sslmode=require is honoured: a server without TLS is refused.
#[test]
fn sslmode_require_against_a_server_without_tls_is_08001() {
    // A private server without TLS (an external PGDBLINK_TEST_DSN server, as
    // `shared()` could be, might have TLS on).
    let plain = Server::start_private(&support::server::PrivateOptions::default())
        .unwrap_or_else(|e| panic!("could not start a server without TLS:\n{e}"));
    let connstr = format!("{} sslmode=require", plain.tcp_connstr());
    let name = unique_name("sec_notls");
    let e = pgdblink::connect(Some(&name), &connstr).expect_err("no TLS, no connection");
    assert_eq!(e.sqlstate, "08001");
    assert!(
        e.detail
            .as_deref()
            .unwrap_or_default()
            .contains("server does not support SSL"),
        "{e:?}"
    );
    let e = pgdblink::connect_timeout(Some(&name), &connstr, Duration::from_secs(20))
        .expect_err("no TLS, no connection");
    assert!(
        e.detail
            .as_deref()
            .unwrap_or_default()
            .contains("server does not support SSL"),
        "{e:?}"
    );
}
