//! The C API: `extern "C"` entry points that convert arguments, call the
//! Rust API and encode the outcome as dblink does. No logic of its own: each
//! function's behaviour is that of its Rust counterpart (the table on the
//! [crate page](crate#dblink-functions-and-their-names-here)).
//!
//! `scripts/build-c.sh` builds `libpgdblink.so` (soname `libpgdblink.so.0.1`)
//! and `libpgdblink.a` from the crate with the `capi` feature; their header,
//! `include/pgdblink.h`, is generated from this module by cbindgen (see
//! `tests/header.rs`) and committed, with these items' documentation as its
//! comments. Rust programs use the Rust API instead.
//!
//! # Conventions
//!
//! - **Names.** `connname == NULL` is dblink's unnamed connection. Every
//!   string argument is NUL-terminated UTF-8 (22021 otherwise) and is read
//!   only during the call; NULL where a value is required is the ERROR 22004
//!   `... must not be NULL`.
//! - **Return encoding.** dblink's 1/0 and 'OK' are the `int` 1/0 and 1;
//!   dblink's text ('OK', 'ERROR', 'INSERT 0 1', ...) is a `char *`; its rows
//!   and empty sets are a `dblink_result *` whose `dblink_result_status`
//!   tells rows, a command's status row, the end of a query and a remote
//!   error (fail_on_error = 0) apart; dblink's NULL is NULL.
//! - **Errors.** Where dblink raises an ERROR, an `int` function returns -1
//!   and a pointer function NULL, and `dblink_last()` (the whole error in
//!   one struct), or `dblink_last_error()`, `dblink_last_sqlstate()`,
//!   `dblink_last_detail()`, `dblink_last_hint()` and
//!   `dblink_last_context()`, describe it; compare the SQLSTATE with the
//!   `DBLINK_SQLSTATE_*` macros of the codes pgdblink raises itself. They
//!   are thread-local, and only a call that can fail changes them: it
//!   records its ERROR, or clears them when it succeeds. The calls that
//!   cannot fail never touch them, whatever their arguments (NULL
//!   included): the frees (`dblink_free`, `dblink_free_strings`,
//!   `dblink_result_free`), the result accessors (`dblink_result_*`), the
//!   readers of the last error (`dblink_last*`), `dblink_version`,
//!   `dblink_libpq_version`, `dblink_disconnect_all` and the
//!   `dblink_set_*_handler` functions. So the last error and its strings
//!   stay valid until the thread's next call that can fail: a result freed
//!   in between (by a destructor, a garbage collector) does not wipe it.
//!   A result accessor given a bad argument (a NULL result, a cell out of
//!   range) returns its failure value (-1, NULL, DBLINK_STATUS_ERROR) and
//!   records nothing; a result's own remote error is read with
//!   `dblink_result_error_message` and `dblink_result_sqlstate`. No panic
//!   crosses the boundary: an internal failure is the ERROR `internal
//!   error: ...` (XX000), or the failure value alone in a call that cannot
//!   fail.
//! - **Memory.** A returned `char *` is freed with `dblink_free`, a `char **`
//!   with `dblink_free_strings`, a `dblink_result *` with
//!   `dblink_result_free`, each exactly once. A `const char *` is never
//!   freed: it belongs to its result (valid until `dblink_result_free`) or
//!   to the calling thread (`dblink_last_*`).
//! - **Threads.** Every function may be called from any thread at any time,
//!   on the same name or on different names (see the crate page's *Thread
//!   safety*). `dblink_cancel_query` may be called while another thread
//!   waits in `dblink_get_result` on the same name. A result may be read by
//!   several threads at once, but freed only once, after the reads.
//! - **Notices.** Where dblink raises a NOTICE, the callback set with
//!   `dblink_set_notice_handler` is called, if any.
//! - **Exit and fork.** Call `dblink_disconnect_all()` before exit (e.g.
//!   from `atexit`); a child process after `fork()` must open its own
//!   connections.
//!
//! # Example
//!
//! ```c
//! #include <pgdblink.h>
//! #include <stdio.h>
//!
//! static int report(void) {
//!     const dblink_error *e = dblink_last();   // NULL only after a success
//!     fprintf(stderr, "ERROR %s: %s\n", e->sqlstate, e->message);
//!     if (e->detail) fprintf(stderr, "DETAIL: %s\n", e->detail);
//!     return 1;
//! }
//!
//! int main(void) {
//!     if (dblink_connect("a", "host=localhost dbname=postgres") != 1) return report();
//!     if (dblink_send_query("a", "select g, g * g from generate_series(1, 3) g") != 1) {
//!         char *why = dblink_error_message("a");   // e.g. another command is already in progress
//!         fprintf(stderr, "not sent: %s\n", why ? why : "?");
//!         dblink_free(why);
//!         return 1;
//!     }
//!     for (;;) {
//!         dblink_result *r = dblink_get_result("a", 1);   // blocks; dblink_wait_any waits on many
//!         if (r == NULL) return report();
//!         dblink_status st = dblink_result_status(r);
//!         for (int i = 0; st == DBLINK_STATUS_TUPLES && i < dblink_result_ntuples(r); i++)
//!             printf("%s squared is %s\n", dblink_result_getvalue(r, i, 0),
//!                    dblink_result_getvalue(r, i, 1));
//!         dblink_result_free(r);
//!         if (st == DBLINK_STATUS_DONE) break;             // the end of the query
//!     }
//!     char *status = dblink_exec("a", "create temp table t(x int)", 1);  // "CREATE TABLE"
//!     if (status == NULL) return report();
//!     dblink_free(status);
//!     dblink_disconnect("a");
//!     return 0;
//! }
//! ```
//!
//! Build: `scripts/build-c.sh --release`, then `cc app.c -I include -L
//! target/release -lpgdblink -Wl,-rpath,$PWD/target/release`.
//!
//! # From Rust
//!
//! The module exists with the `capi` feature only. Every entry point that
//! takes a pointer is an `unsafe extern "C" fn` with a `# Safety` section:
//! safe Rust cannot call one, so it cannot pass a dangling pointer.
//!
//! ```rust,compile_fail
//! #![forbid(unsafe_code)]
//! // error[E0133]: call to unsafe function is unsafe and requires unsafe block
//! pgdblink::ffi::dblink_result_free(0x10 as *mut pgdblink::DblinkResult);
//! ```
//!
//! With `unsafe`, and a pointer that keeps the contract, it compiles (this is
//! what the test above would be without its one error):
//!
//! ```rust,no_run
//! // SAFETY: NULL is a valid argument of dblink_result_free.
//! unsafe { pgdblink::ffi::dblink_result_free(std::ptr::null_mut()) };
//! ```
//!
//! Internally, every entry point runs inside `guard`, which catches panics,
//! clears the thread's last error on success and records it on failure, or,
//! when it cannot fail (the frees, the accessors, ...), inside
//! `guard_quiet`, which catches panics and never touches the last error.

mod asynchronous;
mod beyond;
mod build;
mod connection;
mod copy;
mod cstr;
mod last_error;
mod notice;
mod pipeline;
mod result;
mod sync;
mod version;

pub use asynchronous::*;
pub use beyond::*;
pub use build::*;
pub use connection::*;
pub use copy::*;
pub use last_error::*;
pub use notice::*;
pub use pipeline::*;
pub use result::*;
pub use sync::*;
pub use version::*;

use std::os::raw::{c_char, c_int};
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::error::{Error, Result, sqlstate};

/// The value an entry point returns when it fails.
pub(crate) trait FailureValue {
    fn failure() -> Self;
}

impl FailureValue for c_int {
    fn failure() -> Self {
        -1
    }
}

impl<T> FailureValue for *mut T {
    fn failure() -> Self {
        std::ptr::null_mut()
    }
}

impl<T> FailureValue for *const T {
    fn failure() -> Self {
        std::ptr::null()
    }
}

impl FailureValue for () {
    fn failure() -> Self {}
}

impl FailureValue for crate::Status {
    fn failure() -> Self {
        crate::Status::Error
    }
}

/// Runs one entry point's body: success clears the thread's last error,
/// failure records it and returns the failure value, and a panic is caught
/// and reported as an internal error.
pub(crate) fn guard<T: FailureValue>(body: impl FnOnce() -> Result<T>) -> T {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(value)) => {
            last_error::clear();
            value
        }
        Ok(Err(err)) => {
            last_error::set(err);
            T::failure()
        }
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic".to_owned());
            last_error::set(Error::new(
                sqlstate::INTERNAL_ERROR,
                format!("internal error: {what}"),
            ));
            T::failure()
        }
    }
}

/// Runs the body of an entry point that cannot fail (a free, an accessor of
/// a result or of the last error, a setter): like [`guard`] it catches
/// panics, but it never touches the thread's last error, so that a result
/// freed (or read) between a failed call and the reading of its error does
/// not wipe that error. A bad argument (an `Err`) or a panic gives the
/// failure value alone.
pub(crate) fn guard_quiet<T: FailureValue>(body: impl FnOnce() -> Result<T>) -> T {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(value)) => value,
        Ok(Err(_)) | Err(_) => T::failure(),
    }
}

/// dblink's 1 for 'OK'.
pub(crate) fn ok_int(r: Result<()>) -> Result<c_int> {
    r.map(|()| 1)
}

/// 1/0 for a bool.
pub(crate) fn bool_int(r: Result<bool>) -> Result<c_int> {
    r.map(c_int::from)
}

/// A Rust string handed to C, freed with `dblink_free`.
pub(crate) fn text_out(r: Result<String>) -> Result<*mut c_char> {
    r.and_then(|s| cstr::to_c_string(&s))
}
