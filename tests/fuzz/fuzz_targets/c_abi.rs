//! Fuzz target: pgdblink's C ABI (`pgdblink::ffi`) with arbitrary bytes as C
//! strings (cut at the first NUL, then NUL-terminated: any bytes, not only
//! UTF-8), NULL pointers, negative counts, and arbitrary row/column indexes
//! into the results it returned, against a live throwaway server (see
//! common.rs). Every pointer pgdblink hands out is read in full (so that
//! AddressSanitizer checks it) and freed exactly once.
//!
//! Within the C contract (valid pointers, `n` no larger than the array),
//! nothing may crash, leak or hang, and every failure must leave a
//! well-formed last error.
#![no_main]

use pgdblink_testkit as server;

mod common;

use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_int};

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use pgdblink::{DblinkResult, Status, ffi};

use common::{env, pool_name, pool_sql, safe_connstr, safe_sql};

/// At most this many calls per input.
const MAX_OPS: usize = 48;
/// At most this many results held at once.
const MAX_RESULTS: usize = 8;

/// A C string argument.
#[derive(Arbitrary, Debug)]
enum Arg {
    Null,
    Pool(u8),
    Bytes(Vec<u8>),
}

/// What kind of string an [`Arg`] stands for (its pool and its filter).
#[derive(Clone, Copy)]
enum Kind {
    Name,
    Sql,
    Connstr,
    Cursor,
}

/// A C string (or NULL) built from an [`Arg`]; owns its bytes.
struct CArg(Option<CString>);

impl CArg {
    fn new(arg: &Arg, kind: Kind) -> CArg {
        let text = match arg {
            Arg::Null => return CArg(None),
            Arg::Pool(i) => match kind {
                Kind::Name => pool_name(*i).as_bytes().to_vec(),
                Kind::Sql => pool_sql(*i).as_bytes().to_vec(),
                Kind::Connstr if i % 2 == 0 => env().good.as_bytes().to_vec(),
                Kind::Connstr => env().dead.as_bytes().to_vec(),
                Kind::Cursor => {
                    let pool = common::CURSOR_POOL;
                    pool[usize::from(*i) % pool.len()].as_bytes().to_vec()
                }
            },
            Arg::Bytes(bytes) => {
                let cut = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
                let bytes = &bytes[..cut];
                let lossy = String::from_utf8_lossy(bytes);
                let safe = match kind {
                    // An unknown name passed to dblink/dblink_exec is a connstr.
                    Kind::Name | Kind::Connstr => safe_connstr(&lossy),
                    Kind::Sql | Kind::Cursor => safe_sql(&lossy, 0) == lossy,
                };
                if safe {
                    bytes.to_vec()
                } else if let Kind::Connstr = kind {
                    env().good.as_bytes().to_vec()
                } else {
                    pool_name(0).as_bytes().to_vec()
                }
            }
        };
        CArg(Some(CString::new(text).expect("cut at the first NUL")))
    }

    fn ptr(&self) -> *const c_char {
        self.0.as_ref().map_or(std::ptr::null(), |c| c.as_ptr())
    }
}

/// An array of C strings and its pointers (kept alive together).
struct CArray {
    _items: Vec<CArg>,
    ptrs: Vec<*const c_char>,
}

impl CArray {
    fn new(args: &[Arg], kind: Kind) -> CArray {
        let items: Vec<CArg> = args.iter().take(6).map(|a| CArg::new(a, kind)).collect();
        let ptrs = items.iter().map(CArg::ptr).collect();
        CArray {
            _items: items,
            ptrs,
        }
    }

    /// The array pointer (NULL when asked) and a count within the contract:
    /// the length, something smaller, or negative.
    fn args(&self, null: bool, count: i8) -> (*const *const c_char, c_int) {
        let len = c_int::try_from(self.ptrs.len()).unwrap_or(0);
        let n = if count < 0 {
            c_int::from(count)
        } else {
            c_int::from(count).min(len)
        };
        let p = if null {
            std::ptr::null()
        } else {
            self.ptrs.as_ptr()
        };
        (p, n)
    }
}

#[derive(Arbitrary, Debug)]
enum Op {
    Connect(Arg, Arg),
    ConnectU(Arg, Arg),
    ConnectTimeout(Arg, Arg, i8),
    ConnectAll(Vec<Arg>, Vec<Arg>, bool, i8, u8, bool),
    Disconnect(Arg),
    DisconnectAll,
    GetConnections,
    SendQuery(Arg, Arg),
    SendQueryParams(Arg, Arg, Vec<Arg>, bool, i8),
    SendQueryChunked(Arg, Arg, i32),
    IsBusy(Arg),
    GetResultTimeout(Arg, bool, u8),
    Cancel(Arg, i8),
    ErrorMessage(Arg),
    GetNotify(Arg),
    Dblink(Arg, Arg, i32),
    DblinkParams(Arg, Arg, Vec<Arg>, bool, i8, i32),
    Exec(Arg, Arg, i32),
    Open(Arg, Arg, Arg, i32),
    Fetch(Arg, Arg, c_int, i32),
    Close(Arg, Arg, i32),
    WaitAny(Vec<Arg>, bool, i8, u8),
    WaitAll(Vec<Arg>, bool, i8, u8),
    Socket(Arg),
    ConsumeInput(Arg),
    Reset(Arg),
    // On the results held (index wraps; NULL when none is held).
    Ntuples(u8),
    Nfields(u8),
    Fname(u8, c_int),
    GetValue(u8, c_int, c_int),
    GetIsNull(u8, c_int, c_int),
    ResultStatus(u8),
    ResultError(u8),
    Free(u8),
    FreeNull,
    LastError,
}

/// Reads a C string pgdblink returned, in full.
fn read(p: *const c_char) -> Option<Vec<u8>> {
    // SAFETY: pgdblink returns NULL or a NUL-terminated string valid until
    // the next call on this thread (or until freed).
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_bytes().to_vec())
}

/// The thread's last error must be well formed (or absent).
fn check_last_error() {
    let message = read(ffi::dblink_last_error());
    let sqlstate = read(ffi::dblink_last_sqlstate());
    let detail = read(ffi::dblink_last_detail());
    let hint = read(ffi::dblink_last_hint());
    let context = read(ffi::dblink_last_context());
    match (&message, &sqlstate) {
        (Some(m), Some(s)) => {
            assert!(!m.is_empty(), "empty last error");
            assert_eq!(s.len(), 5, "bad last SQLSTATE {s:?}");
        }
        (None, None) => assert!(detail.is_none() && hint.is_none() && context.is_none()),
        _ => panic!("last error and SQLSTATE disagree: {message:?} {sqlstate:?}"),
    }
}

/// After a call that returned its failure value, an error is set.
fn failed(what: &str) {
    assert!(
        !ffi::dblink_last_error().is_null(),
        "{what} failed without a last error"
    );
    check_last_error();
}

/// An accessor's outcome: it never touches the thread's last error (the
/// same pointer before and after), and fails exactly on a bad argument.
fn quiet(what: &str, before: *const std::os::raw::c_char, failed: bool, bad: bool) {
    assert_eq!(ffi::dblink_last_error(), before, "{what} touched the last error");
    assert_eq!(failed, bad, "{what}: failure value iff a bad argument");
}

/// An int outcome: -1 must come with a last error, anything else without.
fn int_outcome(what: &str, v: c_int) {
    if v == -1 {
        failed(what);
    } else {
        assert!(
            ffi::dblink_last_error().is_null(),
            "{what} = {v} left an error"
        );
    }
}

/// A returned string: read it, free it.
fn text_outcome(what: &str, p: *mut c_char) {
    if p.is_null() {
        failed(what);
    } else {
        read(p);
        // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
        unsafe { ffi::dblink_free(p) };
    }
}

struct State {
    results: Vec<*mut DblinkResult>,
}

impl State {
    fn keep(&mut self, what: &str, r: *mut DblinkResult) {
        if r.is_null() {
            failed(what);
            return;
        }
        // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
        let status = unsafe { ffi::dblink_result_status(r) };
        // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
        let n = unsafe { ffi::dblink_result_ntuples(r) };
        // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
        let f = unsafe { ffi::dblink_result_nfields(r) };
        assert!(n >= 0 && f >= 0);
        if status == Status::Done {
            assert_eq!((n, f), (0, 0));
        }
        // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
        let error = read(unsafe { ffi::dblink_result_error_message(r) });
        assert_eq!(error.is_some(), status == Status::Error);
        if self.results.len() >= MAX_RESULTS {
            // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
            unsafe { ffi::dblink_result_free(self.results.remove(0)) };
        }
        self.results.push(r);
    }

    fn pick(&self, i: u8) -> *const DblinkResult {
        if self.results.is_empty() {
            std::ptr::null()
        } else {
            self.results[usize::from(i) % self.results.len()]
        }
    }

    fn free_all(&mut self) {
        for r in self.results.drain(..) {
            // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
            unsafe { ffi::dblink_result_free(r) };
        }
    }
}

/// A bounded C timeout: 0..=50 ms.
fn short(ms: u8) -> c_int {
    c_int::from(ms % 51)
}

fn run(state: &mut State, op: &Op) {
    use Kind::*;
    match op {
        Op::Connect(n, c) => {
            let (n, c) = (CArg::new(n, Name), CArg::new(c, Connstr));
            // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
            int_outcome("dblink_connect", unsafe { ffi::dblink_connect(n.ptr(), c.ptr()) });
        }
        Op::ConnectU(n, c) => {
            let (n, c) = (CArg::new(n, Name), CArg::new(c, Connstr));
            // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
            int_outcome("dblink_connect_u", unsafe { ffi::dblink_connect_u(n.ptr(), c.ptr()) });
        }
        Op::ConnectTimeout(n, c, ms) => {
            let (n, c) = (CArg::new(n, Name), CArg::new(c, Connstr));
            // Negative: no bound beyond the connstr's (ours fail or succeed fast).
            let ms = if *ms < 0 { -1 } else { c_int::from(*ms) + 20 };
            // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
            let v = unsafe { ffi::dblink_connect_timeout(n.ptr(), c.ptr(), ms) };
            int_outcome("dblink_connect_timeout", v);
        }
        Op::ConnectAll(names, connstrs, null, count, ms, want_ok) => {
            let names = CArray::new(names, Name);
            let connstrs = CArray::new(connstrs, Connstr);
            let len = names.ptrs.len().min(connstrs.ptrs.len());
            let count = (*count).min(i8::try_from(len).unwrap_or(i8::MAX));
            let (np, n) = names.args(*null, count);
            let (cp, _) = connstrs.args(false, count);
            let mut ok = vec![7 as c_int; len];
            let okp = if *want_ok {
                ok.as_mut_ptr()
            } else {
                std::ptr::null_mut()
            };
            // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
            let opened = unsafe { ffi::dblink_connect_all(np, cp, n, c_int::from(*ms) + 20, okp) };
            if opened == -1 {
                failed("dblink_connect_all");
            } else {
                assert!((0..=n).contains(&opened), "opened {opened} of {n}");
                if *want_ok {
                    let n = usize::try_from(n).unwrap_or(0);
                    assert!(ok[..n].iter().all(|&v| v == 0 || v == 1));
                    assert_eq!(ok[..n].iter().sum::<c_int>(), opened);
                }
            }
        }
        Op::Disconnect(n) => {
            let n = CArg::new(n, Name);
            // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
            int_outcome("dblink_disconnect", unsafe { ffi::dblink_disconnect(n.ptr()) });
        }
        Op::DisconnectAll => {
            ffi::dblink_disconnect_all();
            assert!(ffi::dblink_get_connections().is_null());
        }
        Op::GetConnections => {
            let list = ffi::dblink_get_connections();
            if !list.is_null() {
                for i in 0.. {
                    // SAFETY: a NULL-terminated array; we stop at the NULL.
                    let p = unsafe { *list.add(i) };
                    if p.is_null() {
                        break;
                    }
                    read(p);
                }
            }
            // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
            unsafe { ffi::dblink_free_strings(list) };
        }
        Op::SendQuery(n, s) => {
            let (n, s) = (CArg::new(n, Name), CArg::new(s, Sql));
            int_outcome(
                "dblink_send_query",
                // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
                unsafe { ffi::dblink_send_query(n.ptr(), s.ptr()) },
            );
        }
        Op::SendQueryParams(n, s, values, null, count) => {
            let (n, s) = (CArg::new(n, Name), CArg::new(s, Sql));
            let values = CArray::new(values, Sql);
            let (vp, vn) = values.args(*null, *count);
            // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
            let v = unsafe { ffi::dblink_send_query_params(n.ptr(), s.ptr(), vn, vp) };
            int_outcome("dblink_send_query_params", v);
        }
        Op::SendQueryChunked(n, s, rows) => {
            let (n, s) = (CArg::new(n, Name), CArg::new(s, Sql));
            // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
            let v = unsafe { ffi::dblink_send_query_chunked(n.ptr(), s.ptr(), *rows) };
            int_outcome("dblink_send_query_chunked", v);
        }
        Op::IsBusy(n) => {
            let n = CArg::new(n, Name);
            // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
            int_outcome("dblink_is_busy", unsafe { ffi::dblink_is_busy(n.ptr()) });
        }
        Op::GetResultTimeout(n, fail, ms) => {
            let n = CArg::new(n, Name);
            // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
            let r = unsafe { ffi::dblink_get_result_timeout(n.ptr(), c_int::from(*fail), c_int::from(*ms)) };
            state.keep("dblink_get_result_timeout", r);
        }
        Op::Cancel(n, ms) => {
            let n = CArg::new(n, Name);
            // Negative: the 30 s default (a local cancel takes milliseconds).
            // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
            let t = unsafe { ffi::dblink_cancel_query_timeout(n.ptr(), c_int::from(*ms).max(-1) * 10) };
            text_outcome("dblink_cancel_query_timeout", t);
        }
        Op::ErrorMessage(n) => {
            let n = CArg::new(n, Name);
            // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
            text_outcome("dblink_error_message", unsafe { ffi::dblink_error_message(n.ptr()) });
        }
        Op::GetNotify(n) => {
            let n = CArg::new(n, Name);
            // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
            state.keep("dblink_get_notify", unsafe { ffi::dblink_get_notify(n.ptr()) });
        }
        Op::Dblink(t, s, fail) => {
            let (t, s) = (CArg::new(t, Name), CArg::new(s, Sql));
            // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
            state.keep("dblink", unsafe { ffi::dblink(t.ptr(), s.ptr(), *fail) });
        }
        Op::DblinkParams(t, s, values, null, count, fail) => {
            let (t, s) = (CArg::new(t, Name), CArg::new(s, Sql));
            let values = CArray::new(values, Sql);
            let (vp, vn) = values.args(*null, *count);
            // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
            let r = unsafe { ffi::dblink_params(t.ptr(), s.ptr(), vn, vp, *fail) };
            state.keep("dblink_params", r);
        }
        Op::Exec(t, s, fail) => {
            let (t, s) = (CArg::new(t, Name), CArg::new(s, Sql));
            // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
            text_outcome("dblink_exec", unsafe { ffi::dblink_exec(t.ptr(), s.ptr(), *fail) });
        }
        Op::Open(n, c, s, fail) => {
            let (n, c, s) = (CArg::new(n, Name), CArg::new(c, Cursor), CArg::new(s, Sql));
            // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
            let t = unsafe { ffi::dblink_open(n.ptr(), c.ptr(), s.ptr(), *fail) };
            text_outcome("dblink_open", t);
        }
        Op::Fetch(n, c, howmany, fail) => {
            let (n, c) = (CArg::new(n, Name), CArg::new(c, Cursor));
            // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
            let r = unsafe { ffi::dblink_fetch(n.ptr(), c.ptr(), *howmany, *fail) };
            state.keep("dblink_fetch", r);
        }
        Op::Close(n, c, fail) => {
            let (n, c) = (CArg::new(n, Name), CArg::new(c, Cursor));
            // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
            text_outcome("dblink_close", unsafe { ffi::dblink_close(n.ptr(), c.ptr(), *fail) });
        }
        Op::WaitAny(names, null, count, ms) | Op::WaitAll(names, null, count, ms) => {
            let names = CArray::new(names, Name);
            let (p, n) = names.args(*null, *count);
            if let Op::WaitAny(..) = op {
                // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
                let v = unsafe { ffi::dblink_wait_any(p, n, short(*ms)) };
                if v == -1 {
                    failed("dblink_wait_any");
                } else {
                    assert!(v == ffi::DBLINK_TIMED_OUT || (0..n).contains(&v), "{v}");
                }
            } else {
                // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
                int_outcome("dblink_wait_all", unsafe { ffi::dblink_wait_all(p, n, short(*ms)) });
            }
        }
        Op::Socket(n) => {
            let n = CArg::new(n, Name);
            // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
            let fd = unsafe { ffi::dblink_socket(n.ptr()) };
            if fd == -1 && !ffi::dblink_last_error().is_null() {
                check_last_error();
            }
        }
        Op::ConsumeInput(n) => {
            let n = CArg::new(n, Name);
            // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
            int_outcome("dblink_consume_input", unsafe { ffi::dblink_consume_input(n.ptr()) });
        }
        Op::Reset(n) => {
            let n = CArg::new(n, Name);
            // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
            int_outcome("dblink_reset", unsafe { ffi::dblink_reset(n.ptr()) });
        }
        Op::Ntuples(i) => {
            let r = state.pick(*i);
            let before = ffi::dblink_last_error();
            // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
            let v = unsafe { ffi::dblink_result_ntuples(r) };
            quiet("dblink_result_ntuples", before, v == -1, r.is_null());
        }
        Op::Nfields(i) => {
            let r = state.pick(*i);
            let before = ffi::dblink_last_error();
            // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
            let v = unsafe { ffi::dblink_result_nfields(r) };
            quiet("dblink_result_nfields", before, v == -1, r.is_null());
        }
        Op::Fname(i, col) => {
            let r = state.pick(*i);
            // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
            let p = unsafe { ffi::dblink_result_fname(r, *col) };
            // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
            let in_range = !r.is_null() && (0..unsafe { ffi::dblink_result_nfields(r) }).contains(col);
            assert_eq!(!p.is_null(), in_range, "fname({col})");
            read(p);
        }
        Op::GetValue(i, row, col) | Op::GetIsNull(i, row, col) => {
            let r = state.pick(*i);
            let in_range = !r.is_null()
                // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
                && (0..unsafe { ffi::dblink_result_ntuples(r) }).contains(row)
                // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
                && (0..unsafe { ffi::dblink_result_nfields(r) }).contains(col);
            let before = ffi::dblink_last_error();
            // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
            let value = unsafe { ffi::dblink_result_getvalue(r, *row, *col) };
            read(value);
            // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
            let is_null = unsafe { ffi::dblink_result_getisnull(r, *row, *col) };
            assert_eq!(is_null == -1, !in_range, "getisnull({row}, {col})");
            assert!(in_range || value.is_null(), "getvalue({row}, {col}) out of range");
            quiet("dblink_result_getvalue", before, false, false);
            if in_range {
                assert_eq!(is_null == 1, value.is_null(), "getvalue vs getisnull");
            }
        }
        Op::ResultStatus(i) => {
            let r = state.pick(*i);
            // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
            let status = unsafe { ffi::dblink_result_status(r) };
            if r.is_null() {
                assert_eq!(status, Status::Error);
            }
        }
        Op::ResultError(i) => {
            let r = state.pick(*i);
            // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
            let message = read(unsafe { ffi::dblink_result_error_message(r) });
            // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
            let sqlstate = read(unsafe { ffi::dblink_result_sqlstate(r) });
            assert_eq!(message.is_some(), sqlstate.is_some());
            if let Some(s) = sqlstate {
                assert_eq!(s.len(), 5);
            }
        }
        Op::Free(i) => {
            if !state.results.is_empty() {
                let k = usize::from(*i) % state.results.len();
                // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
                unsafe { ffi::dblink_result_free(state.results.remove(k)) };
            }
        }
        Op::FreeNull => {
            // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
            unsafe { ffi::dblink_result_free(std::ptr::null_mut()) };
            // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
            unsafe { ffi::dblink_free(std::ptr::null_mut()) };
            // SAFETY: C strings and pointers from this test, valid for the call (the # Safety contract).
            unsafe { ffi::dblink_free_strings(std::ptr::null_mut()) };
        }
        Op::LastError => check_last_error(),
    }
}

fuzz_target!(
    init: {
        common::clear_libpq_env();
        env();
    },
    |ops: Vec<Op>| {
        let mut state = State { results: Vec::new() };
        for op in ops.iter().take(MAX_OPS) {
            run(&mut state, op);
        }
        state.free_all();
        ffi::dblink_disconnect_all();
    }
);
