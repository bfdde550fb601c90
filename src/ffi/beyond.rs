//! C entry points beyond dblink: waiting on many connections, event-loop
//! integration, parameters, timeouts.

use std::os::raw::{c_char, c_int};
use std::time::Duration;

use super::{bool_int, cstr, guard, result::result_out, text_out};
use crate::api;
use crate::result::DblinkResult;

/// Returned by `dblink_wait_any` and `dblink_wait_ready` when `timeout_ms`
/// passed first (never an index or a count, and distinct from -1, the ERROR
/// value).
pub const DBLINK_TIMED_OUT: c_int = -2;

/// A C timeout in milliseconds: -1 waits forever; any other negative value
/// is the ERROR 22023.
fn c_timeout(ms: c_int) -> crate::Result<Option<Duration>> {
    match ms {
        -1 => Ok(None),
        ms => u64::try_from(ms)
            .map(|ms| Some(Duration::from_millis(ms)))
            .map_err(|_| {
                crate::Error::new(
                    crate::sqlstate::INVALID_PARAMETER_VALUE,
                    format!("timeout_ms must be -1 (no timeout) or at least 0, not {ms}"),
                )
            }),
    }
}

/// Waits, without busy polling, until at least one of the `n` named
/// connections has a result ready (`dblink_get_result` would not block).
/// `names` holds `n` connection names (named connections only; a NULL entry
/// is the ERROR 22004). `timeout_ms` -1 waits forever (other negative values: 22023). A connection with no
/// query in progress, or a broken one, counts as ready. Returns the lowest
/// index (into `names`) of a ready connection, DBLINK_TIMED_OUT when the
/// timeout passed (or `n` is 0), -1 on ERROR (e.g. 08003 for an unknown
/// name). Uses poll(2), no busy loop, and holds no lock while it waits. Not
/// a dblink function.
///
/// ```c
/// const char *names[] = {"a", "b", "c"};
/// int i = dblink_wait_any(names, 3, 10000);
/// if (i >= 0) {
///     dblink_result *r = dblink_get_result(names[i], 1);   // does not block
///     // ... the rows of names[i] ...
///     dblink_result_free(r);
/// } else if (i == DBLINK_TIMED_OUT) fprintf(stderr, "nothing after 10 s\n");
/// else fprintf(stderr, "%s\n", dblink_last_error());
/// ```
///
/// # Safety
///
/// - `names` is NULL or points to as many readable pointers as its count says, each NULL or a NUL-terminated string, all valid during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dblink_wait_any(
    names: *const *const c_char,
    n: c_int,
    timeout_ms: c_int,
) -> c_int {
    // SAFETY: the caller keeps the contract of `# Safety` above, which is what the pointer helpers require.
    guard(|| unsafe {
        let names = cstr::args(names, n, "name")?;
        let ready = api::wait_any(&names, c_timeout(timeout_ms)?)?;
        Ok(ready.first().map_or(DBLINK_TIMED_OUT, |&i| {
            c_int::try_from(i).unwrap_or(c_int::MAX)
        }))
    })
}

/// Waits until every one of the `n` named connections has a result ready,
/// as `dblink_wait_any` waits (`timeout_ms` -1: forever). 1 when they all
/// have (at once when `n` is 0), 0 when the timeout passed first, -1 on
/// ERROR (e.g. 08003 for an unknown name). Not a dblink function.
///
/// # Safety
///
/// - `names` is NULL or points to as many readable pointers as its count says, each NULL or a NUL-terminated string, all valid during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dblink_wait_all(
    names: *const *const c_char,
    n: c_int,
    timeout_ms: c_int,
) -> c_int {
    // SAFETY: the caller keeps the contract of `# Safety` above, which is what the pointer helpers require.
    guard(|| unsafe {
        let names = cstr::args(names, n, "name")?;
        bool_int(api::wait_all(&names, c_timeout(timeout_ms)?))
    })
}

/// Waits, as `dblink_wait_any` does, until at least one of the `n` named
/// connections has a result ready, then writes the index (into `names`,
/// ascending) of EVERY ready connection into `ready`, which has room for
/// `n` ints, and returns how many it wrote. DBLINK_TIMED_OUT when the
/// timeout passed first (or `n` is 0), -1 on ERROR (e.g. 08003 for an
/// unknown name, 22004 for a NULL `ready`). One call hands back every
/// connection that became ready at once, so gathering N results costs one
/// poll per wake-up and reads only the sockets that have data. Not a dblink
/// function.
///
/// ```c
/// int ready[3], pending = 3;
/// const char *names[] = {"a", "b", "c"};
/// // ... dblink_send_query on each ...
/// while (pending > 0) {
///     int k = dblink_wait_ready(names, 3, ready, 10000);
///     if (k < 0) break;                       // DBLINK_TIMED_OUT or -1
///     for (int j = 0; j < k; j++) { dblink_result *r = dblink_get_result(names[ready[j]], 1); dblink_result_free(r); }
/// }
/// ```
///
/// # Safety
///
/// - `names` is NULL or points to as many readable pointers as its count says, each NULL or a NUL-terminated string, all valid during the call.
/// - `ready` is NULL or points to as many writable ints as the count argument says.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dblink_wait_ready(
    names: *const *const c_char,
    n: c_int,
    ready: *mut c_int,
    timeout_ms: c_int,
) -> c_int {
    // SAFETY: the caller keeps the contract of `# Safety` above, which is what the pointer helpers require.
    guard(|| unsafe {
        let names = cstr::args(names, n, "name")?;
        let timeout = c_timeout(timeout_ms)?;
        if ready.is_null() {
            return Err(crate::Error::null_argument("ready"));
        }
        let found = api::wait_any(&names, timeout)?;
        if found.is_empty() {
            return Ok(DBLINK_TIMED_OUT);
        }
        let indexes: Vec<c_int> = found
            .iter()
            .map(|&i| c_int::try_from(i).unwrap_or(c_int::MAX))
            .collect();
        cstr::write_indexes(ready, names.len(), &indexes, "ready")?;
        Ok(c_int::try_from(indexes.len()).unwrap_or(c_int::MAX))
    })
}

/// The connection's socket (`PQsocket`) for a host's own event loop (epoll,
/// select, libuv): when it is readable, call `dblink_consume_input`, then
/// `dblink_is_busy`; when that is 0, `dblink_get_result` will not block.
/// The descriptor belongs to the connection: do not close it, and stop
/// watching it before `dblink_disconnect`. It may change after
/// `dblink_reset`. Also valid during `dblink_connect_start`. -1 on ERROR
/// (08003), or when the connection has no socket (then `dblink_last_error()`
/// is NULL). Not a dblink function.
///
/// # Safety
///
/// - `connname` is NULL or points to a NUL-terminated string that stays valid and unchanged during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dblink_socket(connname: *const c_char) -> c_int {
    // SAFETY: the caller keeps the contract of `# Safety` above, which is what the pointer helpers require.
    guard(|| unsafe { api::socket(cstr::opt_arg(connname, "connname")?) })
}

/// Reads what the server has sent without waiting (`PQconsumeInput`): 1 on
/// success, 0 when reading failed (the connection is broken; see
/// `dblink_error_message`), -1 on ERROR (08003). Not a dblink function.
///
/// ```c
/// // the event loop says dblink_socket("a") is readable:
/// if (dblink_consume_input("a") == 1 && dblink_is_busy("a") == 0) {
///     dblink_result *r = dblink_get_result("a", 1);   // does not block
///     // ...
///     dblink_result_free(r);
/// }
/// ```
///
/// # Safety
///
/// - `connname` is NULL or points to a NUL-terminated string that stays valid and unchanged during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dblink_consume_input(connname: *const c_char) -> c_int {
    // SAFETY: the caller keeps the contract of `# Safety` above, which is what the pointer helpers require.
    guard(|| unsafe { bool_int(api::consume_input(cstr::opt_arg(connname, "connname")?)) })
}

/// `dblink_send_query` with `$1`..`$n` bound to the `nparams` strings of
/// `values` as text (a NULL entry is SQL NULL; the server infers the types):
/// nothing is spliced into the SQL (`PQsendQueryParams`; one statement
/// only). 1 dispatched, 0 not (as `dblink_send_query`), -1 on ERROR. Not a
/// dblink function.
///
/// ```c
/// const char *values[] = {"O'Brien", NULL};   // NULL: SQL NULL
/// dblink_send_query_params("a", "select * from t where name = $1 and x > $2", 2, values);
/// ```
///
/// # Safety
///
/// - `connname` is NULL or points to a NUL-terminated string that stays valid and unchanged during the call.
/// - `sql` is NULL or points to a NUL-terminated string that stays valid and unchanged during the call.
/// - `values` is NULL or points to as many readable pointers as its count says, each NULL or a NUL-terminated string, all valid during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dblink_send_query_params(
    connname: *const c_char,
    sql: *const c_char,
    nparams: c_int,
    values: *const *const c_char,
) -> c_int {
    // SAFETY: the caller keeps the contract of `# Safety` above, which is what the pointer helpers require.
    guard(|| unsafe {
        let name = cstr::opt_arg(connname, "connname")?;
        let params = cstr::opt_args(values, nparams, "parameter")?;
        bool_int(api::send_query_params(
            name,
            cstr::arg(sql, "sql")?,
            &params,
        ))
    })
}

/// `dblink` with `$1`..`$n` bound to the `nparams` strings of `values` as
/// text (NULL entries are SQL NULL; one statement only). Otherwise as
/// `dblink`: a result the caller frees with `dblink_result_free`, or NULL on
/// ERROR. Not a dblink function.
///
/// ```c
/// const char *values[] = {"41"};
/// dblink_result *r = dblink_params("a", "select $1::int + 1", 1, values, 1);
/// if (r) printf("%s\n", dblink_result_getvalue(r, 0, 0));   // 42
/// dblink_result_free(r);
/// ```
///
/// # Safety
///
/// - `conn_or_connstr` is NULL or points to a NUL-terminated string that stays valid and unchanged during the call.
/// - `sql` is NULL or points to a NUL-terminated string that stays valid and unchanged during the call.
/// - `values` is NULL or points to as many readable pointers as its count says, each NULL or a NUL-terminated string, all valid during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dblink_params(
    conn_or_connstr: *const c_char,
    sql: *const c_char,
    nparams: c_int,
    values: *const *const c_char,
    fail_on_error: c_int,
) -> *mut DblinkResult {
    // SAFETY: the caller keeps the contract of `# Safety` above, which is what the pointer helpers require.
    guard(|| unsafe {
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

/// `dblink_get_result` that gives up after `timeout_ms` (-1: never) with
/// NULL and the ERROR 57014 `timed out after N ms waiting for a result`,
/// whatever fail_on_error says; the query keeps running and a later call
/// can still collect its results (or `dblink_cancel_query` stops it).
/// Otherwise as `dblink_get_result`. Not a dblink function.
///
/// # Safety
///
/// - `connname` is NULL or points to a NUL-terminated string that stays valid and unchanged during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dblink_get_result_timeout(
    connname: *const c_char,
    fail_on_error: c_int,
    timeout_ms: c_int,
) -> *mut DblinkResult {
    // SAFETY: the caller keeps the contract of `# Safety` above, which is what the pointer helpers require.
    guard(|| unsafe {
        let name = cstr::opt_arg(connname, "connname")?;
        let timeout = c_timeout(timeout_ms)?;
        result_out(match timeout {
            Some(t) => api::get_result_timeout(name, fail_on_error != 0, t),
            None => api::get_result(name, fail_on_error != 0),
        })
    })
}

/// `dblink_cancel_query` whose request may take at most `timeout_ms`
/// (< 0: the 30 s default); past it the text is `cancel request timed out`.
/// Otherwise as `dblink_cancel_query`: the caller frees the text with
/// `dblink_free`; NULL on ERROR. Not a dblink function.
///
/// # Safety
///
/// - `connname` is NULL or points to a NUL-terminated string that stays valid and unchanged during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dblink_cancel_query_timeout(
    connname: *const c_char,
    timeout_ms: c_int,
) -> *mut c_char {
    // SAFETY: the caller keeps the contract of `# Safety` above, which is what the pointer helpers require.
    guard(|| unsafe {
        let name = cstr::opt_arg(connname, "connname")?;
        let timeout = c_timeout(timeout_ms)?.unwrap_or(api::DEFAULT_CANCEL_TIMEOUT);
        text_out(api::cancel_query_timeout(name, timeout))
    })
}

/// `dblink_send_query` whose results stream: each `dblink_get_result`
/// returns the next chunk of at most `max_rows` rows (DBLINK_STATUS_TUPLES),
/// an empty TUPLES result ends each result set, then DBLINK_STATUS_DONE.
/// Memory stays bounded whatever the result's size. `max_rows` 0 is taken
/// as 1; negative is the ERROR 22023. With a system libpq older than 17,
/// the chunks have one row. 1 dispatched, 0 not, -1 on ERROR. Not a dblink
/// function.
///
/// ```c
/// dblink_send_query_chunked("a", "select * from huge", 10000);
/// for (dblink_result *r; (r = dblink_get_result("a", 1)) != NULL; ) {
///     int done = dblink_result_status(r) == DBLINK_STATUS_DONE;
///     // ... up to 10000 rows in r ...
///     dblink_result_free(r);
///     if (done) break;
/// }
/// ```
///
/// # Safety
///
/// - `connname` is NULL or points to a NUL-terminated string that stays valid and unchanged during the call.
/// - `sql` is NULL or points to a NUL-terminated string that stays valid and unchanged during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dblink_send_query_chunked(
    connname: *const c_char,
    sql: *const c_char,
    max_rows: c_int,
) -> c_int {
    // SAFETY: the caller keeps the contract of `# Safety` above, which is what the pointer helpers require.
    guard(|| unsafe {
        let name = cstr::opt_arg(connname, "connname")?;
        let rows = cstr::index(max_rows, "max_rows")?;
        bool_int(api::send_query_chunked(name, cstr::arg(sql, "sql")?, rows))
    })
}

/// `dblink_connect` that gives up after `timeout_ms` (-1: no limit beyond
/// the connection string's connect_timeout): -1 with 08001 `could not
/// establish connection`, DETAIL `timed out after N ms`. Otherwise as
/// `dblink_connect`: 1 for 'OK', -1 on ERROR. Not a dblink function.
///
/// # Safety
///
/// - `connname` is NULL or points to a NUL-terminated string that stays valid and unchanged during the call.
/// - `connstr` is NULL or points to a NUL-terminated string that stays valid and unchanged during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dblink_connect_timeout(
    connname: *const c_char,
    connstr: *const c_char,
    timeout_ms: c_int,
) -> c_int {
    // SAFETY: the caller keeps the contract of `# Safety` above, which is what the pointer helpers require.
    guard(|| unsafe {
        let name = cstr::opt_arg(connname, "connname")?;
        let connstr = cstr::arg(connstr, "connstr")?;
        super::ok_int(match c_timeout(timeout_ms)? {
            Some(t) => api::connect_timeout(name, connstr, t),
            None => api::connect(name, connstr),
        })
    })
}

/// Opens `n` named connections in parallel (non-blocking connects driven
/// together: the client waits for all the handshakes at once), bounded by `timeout_ms` (-1: no bound). `names` and `connstrs` hold `n`
/// strings each. `ok`, when not NULL, has room for `n` ints and receives 1
/// or 0 per connection. Returns the number opened (the others failed as
/// `dblink_connect` would: 08001, 42710); when some failed, the last
/// failure's ERROR is kept in `dblink_last_error` even though the return
/// value is not -1. -1 on bad arguments (e.g. a NULL name). Not a dblink
/// function.
///
/// ```c
/// const char *names[] = {"s1", "s2"};
/// const char *connstrs[] = {"host=shard1 dbname=app", "host=shard2 dbname=app"};
/// int ok[2];
/// if (dblink_connect_all(names, connstrs, 2, 5000, ok) < 2)
///     fprintf(stderr, "s1 %s, s2 %s: %s\n", ok[0] ? "up" : "down", ok[1] ? "up" : "down",
///             dblink_last_error());
/// ```
///
/// # Safety
///
/// - `names` is NULL or points to as many readable pointers as its count says, each NULL or a NUL-terminated string, all valid during the call.
/// - `connstrs` is NULL or points to as many readable pointers as its count says, each NULL or a NUL-terminated string, all valid during the call.
/// - `ok` is NULL or points to as many writable ints as the count argument says.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dblink_connect_all(
    names: *const *const c_char,
    connstrs: *const *const c_char,
    n: c_int,
    timeout_ms: c_int,
    ok: *mut c_int,
) -> c_int {
    let mut last_failure = None;
    // SAFETY: the caller keeps the contract of `# Safety` above, which is what the pointer helpers require.
    let opened = guard(|| unsafe {
        let names = cstr::args(names, n, "name")?;
        let connstrs = cstr::args(connstrs, n, "connstr")?;
        let targets: Vec<(&str, &str)> = names.into_iter().zip(connstrs).collect();
        let outcomes = api::connect_all(&targets, c_timeout(timeout_ms)?);
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
/// after a server restart; the name is kept, its cursors and session state
/// are gone. Blocks while reconnecting. 1 for 'OK'; -1 on ERROR (08003, or
/// 08006 with libpq's message when the server cannot be reached; the name
/// stays registered). Not a dblink function.
///
/// # Safety
///
/// - `connname` is NULL or points to a NUL-terminated string that stays valid and unchanged during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dblink_reset(connname: *const c_char) -> c_int {
    // SAFETY: the caller keeps the contract of `# Safety` above, which is what the pointer helpers require.
    guard(|| unsafe { super::ok_int(api::reset(cstr::opt_arg(connname, "connname")?)) })
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
/// in use); other calls on it fail with 08003 until the connect completes,
/// and `dblink_disconnect` abandons it. 1 when started; -1 on ERROR (08001
/// for a connection string libpq rejects outright). Not a dblink function.
///
/// ```c
/// if (dblink_connect_start("a", "host=db1 dbname=app") != 1) return -1;
/// for (int st; (st = dblink_connect_poll("a")) != DBLINK_CONNECT_READY; ) {
///     if (st == -1) return -1;                      // dblink_last_error(): 08001
///     struct pollfd p = {dblink_socket("a"), st == DBLINK_CONNECT_READING ? POLLIN : POLLOUT, 0};
///     poll(&p, 1, 5000);                            // or your event loop
/// }
/// ```
///
/// # Safety
///
/// - `connname` is NULL or points to a NUL-terminated string that stays valid and unchanged during the call.
/// - `connstr` is NULL or points to a NUL-terminated string that stays valid and unchanged during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dblink_connect_start(
    connname: *const c_char,
    connstr: *const c_char,
) -> c_int {
    // SAFETY: the caller keeps the contract of `# Safety` above, which is what the pointer helpers require.
    guard(|| unsafe {
        let name = cstr::opt_arg(connname, "connname")?;
        super::ok_int(api::connect_start(name, cstr::arg(connstr, "connstr")?))
    })
}

/// One non-blocking step of a connect begun by `dblink_connect_start`
/// (`PQconnectPoll`): DBLINK_CONNECT_READY, DBLINK_CONNECT_READING or
/// DBLINK_CONNECT_WRITING (wait on `dblink_socket` for that, then call
/// again), or -1 on ERROR: 08001 `could not establish connection` with
/// libpq's message as detail, and the name is released; 08003 for an
/// unknown name. On a name already connected: DBLINK_CONNECT_READY. The
/// caller bounds the total wait (a connect timeout). Not a dblink function.
///
/// # Safety
///
/// - `connname` is NULL or points to a NUL-terminated string that stays valid and unchanged during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dblink_connect_poll(connname: *const c_char) -> c_int {
    // SAFETY: the caller keeps the contract of `# Safety` above, which is what the pointer helpers require.
    guard(|| unsafe {
        Ok(
            match api::connect_poll(cstr::opt_arg(connname, "connname")?)? {
                api::ConnectProgress::Ready => DBLINK_CONNECT_READY,
                api::ConnectProgress::Reading(_) => DBLINK_CONNECT_READING,
                api::ConnectProgress::Writing(_) => DBLINK_CONNECT_WRITING,
            },
        )
    })
}
