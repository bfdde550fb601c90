//! C entry points of dblink_get_pkey and dblink_build_sql_*.

use std::os::raw::{c_char, c_int};

use super::{cstr, guard, result::result_out, text_out};
use crate::api;
use crate::error::{Error, Result};
use crate::result::DblinkResult;

/// The key attribute numbers: `pknumatts` ints at `pkattnums`, none for
/// `pknumatts` <= 0 (the API then raises dblink's 22023 `number of key
/// attributes must be > 0`, after the relation's errors, as dblink does).
///
/// # Safety
/// A non-NULL `pkattnums` points to `pknumatts` readable ints.
unsafe fn attnums<'a>(pkattnums: *const c_int, pknumatts: c_int) -> Result<&'a [c_int]> {
    let n = usize::try_from(pknumatts).unwrap_or(0);
    if n == 0 {
        return Ok(&[]);
    }
    if pkattnums.is_null() {
        return Err(Error::null_argument("pkattnums"));
    }
    // SAFETY: non-NULL, and by the caller's contract `n` readable ints.
    Ok(unsafe { std::slice::from_raw_parts(pkattnums, n) })
}

/// `dblink_get_pkey(relname)`, run in the database the connection points
/// at (it stands for dblink's local database): a DBLINK_STATUS_TUPLES
/// result with the columns `position` and `colname`, one row per primary
/// key column (none without a primary key). NULL on ERROR (42P01, 08003,
/// ...). Free it with `dblink_result_free`.
///
/// ```c
/// dblink_result *pk = dblink_get_pkey("local", "public.orders");
/// for (int i = 0; pk && i < dblink_result_ntuples(pk); i++)
///     printf("%s\n", dblink_result_getvalue(pk, i, 1));
/// dblink_result_free(pk);
/// ```
///
/// # Safety
///
/// - `connname` is NULL or points to a NUL-terminated string that stays valid and unchanged during the call.
/// - `relname` is NULL or points to a NUL-terminated string that stays valid and unchanged during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dblink_get_pkey(
    connname: *const c_char,
    relname: *const c_char,
) -> *mut DblinkResult {
    // SAFETY: the caller keeps the contract of `# Safety` above, which is what the pointer helpers require.
    guard(|| unsafe {
        let name = cstr::opt_arg(connname, "connname")?;
        result_out(api::get_pkey(name, cstr::arg(relname, "relname")?))
    })
}

/// `dblink_build_sql_insert(relname, pkattnums, pknumatts, src_pkattvals,
/// tgt_pkattvals)`, run in the database the connection points at: the
/// INSERT of the row whose key columns (`pkattnums`: `pknumatts` 1-based
/// attribute numbers, dropped columns not counted) equal `src_pkattvals`,
/// with the key values replaced by `tgt_pkattvals` (each array holds
/// `pknumatts` entries; NULL entries are SQL NULL). dblink's text, byte
/// for byte; free it with `dblink_free`. NULL on ERROR, with dblink's
/// SQLSTATE and message (22023 `invalid attribute number N`, 21000 `source
/// row not found`, 42P01, ...).
///
/// ```c
/// const int pk[] = {1};
/// const char *const src[] = {"1"}, *const tgt[] = {"10"};
/// char *sql = dblink_build_sql_insert("local", "items", pk, 1, src, tgt);
/// // INSERT INTO items(id,label) VALUES('10','one')
/// dblink_free(sql);
/// ```
///
/// # Safety
///
/// - `connname` is NULL or points to a NUL-terminated string that stays valid and unchanged during the call.
/// - `relname` is NULL or points to a NUL-terminated string that stays valid and unchanged during the call.
/// - `pkattnums` is NULL or points to `pknumatts` readable ints.
/// - `src_pkattvals` and `tgt_pkattvals` are NULL or point to `pknumatts` readable pointers, each NULL or a NUL-terminated string, all valid during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dblink_build_sql_insert(
    connname: *const c_char,
    relname: *const c_char,
    pkattnums: *const c_int,
    pknumatts: c_int,
    src_pkattvals: *const *const c_char,
    tgt_pkattvals: *const *const c_char,
) -> *mut c_char {
    // SAFETY: the caller keeps the contract of `# Safety` above, which is what the pointer helpers require.
    guard(|| unsafe {
        let name = cstr::opt_arg(connname, "connname")?;
        let rel = cstr::arg(relname, "relname")?;
        let pk = attnums(pkattnums, pknumatts)?;
        let src = cstr::opt_args(src_pkattvals, pknumatts.max(0), "src_pkattval")?;
        let tgt = cstr::opt_args(tgt_pkattvals, pknumatts.max(0), "tgt_pkattval")?;
        text_out(api::build_sql_insert(name, rel, pk, &src, &tgt))
    })
}

/// `dblink_build_sql_update(...)`, run in the database the connection
/// points at: the UPDATE of every column of the row found by
/// `src_pkattvals` (key columns set to `tgt_pkattvals`) WHERE the key
/// equals `tgt_pkattvals`. Arguments, memory and errors as
/// `dblink_build_sql_insert`.
///
/// # Safety
///
/// - `connname` is NULL or points to a NUL-terminated string that stays valid and unchanged during the call.
/// - `relname` is NULL or points to a NUL-terminated string that stays valid and unchanged during the call.
/// - `pkattnums` is NULL or points to `pknumatts` readable ints.
/// - `src_pkattvals` and `tgt_pkattvals` are NULL or point to `pknumatts` readable pointers, each NULL or a NUL-terminated string, all valid during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dblink_build_sql_update(
    connname: *const c_char,
    relname: *const c_char,
    pkattnums: *const c_int,
    pknumatts: c_int,
    src_pkattvals: *const *const c_char,
    tgt_pkattvals: *const *const c_char,
) -> *mut c_char {
    // SAFETY: the caller keeps the contract of `# Safety` above, which is what the pointer helpers require.
    guard(|| unsafe {
        let name = cstr::opt_arg(connname, "connname")?;
        let rel = cstr::arg(relname, "relname")?;
        let pk = attnums(pkattnums, pknumatts)?;
        let src = cstr::opt_args(src_pkattvals, pknumatts.max(0), "src_pkattval")?;
        let tgt = cstr::opt_args(tgt_pkattvals, pknumatts.max(0), "tgt_pkattval")?;
        text_out(api::build_sql_update(name, rel, pk, &src, &tgt))
    })
}

/// `dblink_build_sql_delete(relname, pkattnums, pknumatts,
/// tgt_pkattvals)`, run in the database the connection points at: the
/// DELETE of the row whose key equals `tgt_pkattvals` (NULL entries: `IS
/// NULL`). Free the text with `dblink_free`. NULL on ERROR, as
/// `dblink_build_sql_insert`.
///
/// # Safety
///
/// - `connname` is NULL or points to a NUL-terminated string that stays valid and unchanged during the call.
/// - `relname` is NULL or points to a NUL-terminated string that stays valid and unchanged during the call.
/// - `pkattnums` is NULL or points to `pknumatts` readable ints.
/// - `tgt_pkattvals` is NULL or points to `pknumatts` readable pointers, each NULL or a NUL-terminated string, all valid during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dblink_build_sql_delete(
    connname: *const c_char,
    relname: *const c_char,
    pkattnums: *const c_int,
    pknumatts: c_int,
    tgt_pkattvals: *const *const c_char,
) -> *mut c_char {
    // SAFETY: the caller keeps the contract of `# Safety` above, which is what the pointer helpers require.
    guard(|| unsafe {
        let name = cstr::opt_arg(connname, "connname")?;
        let rel = cstr::arg(relname, "relname")?;
        let pk = attnums(pkattnums, pknumatts)?;
        let tgt = cstr::opt_args(tgt_pkattvals, pknumatts.max(0), "tgt_pkattval")?;
        text_out(api::build_sql_delete(name, rel, pk, &tgt))
    })
}
