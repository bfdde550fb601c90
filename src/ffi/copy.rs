//! C entry points of COPY streaming and pipelines (not dblink functions).

use std::collections::HashMap;
use std::os::raw::{c_char, c_int, c_longlong};
use std::sync::atomic::{AtomicUsize, Ordering};

use parking_lot::Mutex;

use super::{cstr, guard, ok_int, text_out};
use crate::api;
use crate::error::{Error, sqlstate};

impl super::FailureValue for c_longlong {
    fn failure() -> Self {
        -1
    }
}

/// Byte buffers handed to C by `dblink_copy_out_read` (address -> length
/// of the allocation), so that `dblink_free` frees them with their own
/// layout; `OUTSTANDING` makes the check one atomic load when there are none.
static BUFFERS: Mutex<Option<HashMap<usize, usize>>> = Mutex::new(None);
static OUTSTANDING: AtomicUsize = AtomicUsize::new(0);

/// Hands `data` to C: a NUL-terminated copy (the NUL is not counted),
/// freed with `dblink_free`.
fn bytes_out(mut data: Vec<u8>) -> *mut c_char {
    data.push(0);
    let boxed = data.into_boxed_slice();
    let len = boxed.len();
    let p = Box::into_raw(boxed).cast::<c_char>();
    let mut map = BUFFERS.lock();
    map.get_or_insert_with(HashMap::new).insert(p as usize, len);
    OUTSTANDING.fetch_add(1, Ordering::AcqRel);
    p
}

/// Frees `p` when it is a buffer made by [`bytes_out`]; false otherwise
/// (then it is a string of `cstr::to_c_string`).
///
/// # Safety
/// `p` is NULL or a pointer pgdblink handed out and not yet freed.
pub(crate) unsafe fn free_bytes(p: *mut c_char) -> bool {
    if p.is_null() || OUTSTANDING.load(Ordering::Acquire) == 0 {
        return false;
    }
    let Some(len) = BUFFERS
        .lock()
        .as_mut()
        .and_then(|m| m.remove(&(p as usize)))
    else {
        return false;
    };
    OUTSTANDING.fetch_sub(1, Ordering::AcqRel);
    // SAFETY: `p` came from Box::into_raw of a boxed slice of `len` bytes in
    // `bytes_out` (the map says so) and is freed once: it left the map.
    drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(p.cast::<u8>(), len)) });
    true
}

fn int_len(n: usize) -> crate::Result<c_int> {
    c_int::try_from(n).map_err(|_| {
        Error::new(
            sqlstate::INVALID_PARAMETER_VALUE,
            "COPY data chunk exceeds INT_MAX bytes",
        )
    })
}

/// Starts `sql`, one `COPY ... TO STDOUT` statement (text, csv or binary),
/// on the connection; read its data with `dblink_copy_out_read`, then end
/// it with `dblink_copy_out_end`. Until then every other call on the
/// connection fails with 55000 (except `dblink_disconnect`, `dblink_reset`
/// and `dblink_cancel_query`). 1 when started, -1 on ERROR (the remote
/// error of a failed statement; 22023 for a statement that is not a COPY
/// TO STDOUT; 55000 when a COPY is already in progress; 08003). Not a
/// dblink function.
///
/// ```c
/// if (dblink_copy_out_start("a", "copy big_table to stdout (format csv)") != 1) return report();
/// char *buf;
/// int n;
/// while ((n = dblink_copy_out_read("a", &buf)) > 0) {
///     fwrite(buf, 1, (size_t)n, out);
///     dblink_free(buf);
/// }
/// if (n < 0) return report();          // the COPY failed and is over
/// char *status = dblink_copy_out_end("a");   // "COPY 1000"
/// dblink_free(status);
/// ```
///
/// # Safety
///
/// - `connname` is NULL or points to a NUL-terminated string that stays valid and unchanged during the call.
/// - `sql` is NULL or points to a NUL-terminated string that stays valid and unchanged during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dblink_copy_out_start(
    connname: *const c_char,
    sql: *const c_char,
) -> c_int {
    // SAFETY: the caller keeps the contract of `# Safety` above, which is what the pointer helpers require.
    guard(|| unsafe {
        let name = cstr::opt_arg(connname, "connname")?;
        ok_int(api::copy_out_start(name, cstr::arg(sql, "sql")?))
    })
}

/// Reads the next data of the COPY TO STDOUT begun by
/// `dblink_copy_out_start`: whole rows as the server sent them (about 64
/// KiB at most, or one larger row). Sets `*buf` to a new buffer (freed
/// with `dblink_free`; NUL-terminated for convenience, the NUL not
/// counted; binary data may hold NUL bytes) and returns its length; 0 at
/// the end (`*buf` is NULL: call `dblink_copy_out_end`); -1 on ERROR (`*buf`
/// NULL), e.g. 57014 after `dblink_cancel_query`, or an error of the query
/// being copied: the COPY is then over and the connection usable. Waits for
/// data as long as it takes. Not a dblink function.
///
/// # Safety
///
/// - `connname` is NULL or points to a NUL-terminated string that stays valid and unchanged during the call.
/// - `buf` is NULL or points to a writable `char *`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dblink_copy_out_read(
    connname: *const c_char,
    buf: *mut *mut c_char,
) -> c_int {
    // SAFETY: the caller keeps the contract of `# Safety` above, which is what the pointer helpers require.
    guard(|| unsafe {
        if buf.is_null() {
            return Err(Error::null_argument("buf"));
        }
        *buf = std::ptr::null_mut();
        let name = cstr::opt_arg(connname, "connname")?;
        match api::copy_out_read(name)? {
            Some(data) => {
                let n = int_len(data.len())?;
                *buf = bytes_out(data);
                Ok(n)
            }
            None => Ok(0),
        }
    })
}

/// Ends the COPY TO STDOUT begun by `dblink_copy_out_start` (data not read
/// yet is read and discarded) and returns its status, e.g. 'COPY 1000';
/// free it with `dblink_free`. NULL on ERROR (55000 when no COPY TO STDOUT
/// is in progress; the remote error that ended it). Not a dblink function.
///
/// # Safety
///
/// - `connname` is NULL or points to a NUL-terminated string that stays valid and unchanged during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dblink_copy_out_end(connname: *const c_char) -> *mut c_char {
    // SAFETY: the caller keeps the contract of `# Safety` above, which is what the pointer helpers require.
    guard(|| unsafe { text_out(api::copy_out_end(cstr::opt_arg(connname, "connname")?)) })
}

/// Starts `sql`, one `COPY ... FROM STDIN` statement, on the connection;
/// send its data with `dblink_copy_in_write`, then finish or abort it with
/// `dblink_copy_in_end`. Until then every other call on the connection
/// fails with 55000. 1 when started, -1 on ERROR (as
/// `dblink_copy_out_start`). Not a dblink function.
///
/// ```c
/// if (dblink_copy_in_start("a", "copy items (id, label) from stdin") != 1) return report();
/// const char *rows = "1\tone\n2\t\\N\n";          // \N is NULL
/// if (dblink_copy_in_write("a", rows, (int)strlen(rows)) != 1) return report();
/// char *status = dblink_copy_in_end("a", NULL);   // "COPY 2", or NULL on ERROR
/// dblink_free(status);
/// ```
///
/// # Safety
///
/// - `connname` is NULL or points to a NUL-terminated string that stays valid and unchanged during the call.
/// - `sql` is NULL or points to a NUL-terminated string that stays valid and unchanged during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dblink_copy_in_start(
    connname: *const c_char,
    sql: *const c_char,
) -> c_int {
    // SAFETY: the caller keeps the contract of `# Safety` above, which is what the pointer helpers require.
    guard(|| unsafe {
        let name = cstr::opt_arg(connname, "connname")?;
        ok_int(api::copy_in_start(name, cstr::arg(sql, "sql")?))
    })
}

/// Sends `len` bytes at `buf` (any split of the COPY stream) to the COPY
/// FROM STDIN begun by `dblink_copy_in_start`; returns once they are
/// handed to the socket (memory stays bounded). 1 when sent, -1 on ERROR
/// (55000 when no COPY FROM STDIN is in progress; 22023 for a negative
/// `len`; when the connection failed, the COPY is aborted, nothing of it
/// committed, and the error is 08006). The server's verdict on the data
/// comes with `dblink_copy_in_end`. Not a dblink function.
///
/// # Safety
///
/// - `connname` is NULL or points to a NUL-terminated string that stays valid and unchanged during the call.
/// - `buf` is NULL (only with `len` 0) or points to `len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dblink_copy_in_write(
    connname: *const c_char,
    buf: *const c_char,
    len: c_int,
) -> c_int {
    // SAFETY: the caller keeps the contract of `# Safety` above, which is what the pointer helpers require.
    guard(|| unsafe {
        let name = cstr::opt_arg(connname, "connname")?;
        let n = cstr::index(len, "len")?;
        let data: &[u8] = if n == 0 {
            &[]
        } else if buf.is_null() {
            return Err(Error::null_argument("buf"));
        } else {
            std::slice::from_raw_parts(buf.cast::<u8>(), n)
        };
        ok_int(api::copy_in_write(name, data))
    })
}

/// Ends the COPY FROM STDIN begun by `dblink_copy_in_start`: with
/// `abort_reason` NULL, finishes it and returns its status ('COPY 2');
/// otherwise aborts it with that message (nothing is copied) and returns
/// 'ABORTED'. Free the text with `dblink_free`. NULL on ERROR: the server's
/// verdict (e.g. 22P02 for a malformed row, with the COPY's line in the
/// context); 55000 when no COPY FROM STDIN is in progress. The connection
/// is usable afterwards either way. Not a dblink function.
///
/// # Safety
///
/// - `connname` is NULL or points to a NUL-terminated string that stays valid and unchanged during the call.
/// - `abort_reason` is NULL or points to a NUL-terminated string that stays valid and unchanged during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dblink_copy_in_end(
    connname: *const c_char,
    abort_reason: *const c_char,
) -> *mut c_char {
    // SAFETY: the caller keeps the contract of `# Safety` above, which is what the pointer helpers require.
    guard(|| unsafe {
        let name = cstr::opt_arg(connname, "connname")?;
        let reason = cstr::opt_arg(abort_reason, "abort_reason")?;
        text_out(api::copy_in_end(name, reason))
    })
}

/// Pipes a COPY TO STDOUT on `src` (`copy_to_sql`) into a COPY FROM STDIN
/// on `dst` (`copy_from_sql`), chunk by chunk, and returns the number of
/// rows copied. Both statements must use the same format (text, csv or
/// binary). -1 on ERROR: the failed side's error, with its SQLSTATE, whose
/// context ends with `copy_between: the source failed` or `copy_between:
/// the target failed`; the other side was aborted cleanly (the target's
/// COPY rolled back, the source's ended), and both connections stay usable
/// unless the failure was a broken connection. Not a dblink function.
///
/// ```c
/// long long n = dblink_copy_between("prod", "copy orders to stdout (format binary)",
///                                   "archive", "copy orders from stdin (format binary)");
/// if (n < 0) fprintf(stderr, "%s: %s\n%s\n", dblink_last_sqlstate(), dblink_last_error(),
///                    dblink_last_context());
/// ```
///
/// # Safety
///
/// - `src` is NULL or points to a NUL-terminated string that stays valid and unchanged during the call.
/// - `copy_to_sql` is NULL or points to a NUL-terminated string that stays valid and unchanged during the call.
/// - `dst` is NULL or points to a NUL-terminated string that stays valid and unchanged during the call.
/// - `copy_from_sql` is NULL or points to a NUL-terminated string that stays valid and unchanged during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dblink_copy_between(
    src: *const c_char,
    copy_to_sql: *const c_char,
    dst: *const c_char,
    copy_from_sql: *const c_char,
) -> c_longlong {
    // SAFETY: the caller keeps the contract of `# Safety` above, which is what the pointer helpers require.
    guard(|| unsafe {
        let src = cstr::opt_arg(src, "src")?;
        let to_sql = cstr::arg(copy_to_sql, "copy_to_sql")?;
        let dst = cstr::opt_arg(dst, "dst")?;
        let from_sql = cstr::arg(copy_from_sql, "copy_from_sql")?;
        let n = api::copy_between(src, to_sql, dst, from_sql)?;
        Ok(c_longlong::try_from(n).unwrap_or(c_longlong::MAX))
    })
}
