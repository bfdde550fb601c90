//! C entry points of pipeline mode (not dblink functions).

use std::os::raw::{c_char, c_int, c_longlong};

use super::{cstr, guard, ok_int};
use crate::api;
use crate::error::{Error, sqlstate};

/// Puts the connection in pipeline mode (libpq 14+): then
/// `dblink_send_query_params` queues statements without waiting,
/// `dblink_pipeline_sync` adds a sync point and sends what is queued, and
/// `dblink_get_result` returns each statement's results in order (each
/// followed by DBLINK_STATUS_DONE), a DBLINK_STATUS_PIPELINE_SYNC result
/// for each sync point, and a DBLINK_STATUS_PIPELINE_ABORTED result (then
/// DONE) for each statement skipped after an error, up to the next sync
/// point. `dblink()` is refused in pipeline mode (55000). 1 on success, -1
/// on ERROR (55000 when a query is in progress; 0A000 with a libpq older
/// than 14; 08003). Not a dblink function.
///
/// ```c
/// dblink_pipeline_begin("a");
/// const char *v[1] = {"1"};
/// dblink_send_query_params("a", "insert into t values ($1)", 1, v);
/// dblink_send_query_params("a", "select count(*) from t", 0, NULL);
/// dblink_pipeline_sync("a");
/// for (;;) {
///     dblink_result *r = dblink_get_result("a", 0);
///     dblink_status st = dblink_result_status(r);
///     dblink_result_free(r);
///     if (st == DBLINK_STATUS_PIPELINE_SYNC) break;
/// }
/// dblink_pipeline_end("a");
/// ```
///
/// # Safety
///
/// - `connname` is NULL or points to a NUL-terminated string that stays valid and unchanged during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dblink_pipeline_begin(connname: *const c_char) -> c_int {
    // SAFETY: the caller keeps the contract of `# Safety` above, which is what the pointer helpers require.
    guard(|| unsafe { ok_int(api::pipeline_begin(cstr::opt_arg(connname, "connname")?)) })
}

/// Marks a sync point in the connection's pipeline and sends everything
/// queued (waiting only until it is sent). 1 on success, -1 on ERROR
/// (55000 when not in pipeline mode; 08006 when it cannot be sent). Not a
/// dblink function.
///
/// # Safety
///
/// - `connname` is NULL or points to a NUL-terminated string that stays valid and unchanged during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dblink_pipeline_sync(connname: *const c_char) -> c_int {
    // SAFETY: the caller keeps the contract of `# Safety` above, which is what the pointer helpers require.
    guard(|| unsafe { ok_int(api::pipeline_sync(cstr::opt_arg(connname, "connname")?)) })
}

/// Takes the connection out of pipeline mode (nothing happens when it is
/// not in it). 1 on success, -1 on ERROR: 55000 `could not leave pipeline
/// mode: cannot exit pipeline mode with uncollected results` while results
/// are unread (the connection stays in pipeline mode). Not a dblink
/// function.
///
/// # Safety
///
/// - `connname` is NULL or points to a NUL-terminated string that stays valid and unchanged during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dblink_pipeline_end(connname: *const c_char) -> c_int {
    // SAFETY: the caller keeps the contract of `# Safety` above, which is what the pointer helpers require.
    guard(|| unsafe { ok_int(api::pipeline_end(cstr::opt_arg(connname, "connname")?)) })
}

/// Runs the parameterised statement `sql` once per row in one pipeline
/// (one round trip, one implicit transaction: an error keeps nothing of
/// the batch). `values` holds `nrows * nparams` entries, row by row (NULL
/// entries are SQL NULL). Returns the total row count of the statements'
/// command statuses (e.g. the rows inserted), -1 on ERROR (the first failed
/// execution's remote error; 55000 when the connection is in pipeline mode
/// or busy; 22023 for negative counts). Not a dblink function.
///
/// ```c
/// const char *values[] = {"1", "one", "2", NULL};
/// long long n = dblink_exec_batch("a", "insert into items (id, label) values ($1, $2)", 2, values, 2);
/// ```
///
/// # Safety
///
/// - `connname` is NULL or points to a NUL-terminated string that stays valid and unchanged during the call.
/// - `sql` is NULL or points to a NUL-terminated string that stays valid and unchanged during the call.
/// - `values` is NULL (only when `nrows * nparams` is 0) or points to `nrows * nparams` readable pointers, each NULL or a NUL-terminated string, all valid during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dblink_exec_batch(
    connname: *const c_char,
    sql: *const c_char,
    nparams: c_int,
    values: *const *const c_char,
    nrows: c_int,
) -> c_longlong {
    // SAFETY: the caller keeps the contract of `# Safety` above, which is what the pointer helpers require.
    guard(|| unsafe {
        let name = cstr::opt_arg(connname, "connname")?;
        let sql = cstr::arg(sql, "sql")?;
        let (np, nr) = (
            cstr::index(nparams, "nparams")?,
            cstr::index(nrows, "nrows")?,
        );
        let total = np
            .checked_mul(nr)
            .and_then(|t| c_int::try_from(t).ok())
            .ok_or_else(|| {
                Error::new(
                    sqlstate::INVALID_PARAMETER_VALUE,
                    "nrows * nparams exceeds INT_MAX",
                )
            })?;
        let all = cstr::opt_args(values, total, "value")?;
        let rows: Vec<&[Option<&str>]> = if np == 0 {
            vec![&[]; nr]
        } else {
            all.chunks(np).collect()
        };
        let n = api::exec_batch(name, sql, &rows)?;
        Ok(c_longlong::try_from(n).unwrap_or(c_longlong::MAX))
    })
}
