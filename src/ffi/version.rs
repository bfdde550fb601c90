//! The versions of this library and of the libpq it uses, for C callers.
//!
//! The header's macros `PGDBLINK_VERSION_MAJOR`, `_MINOR`, `_PATCH`,
//! `PGDBLINK_VERSION_NUM` and `PGDBLINK_VERSION` are written by
//! `tests/header.rs` from the same Cargo version as [`dblink_version`]
//! (cbindgen cannot evaluate `env!`), so a program can compare the header
//! it was compiled with against the library it runs with.

use std::ffi::CStr;
use std::os::raw::{c_char, c_int};

use super::guard_quiet;

/// The crate's version, NUL-terminated, fixed at compile time.
const VERSION: &CStr =
    match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
        Ok(v) => v,
        Err(_) => panic!("CARGO_PKG_VERSION holds a NUL byte"),
    };

/// This library's version as text, e.g. "0.1.0": the `PGDBLINK_VERSION` of
/// the header it was built with. A program compiled against one header and
/// run with another library can tell by comparing the two. Static: never
/// free it. Never fails; never touches the thread's last error.
///
/// ```c
/// if (strcmp(dblink_version(), PGDBLINK_VERSION) != 0)
///     fprintf(stderr, "built with pgdblink %s, running with %s\n",
///             PGDBLINK_VERSION, dblink_version());
/// ```
#[unsafe(no_mangle)]
pub extern "C" fn dblink_version() -> *const c_char {
    VERSION.as_ptr()
}

/// The version of the libpq this library runs with, in PostgreSQL's
/// format: major * 10000 + minor, e.g. 180006 for 18.6 (`PQlibVersion`,
/// corrected for the bundled libpq, whose own answer is 180600). A default
/// build has libpq 18.6 compiled in; a build with the system's libpq
/// (feature `system-libpq`) reports that one (e.g. 150013 for 15.13).
/// Never fails; never touches the thread's last error.
///
/// ```c
/// int v = dblink_libpq_version();
/// printf("libpq %d.%d\n", v / 10000, v % 10000);   // libpq 18.6
/// ```
#[unsafe(no_mangle)]
pub extern "C" fn dblink_libpq_version() -> c_int {
    guard_quiet(|| Ok(crate::libpq_version()))
}
