//! C strings in and out: the one place that reads pointers a C caller gave.

use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_int};

use crate::error::{Error, Result};

/// A required string argument: NULL and invalid UTF-8 are clear errors.
///
/// # Safety
/// A non-NULL `p` points to a NUL-terminated string that stays valid and
/// unchanged for `'a` (the documented contract of every pgdblink function:
/// the duration of the call).
pub(crate) unsafe fn arg<'a>(p: *const c_char, what: &str) -> Result<&'a str> {
    // SAFETY: our caller's promise, passed on.
    unsafe { opt_arg(p, what) }?.ok_or_else(|| Error::null_argument(what))
}

/// An optional string argument: NULL is `None` (e.g. the unnamed connection).
///
/// # Safety
/// As for [`arg`].
pub(crate) unsafe fn opt_arg<'a>(p: *const c_char, what: &str) -> Result<Option<&'a str>> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: `p` is non-NULL and, by the entry point's contract, points to
    // a NUL-terminated string valid for the duration of the call.
    let bytes = unsafe { CStr::from_ptr(p) }.to_bytes();
    std::str::from_utf8(bytes)
        .map(Some)
        .map_err(|e| Error::not_utf8(what, e))
}

/// An array of `n` optional string arguments (NULL entries are SQL NULL).
///
/// # Safety
/// A non-NULL `p` points to `n` readable pointers, each NULL or as for
/// [`arg`], valid for `'a`.
pub(crate) unsafe fn opt_args<'a>(
    p: *const *const c_char,
    n: c_int,
    what: &str,
) -> Result<Vec<Option<&'a str>>> {
    let n = usize::try_from(n).map_err(|_| {
        Error::new(
            crate::sqlstate::INVALID_PARAMETER_VALUE,
            format!("number of {what}s must not be negative"),
        )
    })?;
    if n == 0 {
        return Ok(Vec::new());
    }
    if p.is_null() {
        return Err(Error::null_argument(what));
    }
    // SAFETY: `p` is non-NULL and, by the entry point's contract, points to
    // `n` readable pointers valid for the duration of the call.
    let items = unsafe { std::slice::from_raw_parts(p, n) };
    // SAFETY: each entry is NULL or a string valid for 'a, as promised.
    items.iter().map(|&s| unsafe { opt_arg(s, what) }).collect()
}

/// An array of `n` required string arguments.
///
/// # Safety
/// As for [`opt_args`].
pub(crate) unsafe fn args<'a>(
    p: *const *const c_char,
    n: c_int,
    what: &str,
) -> Result<Vec<&'a str>> {
    // SAFETY: our caller's promise, passed on.
    unsafe { opt_args(p, n, what) }?
        .into_iter()
        .map(|s| s.ok_or_else(|| Error::null_argument(what)))
        .collect()
}

/// Writes `values` into the caller's array `p` of `capacity` ints (22004
/// for a NULL `p`, 22023 when they do not fit).
///
/// # Safety
/// A non-NULL `p` points to `capacity` writable ints.
pub(crate) unsafe fn write_indexes(
    p: *mut c_int,
    capacity: usize,
    values: &[c_int],
    what: &str,
) -> Result<()> {
    if p.is_null() {
        return Err(Error::null_argument(what));
    }
    if values.len() > capacity {
        return Err(Error::new(
            crate::sqlstate::INVALID_PARAMETER_VALUE,
            format!(
                "{what} has room for {capacity} values, not {}",
                values.len()
            ),
        ));
    }
    // SAFETY: `p` is non-NULL and, by the entry point's contract, points to
    // `capacity` writable ints, of which we write the first values.len().
    let out = unsafe { std::slice::from_raw_parts_mut(p, values.len()) };
    out.copy_from_slice(values);
    Ok(())
}

/// A string for C, owned by the caller until `dblink_free`.
pub(crate) fn to_c_string(s: &str) -> Result<*mut c_char> {
    CString::new(s)
        .map(CString::into_raw)
        .map_err(|_| Error::interior_nul("returned text"))
}

/// Frees a string made by [`to_c_string`].
///
/// # Safety
/// `p` is NULL or came from [`to_c_string`] and is freed only once.
pub(crate) unsafe fn free_c_string(p: *mut c_char) {
    // SAFETY: our caller's promise, passed on (COPY data buffers too).
    if unsafe { super::copy::free_bytes(p) } {
        return;
    }
    if !p.is_null() {
        // SAFETY: by the contract above, `p` came from CString::into_raw.
        drop(unsafe { CString::from_raw(p) });
    }
}

/// A NULL-terminated array of strings for C, freed with `dblink_free_strings`.
pub(crate) fn to_c_strings(items: &[String]) -> Result<*mut *mut c_char> {
    let mut ptrs = Vec::with_capacity(items.len() + 1);
    for s in items {
        match to_c_string(s) {
            Ok(p) => ptrs.push(p),
            Err(e) => {
                // SAFETY: each came from to_c_string just above, freed once.
                ptrs.into_iter().for_each(|p| unsafe { free_c_string(p) });
                return Err(e);
            }
        }
    }
    ptrs.push(std::ptr::null_mut());
    Ok(Box::into_raw(ptrs.into_boxed_slice()).cast())
}

/// Frees an array made by [`to_c_strings`].
///
/// # Safety
/// `p` is NULL or came from [`to_c_strings`] and is freed only once.
pub(crate) unsafe fn free_c_strings(p: *mut *mut c_char) {
    if p.is_null() {
        return;
    }
    let mut n = 0;
    // SAFETY: `p` came from to_c_strings, so entries up to and including the
    // terminating NULL are readable.
    while !unsafe { *p.add(n) }.is_null() {
        n += 1;
    }
    // SAFETY: `p` was a boxed slice of exactly n + 1 pointers (the strings
    // and the NULL), rebuilt here with that length and freed once.
    let all = unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(p, n + 1)) };
    // SAFETY: each entry came from to_c_string, freed once here.
    all.iter().for_each(|&s| unsafe { free_c_string(s) });
}

/// A C index argument as usize; negative is an error.
pub(crate) fn index(i: c_int, what: &str) -> Result<usize> {
    usize::try_from(i).map_err(|_| {
        Error::new(
            crate::sqlstate::INVALID_PARAMETER_VALUE,
            format!("{what} {i} is out of range"),
        )
    })
}

/// Writes `values` into the caller's array `out` (ignored when NULL).
///
/// # Safety
/// A non-NULL `out` has room for `values.len()` ints.
pub(crate) unsafe fn write_ints(out: *mut c_int, values: &[c_int]) {
    if out.is_null() {
        return;
    }
    // SAFETY: non-NULL `out` has room for `values.len()` ints by the entry
    // point's contract, and does not overlap our own vector.
    unsafe { std::ptr::copy_nonoverlapping(values.as_ptr(), out, values.len()) };
}
