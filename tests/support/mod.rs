//! Shared helpers for the integration tests: a throwaway PostgreSQL server
//! ([`server`]: the `pgdblink-testkit` crate in `tests/kit`) and the real
//! dblink as test oracle ([`oracle`]).
//!
//! Set `PGDBLINK_TEST_DSN` (a libpq key=value connstr of a superuser) to test
//! against an existing server instead of a throwaway cluster; set
//! `PG_BINDIR` to choose the PostgreSQL binaries. See [`server`].
#![allow(dead_code, unused_imports)]

pub mod capi;
pub mod notices;
pub mod oracle;
pub mod process;
pub mod proxy;
pub mod scenario;
pub mod tls;
/// The throwaway server: the `pgdblink-testkit` crate (`tests/kit`).
pub use pgdblink_testkit as server;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

pub use oracle::{Oracle, Report, Rows, ServerExt, lit};
pub use server::{Server, shared};

/// A connection name unique within this process, `<prefix>_<n>`.
///
/// Tests of one binary run in parallel threads and pgdblink's connection
/// registry is process-wide, so every test uses its own names.
pub fn unique_name(prefix: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(1);
    format!("{prefix}_{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Connects a new name `<prefix>_<n>` to `connstr` (panics on failure).
pub fn connect_new(prefix: &str, connstr: &str) -> String {
    let name = unique_name(prefix);
    pgdblink::connect(Some(&name), connstr).unwrap_or_else(|e| panic!("connect {name}: {e:#}"));
    name
}

/// Reads results up to the final empty set; returns the rows of all of them.
pub fn drain_rows(name: &str) -> Rows {
    let mut rows = Vec::new();
    loop {
        let r = pgdblink::get_result(Some(name), true).expect("get_result");
        if r.status() == pgdblink::Status::Done {
            return rows;
        }
        rows.extend(r.rows());
    }
}

/// Serializes the tests that use the single unnamed connection.
///
/// Hold the guard for the whole test. A panic in another holder (a failed
/// test) does not poison it for the rest.
pub fn unnamed_lock() -> MutexGuard<'static, ()> {
    static UNNAMED: Mutex<()> = Mutex::new(());
    UNNAMED.lock().unwrap_or_else(PoisonError::into_inner)
}
