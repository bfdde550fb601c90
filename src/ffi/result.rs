//! C accessors of `dblink_result`. None of them can fail in a way the
//! thread's last error would report: a bad argument (a NULL result, a cell
//! out of range) gives the failure value (-1, NULL, DBLINK_STATUS_ERROR)
//! and leaves the last error as it was (see `guard_quiet`).

use std::os::raw::{c_char, c_int};

use super::{cstr, guard_quiet};
use crate::error::{Error, Result, sqlstate};
use crate::result::{DblinkResult, Status};

/// A result handed to C, freed with `dblink_result_free`.
pub(crate) fn result_out(r: Result<DblinkResult>) -> Result<*mut DblinkResult> {
    r.map(|res| Box::into_raw(Box::new(res)))
}

/// Frees a result made by [`result_out`].
///
/// # Safety
/// `r` is NULL or came from a pgdblink function and is freed only once.
unsafe fn free_result(r: *mut DblinkResult) {
    if !r.is_null() {
        // SAFETY: by the contract above, `r` came from Box::into_raw in
        // `result_out` and is freed exactly once, here.
        drop(unsafe { Box::from_raw(r) });
    }
}

/// The result behind a C pointer.
///
/// # Safety
/// A non-NULL `r` came from a pgdblink function and is not freed for `'a`.
unsafe fn result_ref<'a>(r: *const DblinkResult) -> Result<&'a DblinkResult> {
    // SAFETY: by the contract above, non-NULL `r` points to a live
    // DblinkResult made by `result_out`, which nothing mutates.
    unsafe { r.as_ref() }.ok_or_else(|| Error::null_argument("result"))
}

/// A result and a cell of it, range-checked.
///
/// # Safety
/// As for [`result_ref`].
unsafe fn cell<'a>(
    r: *const DblinkResult,
    row: c_int,
    col: c_int,
) -> Result<(&'a DblinkResult, usize, usize)> {
    // SAFETY: our caller's promise, passed on.
    let res = unsafe { result_ref(r) }?;
    let (row, col) = (cstr::index(row, "row")?, cstr::index(col, "column")?);
    if !res.in_range(row, col) {
        return Err(Error::new(
            sqlstate::INVALID_PARAMETER_VALUE,
            format!(
                "cell ({row}, {col}) is out of range: the result has {} rows and {} columns",
                res.ntuples(),
                res.nfields()
            ),
        ));
    }
    Ok((res, row, col))
}

fn count(n: usize) -> Result<c_int> {
    c_int::try_from(n)
        .map_err(|_| Error::new(sqlstate::INVALID_PARAMETER_VALUE, "count exceeds INT_MAX"))
}

/// The number of rows of a result (0 for DBLINK_STATUS_DONE, 1 for
/// DBLINK_STATUS_COMMAND); -1 when `r` is NULL. Never touches the thread's
/// last error.
///
/// # Safety
///
/// - `r` is NULL or a result returned by pgdblink and not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dblink_result_ntuples(r: *const DblinkResult) -> c_int {
    // SAFETY: the caller keeps the contract of `# Safety` above, which is what the pointer helpers require.
    guard_quiet(|| unsafe { count(result_ref(r)?.ntuples()) })
}

/// The number of columns of a result (0 for DBLINK_STATUS_DONE, 1 for
/// DBLINK_STATUS_COMMAND: `status`); -1 when `r` is NULL. Never touches the
/// thread's last error.
///
/// # Safety
///
/// - `r` is NULL or a result returned by pgdblink and not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dblink_result_nfields(r: *const DblinkResult) -> c_int {
    // SAFETY: the caller keeps the contract of `# Safety` above, which is what the pointer helpers require.
    guard_quiet(|| unsafe { count(result_ref(r)?.nfields()) })
}

/// The name of column `col` (from 0); NULL when `col` is out of range or
/// `r` is NULL. Never touches the thread's last error. Owned by the
/// result: valid until `dblink_result_free`; do not free it.
///
/// # Safety
///
/// - `r` is NULL or a result returned by pgdblink and not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dblink_result_fname(r: *const DblinkResult, col: c_int) -> *const c_char {
    // SAFETY: the caller keeps the contract of `# Safety` above, which is what the pointer helpers require.
    guard_quiet(|| unsafe {
        let res = result_ref(r)?;
        let c = cstr::index(col, "column")?;
        res.fname_cstr(c).map(|s| s.as_ptr()).ok_or_else(|| {
            Error::new(
                sqlstate::INVALID_PARAMETER_VALUE,
                format!(
                    "column {c} is out of range: the result has {} columns",
                    res.nfields()
                ),
            )
        })
    })
}

/// A cell's text (row and column from 0). NULL for SQL NULL, and also when
/// the cell is out of range or `r` is NULL: `dblink_result_getisnull` tells
/// them apart (1: SQL NULL; -1: no such cell). Never touches the thread's
/// last error. Owned by the result: valid until `dblink_result_free`; do
/// not free it.
///
/// ```c
/// const char *v = dblink_result_getvalue(r, row, col);
/// if (v == NULL && dblink_result_getisnull(r, row, col) == 1) v = "NULL";
/// else if (v == NULL) { fprintf(stderr, "no cell (%d, %d)\n", row, col); return; }
/// ```
///
/// # Safety
///
/// - `r` is NULL or a result returned by pgdblink and not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dblink_result_getvalue(
    r: *const DblinkResult,
    row: c_int,
    col: c_int,
) -> *const c_char {
    // SAFETY: the caller keeps the contract of `# Safety` above, which is what the pointer helpers require.
    guard_quiet(|| unsafe {
        let (res, row, col) = cell(r, row, col)?;
        Ok(res
            .value_cstr(row, col)
            .map_or(std::ptr::null(), |s| s.as_ptr()))
    })
}

/// 1 when the cell is SQL NULL, 0 when not, -1 when the cell is out of
/// range or `r` is NULL. Never touches the thread's last error.
///
/// # Safety
///
/// - `r` is NULL or a result returned by pgdblink and not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dblink_result_getisnull(
    r: *const DblinkResult,
    row: c_int,
    col: c_int,
) -> c_int {
    // SAFETY: the caller keeps the contract of `# Safety` above, which is what the pointer helpers require.
    guard_quiet(|| unsafe {
        let (res, row, col) = cell(r, row, col)?;
        Ok(c_int::from(res.value_cstr(row, col).is_none()))
    })
}

/// What the result holds: rows (DBLINK_STATUS_TUPLES), a command's status
/// row (DBLINK_STATUS_COMMAND), the end of the query (DBLINK_STATUS_DONE),
/// or a remote error reported as an empty set (DBLINK_STATUS_ERROR, with
/// fail_on_error = 0). DBLINK_STATUS_ERROR when `r` is NULL (then
/// `dblink_result_error_message` is NULL too). Never touches the thread's
/// last error.
///
/// # Safety
///
/// - `r` is NULL or a result returned by pgdblink and not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dblink_result_status(r: *const DblinkResult) -> Status {
    // SAFETY: the caller keeps the contract of `# Safety` above, which is what the pointer helpers require.
    guard_quiet(|| unsafe { Ok(result_ref(r)?.status()) })
}

/// For a DBLINK_STATUS_ERROR result: the remote error's message; NULL for
/// other results and when `r` is NULL. Never touches the thread's last
/// error. Owned by the result: valid until `dblink_result_free`; do not
/// free it.
///
/// # Safety
///
/// - `r` is NULL or a result returned by pgdblink and not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dblink_result_error_message(r: *const DblinkResult) -> *const c_char {
    // SAFETY: the caller keeps the contract of `# Safety` above, which is what the pointer helpers require.
    guard_quiet(|| unsafe {
        Ok(result_ref(r)?
            .error_message_cstr()
            .map_or(std::ptr::null(), |s| s.as_ptr()))
    })
}

/// For a DBLINK_STATUS_ERROR result: the remote error's SQLSTATE (five
/// characters); NULL for other results and when `r` is NULL. Never touches
/// the thread's last error. Owned by the result: valid until
/// `dblink_result_free`; do not free it.
///
/// # Safety
///
/// - `r` is NULL or a result returned by pgdblink and not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dblink_result_sqlstate(r: *const DblinkResult) -> *const c_char {
    // SAFETY: the caller keeps the contract of `# Safety` above, which is what the pointer helpers require.
    guard_quiet(|| unsafe {
        Ok(result_ref(r)?
            .error_sqlstate_cstr()
            .map_or(std::ptr::null(), |s| s.as_ptr()))
    })
}

/// Frees a result returned by pgdblink (`dblink_get_result`, `dblink`,
/// `dblink_fetch`, ...), once, with the strings its accessors returned.
/// NULL is ignored. No other thread may be reading it. Never touches the
/// thread's last error (a destructor may free a result between a failed
/// call and the reading of its error).
///
/// # Safety
///
/// - `r` is NULL or a result returned by pgdblink, not yet freed; it is freed here, so it must not be used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dblink_result_free(r: *mut DblinkResult) {
    // SAFETY: the caller keeps the contract of `# Safety` above, which is what the pointer helpers require.
    guard_quiet(|| unsafe {
        free_result(r);
        Ok(())
    })
}
