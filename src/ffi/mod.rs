//! The C ABI: `extern "C"` entry points that convert arguments, call the
//! Rust API and encode the outcome as dblink does. No logic of its own.
//!
//! Every entry point runs inside [`guard`]: a panic becomes an ERROR
//! ("internal error: ..."), never an unwind into C. Where dblink raises an
//! ERROR, an int function returns -1 and a pointer function NULL, and the
//! thread's last error holds dblink's message and SQLSTATE.

mod asynchronous;
mod beyond;
mod connection;
mod cstr;
mod last_error;
mod notice;
mod result;
mod sync;

pub use asynchronous::*;
pub use beyond::*;
pub use connection::*;
pub use last_error::*;
pub use notice::*;
pub use result::*;
pub use sync::*;

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
