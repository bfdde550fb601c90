//! C entry points beyond dblink: waiting on many connections, event-loop
//! integration, parameters, timeouts.

use std::os::raw::{c_char, c_int};
use std::time::Duration;

use super::{bool_int, cstr, guard, result::result_out, text_out};
use crate::api;
use crate::result::DblinkResult;

/// Returned by `dblink_wait_any` when the timeout passed first.
pub const DBLINK_TIMED_OUT: c_int = -2;

/// A C timeout in milliseconds: negative waits forever.
fn timeout_ms(ms: c_int) -> Option<Duration> {
    u64::try_from(ms).ok().map(Duration::from_millis)
}

/// Waits, without busy polling, until at least one of the `n` named
/// connections has a result ready (`dblink_get_result` would not block).
/// `timeout_ms` < 0 waits forever. Returns the lowest index (into `names`)
/// of a ready connection, DBLINK_TIMED_OUT when the timeout passed, -1 on
/// ERROR (e.g. an unknown name). Holds no lock while it waits.
#[unsafe(no_mangle)]
pub extern "C" fn dblink_wait_any(
    names: *const *const c_char,
    n: c_int,
    timeout_ms_: c_int,
) -> c_int {
    guard(|| {
        let names = cstr::args(names, n, "name")?;
        let ready = api::wait_any(&names, timeout_ms(timeout_ms_))?;
        Ok(ready.first().map_or(DBLINK_TIMED_OUT, |&i| {
            c_int::try_from(i).unwrap_or(c_int::MAX)
        }))
    })
}

/// Waits until every one of the `n` named connections has a result ready.
/// 1 when they all have, 0 when the timeout passed first, -1 on ERROR.
#[unsafe(no_mangle)]
pub extern "C" fn dblink_wait_all(
    names: *const *const c_char,
    n: c_int,
    timeout_ms_: c_int,
) -> c_int {
    guard(|| {
        let names = cstr::args(names, n, "name")?;
        bool_int(api::wait_all(&names, timeout_ms(timeout_ms_)))
    })
}

/// The connection's socket (`PQsocket`) for a host's own event loop: when
/// it is readable, call `dblink_consume_input`, then `dblink_is_busy`. Do not
/// close it. -1 on ERROR.
#[unsafe(no_mangle)]
pub extern "C" fn dblink_socket(connname: *const c_char) -> c_int {
    guard(|| api::socket(cstr::opt_arg(connname, "connname")?))
}

/// Reads what the server has sent without waiting (`PQconsumeInput`): 1 on
/// success, 0 when reading failed (see `dblink_error_message`), -1 on ERROR.
#[unsafe(no_mangle)]
pub extern "C" fn dblink_consume_input(connname: *const c_char) -> c_int {
    guard(|| bool_int(api::consume_input(cstr::opt_arg(connname, "connname")?)))
}

/// `dblink_send_query` with `$1`..`$n` bound to `values` as text (a NULL
/// entry is SQL NULL; the server infers the types): nothing is spliced into
/// the SQL. 1 dispatched, 0 not, -1 on ERROR.
#[unsafe(no_mangle)]
pub extern "C" fn dblink_send_query_params(
    connname: *const c_char,
    sql: *const c_char,
    nparams: c_int,
    values: *const *const c_char,
) -> c_int {
    guard(|| {
        let name = cstr::opt_arg(connname, "connname")?;
        let params = cstr::opt_args(values, nparams, "parameter")?;
        bool_int(api::send_query_params(
            name,
            cstr::arg(sql, "sql")?,
            &params,
        ))
    })
}

/// `dblink` with `$1`..`$n` bound to `values` as text (NULL entries are SQL
/// NULL). Otherwise as `dblink`.
#[unsafe(no_mangle)]
pub extern "C" fn dblink_params(
    conn_or_connstr: *const c_char,
    sql: *const c_char,
    nparams: c_int,
    values: *const *const c_char,
    fail_on_error: c_int,
) -> *mut DblinkResult {
    guard(|| {
        let target = cstr::opt_arg(conn_or_connstr, "conn_or_connstr")?;
        let params = cstr::opt_args(values, nparams, "parameter")?;
        result_out(api::dblink_params(
            target,
            cstr::arg(sql, "sql")?,
            &params,
            fail_on_error != 0,
        ))
    })
}

/// `dblink_get_result` that gives up after `timeout_ms` (< 0: never) with
/// ERROR 57014 `timed out ...`; the query keeps running and a later call can
/// still collect its results.
#[unsafe(no_mangle)]
pub extern "C" fn dblink_get_result_timeout(
    connname: *const c_char,
    fail_on_error: c_int,
    timeout_ms_: c_int,
) -> *mut DblinkResult {
    guard(|| {
        let name = cstr::opt_arg(connname, "connname")?;
        let timeout = timeout_ms(timeout_ms_);
        result_out(match timeout {
            Some(t) => api::get_result_timeout(name, fail_on_error != 0, t),
            None => api::get_result(name, fail_on_error != 0),
        })
    })
}

/// `dblink_cancel_query` whose request may take at most `timeout_ms`
/// (< 0: the 30 s default); past it the text is `cancel request timed out`.
#[unsafe(no_mangle)]
pub extern "C" fn dblink_cancel_query_timeout(
    connname: *const c_char,
    timeout_ms_: c_int,
) -> *mut c_char {
    guard(|| {
        let name = cstr::opt_arg(connname, "connname")?;
        let timeout = timeout_ms(timeout_ms_).unwrap_or(api::DEFAULT_CANCEL_TIMEOUT);
        text_out(api::cancel_query_timeout(name, timeout))
    })
}

/// `dblink_send_query` whose results stream: each `dblink_get_result`
/// returns the next chunk of at most `max_rows` rows (DBLINK_STATUS_TUPLES),
/// an empty TUPLES result ends each result set, then DBLINK_STATUS_DONE.
/// Memory stays bounded whatever the result's size. 1 dispatched, 0 not, -1
/// on ERROR.
#[unsafe(no_mangle)]
pub extern "C" fn dblink_send_query_chunked(
    connname: *const c_char,
    sql: *const c_char,
    max_rows: c_int,
) -> c_int {
    guard(|| {
        let name = cstr::opt_arg(connname, "connname")?;
        let rows = cstr::index(max_rows, "max_rows")?;
        bool_int(api::send_query_chunked(name, cstr::arg(sql, "sql")?, rows))
    })
}

/// `dblink_connect` that gives up after `timeout_ms` (< 0: no limit beyond
/// the connection string's connect_timeout): -1 with 08001 `could not
/// establish connection`, DETAIL `timed out after N ms`.
#[unsafe(no_mangle)]
pub extern "C" fn dblink_connect_timeout(
    connname: *const c_char,
    connstr: *const c_char,
    timeout_ms_: c_int,
) -> c_int {
    guard(|| {
        let name = cstr::opt_arg(connname, "connname")?;
        let connstr = cstr::arg(connstr, "connstr")?;
        super::ok_int(match timeout_ms(timeout_ms_) {
            Some(t) => api::connect_timeout(name, connstr, t),
            None => api::connect(name, connstr),
        })
    })
}

/// Opens `n` named connections in parallel (non-blocking connects driven
/// together), bounded by `timeout_ms` (< 0: no bound). `ok`, when not NULL,
/// receives 1 or 0 per connection. Returns the number opened; the last
/// failure's ERROR is kept in `dblink_last_error` when some failed. -1 on
/// bad arguments.
#[unsafe(no_mangle)]
pub extern "C" fn dblink_connect_all(
    names: *const *const c_char,
    connstrs: *const *const c_char,
    n: c_int,
    timeout_ms_: c_int,
    ok: *mut c_int,
) -> c_int {
    let mut last_failure = None;
    let opened = guard(|| {
        let names = cstr::args(names, n, "name")?;
        let connstrs = cstr::args(connstrs, n, "connstr")?;
        let targets: Vec<(&str, &str)> = names.into_iter().zip(connstrs).collect();
        let outcomes = api::connect_all(&targets, timeout_ms(timeout_ms_));
        let flags: Vec<c_int> = outcomes.iter().map(|o| c_int::from(o.is_ok())).collect();
        cstr::write_ints(ok, &flags);
        last_failure = outcomes.into_iter().filter_map(|o| o.err()).next_back();
        Ok(flags.iter().sum::<c_int>())
    });
    if let Some(err) = last_failure {
        super::last_error::set(err);
    }
    opened
}

/// Reconnects a connection with its original parameters (`PQreset`), e.g.
/// after a server restart. 1 for 'OK'; -1 on ERROR (08003, or 08006 with
/// libpq's message when the server cannot be reached).
#[unsafe(no_mangle)]
pub extern "C" fn dblink_reset(connname: *const c_char) -> c_int {
    guard(|| super::ok_int(api::reset(cstr::opt_arg(connname, "connname")?)))
}

/// `dblink_connect_poll`: connected; the name is ready for use.
pub const DBLINK_CONNECT_READY: c_int = 1;
/// `dblink_connect_poll`: call again when `dblink_socket` is readable.
pub const DBLINK_CONNECT_READING: c_int = 2;
/// `dblink_connect_poll`: call again when `dblink_socket` is writable.
pub const DBLINK_CONNECT_WRITING: c_int = 3;

/// Starts a non-blocking connect (`PQconnectStart`) under `connname`; drive
/// it with `dblink_connect_poll`, waiting on `dblink_socket` in between. Many
/// connects can be in flight at once. The name is taken at once (42710 when
/// in use). 1 when started; -1 on ERROR (08001 for a connection string libpq
/// rejects outright).
#[unsafe(no_mangle)]
pub extern "C" fn dblink_connect_start(connname: *const c_char, connstr: *const c_char) -> c_int {
    guard(|| {
        let name = cstr::opt_arg(connname, "connname")?;
        super::ok_int(api::connect_start(name, cstr::arg(connstr, "connstr")?))
    })
}

/// One non-blocking step of a connect begun by `dblink_connect_start`
/// (`PQconnectPoll`): DBLINK_CONNECT_READY, DBLINK_CONNECT_READING or
/// DBLINK_CONNECT_WRITING (wait on `dblink_socket` for that, then call
/// again), or -1 on ERROR: 08001 `could not establish connection` with
/// libpq's message as detail, and the name is released. The caller bounds
/// the total wait (a connect timeout).
#[unsafe(no_mangle)]
pub extern "C" fn dblink_connect_poll(connname: *const c_char) -> c_int {
    guard(|| {
        Ok(
            match api::connect_poll(cstr::opt_arg(connname, "connname")?)? {
                api::ConnectProgress::Ready => DBLINK_CONNECT_READY,
                api::ConnectProgress::Reading(_) => DBLINK_CONNECT_READING,
                api::ConnectProgress::Writing(_) => DBLINK_CONNECT_WRITING,
            },
        )
    })
}
