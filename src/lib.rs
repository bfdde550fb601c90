//! PostgreSQL's [dblink](https://www.postgresql.org/docs/current/dblink.html)
//! API — named connections, asynchronous queries, cancel, notifications — for
//! programs outside the database server, in Rust and in C.
//!
//! pgdblink is a thin, safe layer over libpq (`PQsendQuery`, `PQconsumeInput`,
//! `PQisBusy`, `PQgetResult`, the cancel API, `PQnotifies`). Every dblink
//! function keeps dblink's contract: the same arguments, the same return
//! encoding (1/0, 'OK', 'ERROR', the empty set, NULL), the same message texts
//! and SQLSTATEs. The real dblink extension is the test oracle: the
//! differential tests run each call sequence through both and compare the
//! outcomes value by value. The same functions are exported to C (see
//! [C API](#c-api)).
//!
//! For Rust code, [`Connection`] is the idiomatic way in: a handle opened
//! under a name (C and the named functions see it too), resolved once, with
//! a method per dblink function, refused sends as errors, and results read
//! as borrowed [`Row`]s with typed values:
//!
//! ```rust,no_run
//! let conn = pgdblink::Connection::open("a", "host=localhost dbname=postgres")?;
//! let res = conn.query("select 42 as answer", true)?;
//! let answer: Option<i32> = res.row(0).map(|r| r.parse("answer")).transpose()?.flatten();
//! assert_eq!(answer, Some(42));
//! conn.disconnect()?;
//! # Ok::<(), pgdblink::Error>(())
//! ```
//!
//! The named functions are the dblink-exact API:
//!
//! ```rust,no_run
//! use pgdblink::{Status, connect, disconnect, get_result, send_query};
//!
//! connect(Some("a"), "host=localhost dbname=postgres")?;
//! send_query(Some("a"), "select 42 as answer")?; // returns at once
//! // ... do other work, or wait with `wait_any` ...
//! let rows = get_result(Some("a"), true)?; // the query's rows
//! assert_eq!(rows.columns(), ["answer"]);
//! assert_eq!(rows.get(0, 0), Some("42"));
//! // Then the empty set that ends the query: the connection is free again.
//! assert_eq!(get_result(Some("a"), true)?.status(), Status::Done);
//! disconnect(Some("a"))?;
//! # Ok::<(), pgdblink::Error>(())
//! ```
//!
//! # Connection names
//!
//! Every function that uses a connection takes `name: Option<&str>`, as
//! dblink takes an optional connection name: `Some("a")` is the named
//! connection "a", `None` is dblink's *unnamed* connection (one slot shared
//! by the whole process; connecting it again replaces it). Names are
//! process-wide, so any thread can use a connection another thread opened.
//! Like dblink, a name longer than 63 bytes is truncated (with a NOTICE,
//! 42622). [`dblink`], [`dblink_params`] and [`exec`] take
//! `conn_or_connstr` instead: a known name, or else a connection string for
//! a temporary connection that lives for that one call.
//!
//! ```rust,no_run
//! pgdblink::connect(None, "host=localhost dbname=postgres")?; // the unnamed connection
//! pgdblink::connect(Some("reports"), "host=replica dbname=app")?;
//! assert_eq!(pgdblink::exec(None, "set application_name = 'batch'", true)?, "SET");
//! let n = pgdblink::dblink(Some("reports"), "select count(*) from orders", true)?;
//! println!("{} orders", n.get(0, 0).unwrap_or("?"));
//! // The unnamed connection is never listed.
//! assert_eq!(pgdblink::get_connections(), Some(vec!["reports".to_owned()]));
//! # Ok::<(), pgdblink::Error>(())
//! ```
//!
//! # Errors
//!
//! Where dblink raises an ERROR, a function returns `Err(`[`Error`]`)`: the
//! SQLSTATE, message, and the optional detail, hint and context, with
//! dblink's own words for the errors dblink raises itself (e.g. 08003
//! `connection "a" not available`, 08001 `could not establish connection`
//! with libpq's message as detail) and the remote server's fields for a
//! failed remote statement, followed in `context` by dblink's line (e.g.
//! `while executing query on dblink connection named "a"`). The codes
//! pgdblink raises itself are constants in [`sqlstate`].
//!
//! Functions with a `fail_on_error` flag follow dblink: with `false`, a
//! *remote* error is not an `Err` but a NOTICE plus an empty result
//! ([`Status::Error`], holding the error) or the text 'ERROR'. Errors dblink
//! raises itself are `Err` whatever the flag.
//!
//! ```rust,no_run
//! use pgdblink::{Status, sqlstate};
//!
//! let err = pgdblink::send_query(Some("nosuch"), "select 1").unwrap_err();
//! assert_eq!(err.sqlstate, sqlstate::CONNECTION_DOES_NOT_EXIST);
//! assert_eq!(err.message, r#"connection "nosuch" not available"#);
//!
//! # pgdblink::connect(Some("a"), "host=localhost dbname=postgres")?;
//! let err = pgdblink::dblink(Some("a"), "select 1/0", true).unwrap_err();
//! assert_eq!(err.sqlstate, "22012"); // the remote server's division_by_zero
//! assert_eq!(err.message, "division by zero");
//!
//! let res = pgdblink::dblink(Some("a"), "select 1/0", false)?; // no Err: a NOTICE
//! assert_eq!(res.status(), Status::Error);
//! assert_eq!(res.error().map(|e| e.sqlstate.as_str()), Some("22012"));
//! # Ok::<(), pgdblink::Error>(())
//! ```
//!
//! # Results
//!
//! [`get_result`], [`dblink`], [`dblink_params`] and [`fetch`] return a
//! [`DblinkResult`]: text cells (`None` is SQL NULL) and a [`Status`] that
//! tells "no more results" from "zero rows":
//!
//! | [`Status`] | holds |
//! |---|---|
//! | [`Tuples`](Status::Tuples) | a query's rows (possibly zero) |
//! | [`Command`](Status::Command) | a command's status: one row, one text column `status`, e.g. 'CREATE TABLE' |
//! | [`Done`](Status::Done) | the empty set that ends an asynchronous query |
//! | [`Error`](Status::Error) | a remote error with `fail_on_error` false: the empty set, plus the error ([`DblinkResult::error`]) |
//!
//! [`exec`], [`open`] and [`close`] return dblink's text ('OK', a command
//! status such as 'INSERT 0 1', or 'ERROR'); [`send_query`] and [`is_busy`]
//! dblink's 1/0 as `bool`.
//!
//! # Notices
//!
//! Where dblink raises a NOTICE instead of an ERROR (`could not send query:
//! ...`, a remote error with `fail_on_error` false, a truncated connection
//! name), pgdblink calls the process-wide handler set with
//! [`set_notice_handler`], if any, with the connection's name and the notice
//! as an [`Error`]. The notices and warnings the remote servers send
//! (`RAISE NOTICE`, WARNING), which dblink drops, go to the handler set with
//! [`set_server_notice_handler`]. Both are off by default; nothing is printed
//! on stderr.
//!
//! ```rust,no_run
//! use std::sync::Arc;
//!
//! pgdblink::set_notice_handler(Some(Arc::new(|name: Option<&str>, notice: &pgdblink::Error| {
//!     eprintln!("NOTICE on {}: {}", name.unwrap_or("unnamed connection"), notice.message);
//! })));
//! ```
//!
//! # Thread safety
//!
//! Every function may be called from any thread at any time, on the same
//! name or on different names, without coordination. In short:
//!
//! - Calls on the same name run one at a time, each one whole; calls on
//!   different names never wait for each other (no lock is held across a
//!   network wait except the connection's own).
//! - A query's results are delivered exactly once, in order, to whichever
//!   thread calls [`get_result`] on that name next.
//! - [`cancel_query`] never waits for the connection: it interrupts a
//!   [`get_result`] blocked in another thread, which then gets 57014.
//! - [`disconnect`] removes the name at once, waits for the call in progress
//!   on it, then closes the connection; later calls on the name get 08003
//!   until it is connected again. [`wait_any`] and [`wait_all`] hold no lock
//!   while they wait.
//! - Notice handlers run on the thread whose call produced the notice, after
//!   that call released its locks.
//! - After `fork()`, a child must not use the connections it inherited.
//!
//! The complete promise is in the README's *Thread safety* section
//! (`README.md` in the crate's root, shipped with the crate), whose wording
//! is the reference; `tests/stress.rs` checks it.
//!
//! # dblink functions and their names here
//!
//! | dblink | Rust (`pgdblink::`) | C ([`ffi`], `include/pgdblink.h`) |
//! |---|---|---|
//! | dblink_connect / dblink_connect_u | [`connect`], [`connect_u`] | [`dblink_connect`](ffi::dblink_connect), [`dblink_connect_u`](ffi::dblink_connect_u) |
//! | dblink_disconnect | [`disconnect`] | [`dblink_disconnect`](ffi::dblink_disconnect) |
//! | dblink_get_connections | [`get_connections`] | [`dblink_get_connections`](ffi::dblink_get_connections) |
//! | dblink_send_query | [`send_query`] | [`dblink_send_query`](ffi::dblink_send_query) |
//! | dblink_is_busy | [`is_busy`] | [`dblink_is_busy`](ffi::dblink_is_busy) |
//! | dblink_get_result | [`get_result`] | [`dblink_get_result`](ffi::dblink_get_result) |
//! | dblink_cancel_query | [`cancel_query`] | [`dblink_cancel_query`](ffi::dblink_cancel_query) |
//! | dblink_error_message | [`error_message`] | [`dblink_error_message`](ffi::dblink_error_message) |
//! | (the thread's last error) | `Err(Error)` | [`dblink_last`](ffi::dblink_last), [`dblink_last_error`](ffi::dblink_last_error), ... |
//! | (versions) | `env!("CARGO_PKG_VERSION")`, [`libpq_version`] | [`dblink_version`](ffi::dblink_version), [`dblink_libpq_version`](ffi::dblink_libpq_version) |
//! | dblink_get_notify | [`get_notify`] | [`dblink_get_notify`](ffi::dblink_get_notify) |
//! | dblink | [`dblink`] | [`dblink`](ffi::dblink) |
//! | dblink_exec | [`exec`] | [`dblink_exec`](ffi::dblink_exec) |
//! | dblink_open / dblink_fetch / dblink_close | [`open`], [`fetch`], [`close`] | [`dblink_open`](ffi::dblink_open), [`dblink_fetch`](ffi::dblink_fetch), [`dblink_close`](ffi::dblink_close) |
//!
//! # Beyond dblink
//!
//! What dblink users miss, in Rust and C:
//!
//! | need | Rust | C |
//! |---|---|---|
//! | wait on many connections without polling | [`wait_any`], [`wait_all`] | [`dblink_wait_any`](ffi::dblink_wait_any), [`dblink_wait_all`](ffi::dblink_wait_all) ([`DBLINK_TIMED_OUT`](ffi::DBLINK_TIMED_OUT)) |
//! | your own event loop | [`socket`], [`consume_input`] | [`dblink_socket`](ffi::dblink_socket), [`dblink_consume_input`](ffi::dblink_consume_input) |
//! | bind parameters (text; NULL is SQL NULL) | [`send_query_params`], [`dblink_params`] | [`dblink_send_query_params`](ffi::dblink_send_query_params), [`dblink_params`](ffi::dblink_params) |
//! | stream large results in chunks | [`send_query_chunked`] | [`dblink_send_query_chunked`](ffi::dblink_send_query_chunked) |
//! | bounded waits | [`get_result_timeout`], [`cancel_query_timeout`], [`connect_timeout`] | [`dblink_get_result_timeout`](ffi::dblink_get_result_timeout), [`dblink_cancel_query_timeout`](ffi::dblink_cancel_query_timeout), [`dblink_connect_timeout`](ffi::dblink_connect_timeout) |
//! | open many connections at once | [`connect_all`], [`connect_start`] + [`connect_poll`] | [`dblink_connect_all`](ffi::dblink_connect_all), [`dblink_connect_start`](ffi::dblink_connect_start) + [`dblink_connect_poll`](ffi::dblink_connect_poll) |
//! | reconnect a broken connection | [`reset`] | [`dblink_reset`](ffi::dblink_reset) |
//! | close everything at exit | [`disconnect_all`] | [`dblink_disconnect_all`](ffi::dblink_disconnect_all) |
//! | NOTICEs, server notices | [`set_notice_handler`], [`set_server_notice_handler`], [`set_server_message_handler`] (with severity) | [`dblink_set_notice_handler`](ffi::dblink_set_notice_handler), [`dblink_set_server_notice_handler`](ffi::dblink_set_server_notice_handler), [`dblink_set_server_message_handler`](ffi::dblink_set_server_message_handler) |
//!
//! # C API
//!
//! The crate also builds `libpgdblink.so` and `libpgdblink.a`. Their header,
//! `include/pgdblink.h`, is generated from the [`ffi`] module by `build.rs`
//! (cbindgen) on every build and committed; the [`ffi`] module documents the
//! C conventions (NULL connection name, -1/NULL on ERROR with the
//! `dblink_last_*` accessors, who frees what) with an example.
//!
//! # libpq
//!
//! The default `bundled` feature compiles libpq 18 in; `system-libpq` links
//! the system's (14 or later; older than 17, cancel falls back to `PQcancel`
//! and [`send_query_chunked`] to single-row mode). [`libpq_version`] tells
//! which one is linked.

#![warn(clippy::undocumented_unsafe_blocks)]
#![deny(missing_docs)]
// Unsafe code lives in two modules only: the libpq layer (`pq`) and the C
// ABI (`ffi`), each of which allows it explicitly.
#![deny(unsafe_code)]

mod api;
mod error;
#[cfg(feature = "capi")]
#[allow(unsafe_code)]
pub mod ffi;
mod handle;
mod notice;
#[allow(unsafe_code)]
mod pq;
mod registry;
mod result;
mod row;

pub use api::*;
pub use error::{Error, Result, sqlstate};
pub use handle::Connection;
pub use notice::{
    NoticeHandler, ServerMessageHandler, set_notice_handler, set_server_message_handler,
    set_server_notice_handler,
};
pub use result::{DblinkResult, Notification, Status};
pub use row::{ColumnIndex, Row};

/// The version of the libpq linked in, in PostgreSQL's format: major ×
/// 10000 + minor (e.g. 180006 for 18.6, 170004 for 17.4). The bundled
/// libpq's `PQlibVersion` says 180600 for 18.6; this corrects it.
///
/// ```rust
/// let major = pgdblink::libpq_version() / 10000;
/// assert!(major >= 14);
/// if major < 17 {
///     eprintln!("libpq {major}: cancel requests are not encrypted");
/// }
/// ```
pub fn libpq_version() -> i32 {
    pq::lib_version()
}
