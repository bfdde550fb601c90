//! Bytes that OpenSSL holds for a connection and poll(2) cannot see.
//!
//! libpq reads a TLS record into OpenSSL whole, but takes out of it only as
//! much as fits in its input buffer (at least 8 kB). A record larger than
//! that room (a server or proxy that sends 16 kB records) leaves the rest
//! decrypted inside OpenSSL, with nothing left on the socket: if those bytes
//! complete a result, a poll(2) on the socket waits until the server sends
//! something else (possibly never). libpq's own blocking waits ask
//! `SSL_pending` first; libpq 18.6 (the bundled one) drains OpenSSL before returning, so
//! with it nothing is ever left there after `PQconsumeInput`, but older ones
//! (a system libpq 15, say) do not. So before pgdblink waits on a socket to
//! read, it asks [`ssl_pending`], and reads instead when bytes are there.
//!
//! libpq exposes the connection's `SSL *` (`PQsslStruct(conn, "OpenSSL")`)
//! but no way to ask about it, and pgdblink does not link OpenSSL itself:
//! `SSL_pending` is looked up, once, among libpq's own dependencies
//! (`dladdr` of a libpq function names the object holding libpq, its
//! `dlopen` handle searches that object and what it links), so the function
//! is the one of the OpenSSL that made the `SSL *`. Where it cannot be found
//! (a libpq without OpenSSL, a statically linked OpenSSL), nothing is asked:
//! pgdblink waits as before.

use std::ffi::c_void;
use std::os::raw::c_int;
use std::sync::OnceLock;

/// OpenSSL's `int SSL_pending(const SSL *ssl)`.
type SslPending = unsafe extern "C" fn(*const c_void) -> c_int;

/// The first libpq known to drain OpenSSL itself on every read (18.6, the
/// bundled one: `pqDrainPending` in fe-misc.c). With it nothing is asked, so
/// no lookup can pick the wrong OpenSSL (say, a vendored one linked into
/// the program next to a system libssl some other library loaded).
const LIBPQ_DRAINS_ITSELF: i32 = 180006;

/// `SSL_pending` of the OpenSSL that libpq uses, if it can be found and
/// libpq needs it.
#[inline]
fn ssl_pending_fn() -> Option<SslPending> {
    static FOUND: OnceLock<Option<SslPending>> = OnceLock::new();
    *FOUND.get_or_init(|| {
        if super::lib_version() >= LIBPQ_DRAINS_ITSELF {
            return None;
        }
        find_ssl_pending()
    })
}

fn find_ssl_pending() -> Option<SslPending> {
    let in_libpq: *const c_void = pq_sys::PQsslStruct as *const c_void;
    // SAFETY: Dl_info is plain data (pointers and integers), for which all
    // zeroes is a valid value; dladdr fills it in.
    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    // SAFETY: `in_libpq` is the address of a function of the loaded libpq;
    // `info` is a live, exclusively borrowed Dl_info.
    let found = unsafe { libc::dladdr(in_libpq, &mut info) } != 0;
    let mut handle = std::ptr::null_mut();
    if found && !info.dli_fname.is_null() {
        // SAFETY: with RTLD_NOLOAD, dlopen only returns a handle (one more
        // reference) to an object that is already loaded: the one holding
        // libpq, named by dladdr (a valid C string of the dynamic linker).
        handle = unsafe { libc::dlopen(info.dli_fname, libc::RTLD_LAZY | libc::RTLD_NOLOAD) };
    }
    if handle.is_null() {
        // libpq is linked into the program itself (whose name dlopen may
        // not match): the program's handle searches it and what it links.
        // SAFETY: dlopen(NULL) returns the handle of the running program.
        handle = unsafe { libc::dlopen(std::ptr::null(), libc::RTLD_LAZY) };
    }
    if handle.is_null() {
        return None;
    }
    // SAFETY: `handle` is a live handle (kept open: libpq stays loaded as
    // long as pgdblink is); the name is a valid C string.
    let symbol = unsafe { libc::dlsym(handle, c"SSL_pending".as_ptr()) };
    if symbol.is_null() {
        return None;
    }
    // SAFETY: the symbol SSL_pending of OpenSSL is the function
    // `int SSL_pending(const SSL *)`, which is what `SslPending` says.
    Some(unsafe { std::mem::transmute::<*mut c_void, SslPending>(symbol) })
}

/// Whether OpenSSL holds decrypted bytes of the connection `raw` that
/// libpq has not taken yet (false without TLS, or when `SSL_pending` could
/// not be found).
///
/// # Safety
/// `raw` must be a live PGconn that no other thread uses during the call.
#[inline]
pub(super) unsafe fn ssl_pending(raw: *mut pq_sys::PGconn) -> bool {
    let Some(pending) = ssl_pending_fn() else {
        return false;
    };
    // SAFETY: the caller promises `raw` is live; the name is a valid C
    // string. The answer is NULL or the connection's `SSL *`.
    let ssl = unsafe { pq_sys::PQsslStruct(raw, c"OpenSSL".as_ptr()) };
    if ssl.is_null() {
        return false;
    }
    // SAFETY: `ssl` is the live `SSL *` of the connection (libpq frees it
    // only when the connection closes or resets, which cannot happen during
    // this call), and `pending` is SSL_pending of the OpenSSL that made it;
    // SSL_pending only reads its record buffer.
    unsafe { pending(ssl.cast_const()) > 0 }
}

#[cfg(test)]
mod tests {
    /// Where OpenSSL is linked dynamically (as with the bundled libpq and
    /// with Debian's), SSL_pending is found; a miss would silently turn the
    /// check off. It is asked only of a libpq that does not drain OpenSSL.
    #[cfg(target_os = "linux")]
    #[test]
    fn ssl_pending_is_found_next_to_libpq_and_used_below_libpq_18_6() {
        assert!(super::find_ssl_pending().is_some());
        let drains = super::super::lib_version() >= super::LIBPQ_DRAINS_ITSELF;
        assert_eq!(super::ssl_pending_fn().is_none(), drains);
    }
}
