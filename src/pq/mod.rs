//! The raw layer: RAII owners of libpq handles. Every `unsafe` call into
//! libpq lives below this module; nothing outside it sees a raw pointer.

mod cancel;
mod conn;
mod result;
mod wait;

pub(crate) use cancel::Canceller;
pub(crate) use conn::{Conn, PollStatus, ServerNotice, TxStatus, capture_notices};
pub(crate) use result::{PgResult, ResultKind};
pub(crate) use wait::{Deadline, Interest, deadline_after, wait_sockets};

/// libpq's version number in PostgreSQL's format (e.g. 180006 for 18.6),
/// from `PQlibVersion`.
pub(crate) fn lib_version() -> i32 {
    // SAFETY: PQlibVersion takes no arguments and only returns a constant.
    let v = unsafe { pq_sys::PQlibVersion() };
    normalize_version(v)
}

/// The bundled libpq (pq-src) reports 18.6 as 180600; PostgreSQL's format
/// (10 and later) is major * 10000 + minor, and a minor never reaches 100.
fn normalize_version(v: i32) -> i32 {
    let (major, rest) = (v / 10000, v % 10000);
    if major >= 10 && rest >= 100 && rest % 100 == 0 {
        major * 10000 + rest / 100
    } else {
        v
    }
}

/// Whether libpq can parse `connstr` (`PQconninfoParse`), without
/// connecting.
pub(crate) fn conninfo_parses(connstr: &std::ffi::CStr) -> bool {
    let mut errmsg: *mut std::os::raw::c_char = std::ptr::null_mut();
    // SAFETY: `connstr` is a valid C string for the call; `errmsg` is a
    // valid out-pointer that libpq sets to NULL or a malloc'd message.
    let options = unsafe { pq_sys::PQconninfoParse(connstr.as_ptr(), &mut errmsg) };
    // SAFETY: each is NULL or was allocated by libpq for us, freed once here.
    unsafe {
        if !errmsg.is_null() {
            pq_sys::PQfreemem(errmsg.cast());
        }
        if !options.is_null() {
            pq_sys::PQconninfoFree(options);
        }
    }
    !options.is_null()
}

/// Copies a libpq-owned C string into an owned `String`, replacing invalid
/// UTF-8 (libpq's own messages may be localized in another encoding).
///
/// # Safety
/// `ptr` must be NULL or point to a NUL-terminated string that stays valid for
/// the duration of the call.
unsafe fn owned_text(ptr: *const std::os::raw::c_char) -> Option<String> {
    if ptr.is_null() {
        return None;
    }
    // SAFETY: the caller promises a valid NUL-terminated string.
    let cstr = unsafe { std::ffi::CStr::from_ptr(ptr) };
    Some(cstr.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    #[test]
    fn versions_are_normalized_to_postgresql_format() {
        assert_eq!(super::normalize_version(180600), 180006);
        assert_eq!(super::normalize_version(180006), 180006);
        assert_eq!(super::normalize_version(150018), 150018);
        assert_eq!(super::normalize_version(170000), 170000);
        assert_eq!(super::normalize_version(90624), 90624);
    }
}
