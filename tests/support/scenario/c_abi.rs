//! The C world: the same calls through the C ABI (`pgdblink::ffi`).

use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_int};

use pgdblink as pg;
use pgdblink::ffi;

use super::local::on_local_database_c;
use super::outcome::{Value, report_of_error};
use super::parse::Call;
use super::resolve::{Resolved, flag, resolve};
use super::rust::run_rust;
use super::text_array::format_text_array;
use crate::support::oracle::Report;

/// Maps a call to pgdblink's C ABI (the functions of `include/pgdblink.h`,
/// called from Rust), decoding what it returns as a C caller would: 1 for
/// 'OK' and 1/0 for dblink's 1/0, a `char *` for text (freed with
/// `dblink_free`), a `dblink_result *` for rows (read with
/// `dblink_result_ntuples` / `_nfields` / `_getisnull` / `_getvalue`, freed
/// with `dblink_result_free`), and on -1 or NULL the thread's last error
/// (`dblink_last()`). A NULL the call records no error for is dblink's
/// NULL. The overloads resolve as in [`dispatch`](super::rust::dispatch)
/// ([`resolve`]); the C
/// layer must only convert and delegate, so the outcome must be the Rust
/// API's.
///
/// The checks of the C encoding that have no place in a transcript (a
/// success leaves no last error, `dblink_last()` agrees with the
/// `dblink_last_*` readers, a result's status agrees with its error and
/// shape) panic, naming the function.
pub fn dispatch_c(call: &Call, v: &[String]) -> Result<Value, Report> {
    let r = resolve(call, v).map_err(|e| report_of_error("ERROR", &e))?;
    run_c(&call.func, r)
}

/// A C string argument (scenario values come from SQL text, which holds no
/// NUL byte).
pub(super) fn cstring(s: &str) -> CString {
    CString::new(s).unwrap_or_else(|_| panic!("a NUL byte in a C argument: {s:?}"))
}

fn opt_cstring(s: Option<&str>) -> Option<CString> {
    s.map(cstring)
}

fn cptr(s: &Option<CString>) -> *const c_char {
    s.as_ref().map_or(std::ptr::null(), |s| s.as_ptr())
}

/// A C string the C API returned or lent, copied; `None` for NULL.
///
/// # Safety
/// `p` is NULL or a NUL-terminated string valid during the call.
unsafe fn copied(p: *const c_char) -> Option<String> {
    // SAFETY: our caller's promise, passed on.
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
}

/// The thread's last error as `dblink_last()` gives it (`None`: the last
/// call that can fail succeeded), checked against the `dblink_last_*`
/// readers.
fn c_last_error(func: &str) -> Option<Report> {
    let e = ffi::dblink_last();
    // SAFETY: a non-NULL dblink_last() points to the thread's last error,
    // valid until the thread's next call that can fail (none is made here);
    // its strings are NULL or NUL-terminated.
    let report = unsafe { e.as_ref() }.map(|e| unsafe {
        Report {
            severity: "ERROR".to_owned(),
            sqlstate: copied(e.sqlstate).unwrap_or_default(),
            message: copied(e.message).unwrap_or_default(),
            detail: copied(e.detail),
            hint: copied(e.hint),
            context: copied(e.context),
        }
    });
    // SAFETY: the readers return NULL or a NUL-terminated string of the
    // thread's last error, valid as above.
    let readers = unsafe {
        (
            copied(ffi::dblink_last_sqlstate()),
            copied(ffi::dblink_last_error()),
            copied(ffi::dblink_last_detail()),
            copied(ffi::dblink_last_hint()),
            copied(ffi::dblink_last_context()),
        )
    };
    let from_struct = report.as_ref().map_or((None, None, None, None, None), |r| {
        (
            Some(r.sqlstate.clone()),
            Some(r.message.clone()),
            r.detail.clone(),
            r.hint.clone(),
            r.context.clone(),
        )
    });
    assert_eq!(
        from_struct, readers,
        "C {func}: dblink_last() and the dblink_last_* readers disagree"
    );
    report
}

/// After a C call that succeeded: its value, checking that it cleared the
/// thread's last error.
fn c_ok(func: &str, v: Value) -> Result<Value, Report> {
    if let Some(e) = c_last_error(func) {
        panic!("C {func} succeeded, but dblink_last() still holds an error: {e:?}");
    }
    Ok(v)
}

/// A C call's NULL: its ERROR, or dblink's NULL when it recorded none.
fn c_null(func: &str) -> Result<Value, Report> {
    match c_last_error(func) {
        Some(e) => Err(e),
        None => Ok(Value::Scalar(None)),
    }
}

/// An `int` outcome: -1 is the ERROR, else `value(n)` (a -1 that
/// records no error shows as the value '-1').
fn c_int(func: &str, n: c_int, value: impl FnOnce(c_int) -> String) -> Result<Value, Report> {
    if n == -1 {
        if let Some(e) = c_last_error(func) {
            return Err(e);
        }
        return Ok(Value::Scalar(Some(n.to_string())));
    }
    c_ok(func, Value::Scalar(Some(value(n))))
}

/// 'OK' for dblink's 1 (any other int shows as itself).
pub(super) fn c_ok_int(func: &str, n: c_int) -> Result<Value, Report> {
    c_int(
        func,
        n,
        |n| if n == 1 { "OK".into() } else { n.to_string() },
    )
}

/// A `char *` outcome (freed here).
fn c_text(func: &str, p: *mut c_char) -> Result<Value, Report> {
    if p.is_null() {
        return c_null(func);
    }
    // SAFETY: a non-NULL text a C function returned is a NUL-terminated
    // string the caller owns until dblink_free, which follows.
    let text = unsafe { copied(p) };
    // SAFETY: `p` came from pgdblink and is freed once, here.
    unsafe { ffi::dblink_free(p) };
    c_ok(func, Value::Scalar(text))
}

/// A `dblink_result *` outcome as its rows (freed here); `columns`: the
/// column names the function documents, checked.
fn c_rows(func: &str, r: *mut pg::DblinkResult, columns: Option<&[&str]>) -> Result<Value, Report> {
    if r.is_null() {
        return c_null(func);
    }
    let rows = {
        // SAFETY: `r` is a result a C function returned, not yet freed (it
        // is freed after this block); the same for every accessor call here.
        let (status, nt, nf, err, state) = unsafe {
            (
                ffi::dblink_result_status(r),
                ffi::dblink_result_ntuples(r),
                ffi::dblink_result_nfields(r),
                copied(ffi::dblink_result_error_message(r)),
                copied(ffi::dblink_result_sqlstate(r)),
            )
        };
        assert!(
            nt >= 0 && nf >= 0,
            "C {func}: a result of {nt} rows and {nf} columns"
        );
        let is_error = status == pg::Status::Error;
        assert_eq!(
            (is_error, is_error),
            (err.is_some(), state.is_some()),
            "C {func}: a {status:?} result with the error {state:?} {err:?}"
        );
        match status {
            pg::Status::Done => assert_eq!((nt, nf), (0, 0), "C {func}: a Done result's shape"),
            pg::Status::Command => {
                assert_eq!((nt, nf), (1, 1), "C {func}: a Command result's shape");
                // SAFETY: as above.
                let name = unsafe { copied(ffi::dblink_result_fname(r, 0)) };
                assert_eq!(
                    name.as_deref(),
                    Some("status"),
                    "C {func}: a Command result's column"
                );
            }
            _ => {}
        }
        if let Some(want) = columns {
            // SAFETY: as above.
            let got: Vec<Option<String>> = (0..nf)
                .map(|c| unsafe { copied(ffi::dblink_result_fname(r, c)) })
                .collect();
            let want: Vec<Option<String>> = want.iter().map(|c| Some((*c).to_owned())).collect();
            assert_eq!(got, want, "C {func}: the result's columns");
        }
        (0..nt)
            .map(|row| {
                (0..nf)
                    .map(|col| {
                        // SAFETY: as above; the cell's text is valid until
                        // the result is freed, and copied before.
                        let (isnull, v) = unsafe {
                            (
                                ffi::dblink_result_getisnull(r, row, col),
                                copied(ffi::dblink_result_getvalue(r, row, col)),
                            )
                        };
                        match isnull {
                            1 => {
                                assert!(v.is_none(), "C {func}: a NULL cell with a value");
                                None
                            }
                            0 => Some(v.unwrap_or_else(|| {
                                panic!("C {func}: getvalue NULL for a cell that is not NULL")
                            })),
                            n => panic!("C {func}: getisnull({row}, {col}) = {n} in range"),
                        }
                    })
                    .collect()
            })
            .collect()
    };
    // SAFETY: `r` came from pgdblink and is freed once, here.
    unsafe { ffi::dblink_result_free(r) };
    c_ok(func, Value::Rows(rows))
}

pub(super) fn run_c(func: &str, r: Resolved<'_>) -> Result<Value, Report> {
    let f = func;
    let fail_int = |b: bool| c_int::from(b);
    let flag_int = |n: c_int| match n {
        0 | 1 => flag(n == 1),
        n => n.to_string(),
    };
    match r {
        Resolved::Connect { u, name, connstr } => {
            let (name, connstr) = (opt_cstring(name), cstring(connstr));
            // SAFETY: NULL or NUL-terminated strings, alive during the call.
            let n = unsafe {
                if u {
                    ffi::dblink_connect_u(cptr(&name), connstr.as_ptr())
                } else {
                    ffi::dblink_connect(cptr(&name), connstr.as_ptr())
                }
            };
            c_ok_int(f, n)
        }
        Resolved::Disconnect(name) => {
            let name = opt_cstring(name);
            // SAFETY: NULL or a NUL-terminated string, alive during the call.
            c_ok_int(f, unsafe { ffi::dblink_disconnect(cptr(&name)) })
        }
        Resolved::Query {
            exec,
            target,
            sql,
            fail,
        } => {
            let (target, sql) = (opt_cstring(target), cstring(sql));
            if exec {
                // SAFETY: NULL or NUL-terminated strings, alive during the call.
                let p = unsafe { ffi::dblink_exec(cptr(&target), sql.as_ptr(), fail_int(fail)) };
                c_text(f, p)
            } else {
                // SAFETY: as above.
                let r = unsafe { ffi::dblink(cptr(&target), sql.as_ptr(), fail_int(fail)) };
                c_rows(f, r, None)
            }
        }
        Resolved::Open {
            conn,
            cursor,
            sql,
            fail,
        } => {
            let (conn, cursor, sql) = (opt_cstring(conn), cstring(cursor), cstring(sql));
            // SAFETY: NULL or NUL-terminated strings, alive during the call.
            let p = unsafe {
                ffi::dblink_open(cptr(&conn), cursor.as_ptr(), sql.as_ptr(), fail_int(fail))
            };
            c_text(f, p)
        }
        Resolved::Fetch {
            conn,
            cursor,
            count,
            fail,
        } => {
            let (conn, cursor) = (opt_cstring(conn), cstring(cursor));
            // SAFETY: NULL or NUL-terminated strings, alive during the call.
            let r =
                unsafe { ffi::dblink_fetch(cptr(&conn), cursor.as_ptr(), count, fail_int(fail)) };
            c_rows(f, r, None)
        }
        Resolved::Close { conn, cursor, fail } => {
            let (conn, cursor) = (opt_cstring(conn), cstring(cursor));
            // SAFETY: NULL or NUL-terminated strings, alive during the call.
            let p = unsafe { ffi::dblink_close(cptr(&conn), cursor.as_ptr(), fail_int(fail)) };
            c_text(f, p)
        }
        Resolved::SendQuery { conn, sql } => {
            let (conn, sql) = (cstring(conn), cstring(sql));
            // SAFETY: NUL-terminated strings, alive during the call.
            let n = unsafe { ffi::dblink_send_query(conn.as_ptr(), sql.as_ptr()) };
            c_int(f, n, flag_int)
        }
        Resolved::IsBusy(conn) => {
            let conn = cstring(conn);
            // SAFETY: a NUL-terminated string, alive during the call.
            c_int(f, unsafe { ffi::dblink_is_busy(conn.as_ptr()) }, flag_int)
        }
        Resolved::GetResult { conn, fail } => {
            let conn = cstring(conn);
            // SAFETY: a NUL-terminated string, alive during the call.
            let r = unsafe { ffi::dblink_get_result(conn.as_ptr(), fail_int(fail)) };
            c_rows(f, r, None)
        }
        Resolved::CancelQuery(conn) => {
            let conn = cstring(conn);
            // SAFETY: a NUL-terminated string, alive during the call.
            c_text(f, unsafe { ffi::dblink_cancel_query(conn.as_ptr()) })
        }
        Resolved::ErrorMessage(conn) => {
            let conn = cstring(conn);
            // SAFETY: a NUL-terminated string, alive during the call.
            c_text(f, unsafe { ffi::dblink_error_message(conn.as_ptr()) })
        }
        Resolved::GetNotify(conn) => {
            let conn = opt_cstring(conn);
            // SAFETY: NULL or a NUL-terminated string, alive during the call.
            let r = unsafe { ffi::dblink_get_notify(cptr(&conn)) };
            c_rows(f, r, Some(&["notify_name", "be_pid", "extra"][..]))
        }
        Resolved::GetConnections => {
            let names = ffi::dblink_get_connections();
            if names.is_null() {
                return c_null(f);
            }
            let mut list = Vec::new();
            // SAFETY: a non-NULL dblink_get_connections() is a
            // NULL-terminated array of NUL-terminated strings, the caller's
            // until dblink_free_strings, which follows the reads.
            unsafe {
                for k in 0.. {
                    let p = *names.add(k);
                    if p.is_null() {
                        break;
                    }
                    list.extend(copied(p));
                }
                ffi::dblink_free_strings(names);
            }
            list.sort();
            c_ok(f, Value::Scalar(Some(format_text_array(&list))))
        }
        Resolved::GetPkey(rel) => on_local_database_c(|local| {
            let rel = cstring(rel);
            // SAFETY: NUL-terminated strings, alive during the call.
            let r = unsafe { ffi::dblink_get_pkey(local.as_ptr(), rel.as_ptr()) };
            c_rows(f, r, Some(&["position", "colname"][..]))
        }),
        Resolved::BuildInsert {
            update,
            rel,
            pk,
            src,
            tgt,
        } => {
            if src.len() != pk.len() || tgt.len() != pk.len() {
                // The C functions take `pknumatts` values in each array: a
                // C caller cannot pass arrays of another length, so there
                // is no C call to compare (the Rust API's 2202E).
                return run_rust(Resolved::BuildInsert {
                    update,
                    rel,
                    pk,
                    src,
                    tgt,
                })
                .map_err(|e| report_of_error("ERROR", &e));
            }
            on_local_database_c(|local| {
                let rel = cstring(rel);
                let (src, tgt) = (CStrings::new(&src), CStrings::new(&tgt));
                let n = c_int::try_from(pk.len()).unwrap_or(c_int::MAX);
                // SAFETY: NUL-terminated strings; `pk` holds `n` ints and
                // each array `n` pointers, NULL or NUL-terminated strings,
                // all alive during the call.
                let p = unsafe {
                    if update {
                        ffi::dblink_build_sql_update(
                            local.as_ptr(),
                            rel.as_ptr(),
                            pk.as_ptr(),
                            n,
                            src.as_ptr(),
                            tgt.as_ptr(),
                        )
                    } else {
                        ffi::dblink_build_sql_insert(
                            local.as_ptr(),
                            rel.as_ptr(),
                            pk.as_ptr(),
                            n,
                            src.as_ptr(),
                            tgt.as_ptr(),
                        )
                    }
                };
                c_text(f, p)
            })
        }
        Resolved::BuildDelete { rel, pk, tgt } => {
            if tgt.len() != pk.len() {
                // As for insert: not expressible in C.
                return run_rust(Resolved::BuildDelete { rel, pk, tgt })
                    .map_err(|e| report_of_error("ERROR", &e));
            }
            on_local_database_c(|local| {
                let rel = cstring(rel);
                let tgt = CStrings::new(&tgt);
                let n = c_int::try_from(pk.len()).unwrap_or(c_int::MAX);
                // SAFETY: as for insert.
                let p = unsafe {
                    ffi::dblink_build_sql_delete(
                        local.as_ptr(),
                        rel.as_ptr(),
                        pk.as_ptr(),
                        n,
                        tgt.as_ptr(),
                    )
                };
                c_text(f, p)
            })
        }
    }
}

/// A `const char *const *` array argument (NULL entries: SQL NULL).
struct CStrings {
    _owned: Vec<Option<CString>>,
    ptrs: Vec<*const c_char>,
}

impl CStrings {
    fn new(items: &[Option<String>]) -> CStrings {
        let owned: Vec<Option<CString>> = items.iter().map(|s| opt_cstring(s.as_deref())).collect();
        let ptrs = owned.iter().map(cptr).collect();
        CStrings {
            _owned: owned,
            ptrs,
        }
    }

    fn as_ptr(&self) -> *const *const c_char {
        self.ptrs.as_ptr()
    }
}
