//! pgdblink: PostgreSQL's dblink API — named connections, asynchronous
//! queries, cancel, notifications — outside the database server, over libpq.

#![warn(clippy::undocumented_unsafe_blocks)]

mod api;
mod error;
pub mod ffi;
mod notice;
mod pq;
mod registry;
mod result;

pub use api::*;
pub use error::{Error, Result, sqlstate};
pub use notice::{NoticeHandler, set_notice_handler, set_server_notice_handler};
pub use result::{DblinkResult, Notification, Status};

/// The version of the libpq linked in (e.g. 180006 for 18.6).
pub fn libpq_version() -> i32 {
    pq::lib_version()
}
