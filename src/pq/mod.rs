//! The raw layer: RAII owners of libpq handles. Every `unsafe` call into
//! libpq lives below this module; nothing outside it sees a raw pointer.

mod cancel;
mod conn;
mod process;
mod result;
mod tls;
mod wait;

use std::ffi::{CStr, CString};
use std::os::raw::c_char;

pub(crate) use cancel::Canceller;
pub(crate) use conn::{
    Conn, Fetched, Last, PollStatus, ServerNotice, Stop, TxStatus, capture_notices,
    notices_captured,
};
pub(crate) use conn::{CopyBegun, CopyChunk};
pub(crate) use process::generation as process_generation;
pub(crate) use result::PipelineMark;
pub(crate) use result::{PgResult, ResultKind};
pub(crate) use wait::{Deadline, Interest, deadline_after, earlier, shutdown_socket, wait_sockets};

/// Query parameters as libpq takes them: every value NUL-terminated in one
/// buffer (one allocation for all of them) and a pointer to each, NULL for
/// SQL NULL.
pub(crate) struct Params {
    /// Keeps the bytes `values` points into (a Vec's heap data never moves).
    _buf: Vec<u8>,
    values: Vec<*const c_char>,
}

impl Params {
    /// No parameters.
    pub(crate) fn none() -> Params {
        Params {
            _buf: Vec::new(),
            values: Vec::new(),
        }
    }

    /// The parameters, or `Err(())` when one holds a NUL byte.
    pub(crate) fn new(params: &[Option<&str>]) -> Result<Params, ()> {
        let len: usize = params.iter().flatten().map(|p| p.len() + 1).sum();
        let mut buf = Vec::with_capacity(len);
        let mut starts = Vec::with_capacity(params.len());
        for p in params {
            match p {
                Some(text) if text.as_bytes().contains(&0) => return Err(()),
                Some(text) => {
                    starts.push(Some(buf.len()));
                    buf.extend_from_slice(text.as_bytes());
                    buf.push(0);
                }
                None => starts.push(None),
            }
        }
        let base = buf.as_ptr().cast::<c_char>();
        let values = starts
            .into_iter()
            // `wrapping_add` keeps this safe code; the offsets are in bounds.
            .map(|s| s.map_or(std::ptr::null(), |off| base.wrapping_add(off)))
            .collect();
        Ok(Params { _buf: buf, values })
    }
}

/// A parsed connection string (`PQconninfoParse`): the keyword/value pairs
/// it gives explicitly, to connect with (`PQconnectStartParams`) after
/// pgdblink has read or set some of them.
pub(crate) struct ConnParams {
    pairs: Vec<(CString, CString)>,
}

impl ConnParams {
    /// Parses `connstr` (key=value pairs or a URI). `Err` is libpq's
    /// message, as `PQconnectdb` would report it.
    pub(crate) fn parse(connstr: &CStr) -> Result<ConnParams, String> {
        let mut errmsg: *mut c_char = std::ptr::null_mut();
        // SAFETY: `connstr` is a valid C string for the call; `errmsg` is a
        // valid out-pointer that libpq sets to NULL or a malloc'd message.
        let options = unsafe { pq_sys::PQconninfoParse(connstr.as_ptr(), &mut errmsg) };
        // SAFETY: NULL or a message libpq allocated for us, copied and freed once.
        let message = unsafe {
            let m = owned_text(errmsg);
            if !errmsg.is_null() {
                pq_sys::PQfreemem(errmsg.cast());
            }
            m
        };
        if options.is_null() {
            return Err(message.unwrap_or_else(|| "out of memory\n".to_owned()));
        }
        let mut pairs = Vec::new();
        let mut i = 0;
        loop {
            // SAFETY: `options` is the array libpq returned, terminated by an
            // entry whose keyword is NULL; we stop there.
            let opt = unsafe { &*options.add(i) };
            if opt.keyword.is_null() {
                break;
            }
            if !opt.val.is_null() {
                // SAFETY: non-NULL keyword and val are valid C strings owned
                // by the array, copied before it is freed.
                let (k, v) = unsafe { (CStr::from_ptr(opt.keyword), CStr::from_ptr(opt.val)) };
                pairs.push((k.to_owned(), v.to_owned()));
            }
            i += 1;
        }
        // SAFETY: allocated by PQconninfoParse, freed once here.
        unsafe { pq_sys::PQconninfoFree(options) };
        Ok(ConnParams { pairs })
    }

    /// The value given for `key`, if any (and if it is UTF-8).
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k.as_bytes() == key.as_bytes())
            .and_then(|(_, v)| v.to_str().ok())
    }

    /// Sets `key` to `value`, replacing what the string gave.
    pub(crate) fn set(&mut self, key: &CStr, value: &CStr) {
        self.pairs.retain(|(k, _)| k.as_c_str() != key);
        self.pairs.push((key.to_owned(), value.to_owned()));
    }

    /// NULL-terminated keyword and value arrays for PQconnectStartParams,
    /// borrowing from `self`.
    fn arrays(&self) -> (Vec<*const c_char>, Vec<*const c_char>) {
        let keys = self.pairs.iter().map(|(k, _)| k.as_ptr());
        let values = self.pairs.iter().map(|(_, v)| v.as_ptr());
        let end = std::iter::once(std::ptr::null());
        (
            keys.chain(end.clone()).collect(),
            values.chain(end).collect(),
        )
    }
}

/// Whether the linked libpq was built thread-safe (`PQisthreadsafe`),
/// asked once: pgdblink hands connections between threads, which only a
/// thread-safe libpq allows.
pub(crate) fn is_thread_safe() -> bool {
    static SAFE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    // SAFETY: PQisthreadsafe takes no arguments and only returns a constant.
    *SAFE.get_or_init(|| unsafe { pq_sys::PQisthreadsafe() } == 1)
}

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
    fn parameters_share_one_buffer_and_null_stays_null() {
        let p = super::Params::new(&[Some("a"), None, Some(""), Some("bcd")]).expect("params");
        assert_eq!(p.values.len(), 4);
        assert!(p.values[1].is_null());
        let text = |i: usize| {
            // SAFETY: non-NULL entries point to NUL-terminated strings in
            // `p`'s buffer, alive while `p` is.
            let c = unsafe { std::ffi::CStr::from_ptr(p.values[i]) };
            c.to_bytes().to_vec()
        };
        assert_eq!(text(0), b"a");
        assert_eq!(text(2), b"");
        assert_eq!(text(3), b"bcd");
        assert!(super::Params::new(&[Some("x\0y")]).is_err());
        assert!(super::Params::none().values.is_empty());
    }

    #[test]
    fn versions_are_normalized_to_postgresql_format() {
        assert_eq!(super::normalize_version(180600), 180006);
        assert_eq!(super::normalize_version(180006), 180006);
        assert_eq!(super::normalize_version(150018), 150018);
        assert_eq!(super::normalize_version(170000), 170000);
        assert_eq!(super::normalize_version(90624), 90624);
    }
}
