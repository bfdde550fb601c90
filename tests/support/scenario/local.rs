//! dblink's local database (dblink_get_pkey, dblink_build_sql_*).

use std::ffi::CStr;
use std::sync::atomic::Ordering;

use pgdblink as pg;
use pgdblink::ffi;

use super::c_abi::{c_ok_int, cstring};
use super::outcome::Value;
use super::world::NEXT_UNIQUE;
use crate::support::oracle::Report;
use crate::support::server::shared;

/// A connection name for [`on_local_database`], unique in the process.
fn local_name() -> String {
    format!(
        "scenario_local_{}_{}",
        std::process::id(),
        NEXT_UNIQUE.fetch_add(1, Ordering::Relaxed)
    )
}

/// Runs `f` on a pgdblink connection to what dblink's build functions call
/// the local database: the oracle world's database (`oracle` of the shared
/// server), so both worlds read the same catalog. The connection is open
/// for this call only, so it never shows in dblink_get_connections.
pub(super) fn on_local_database<T>(f: impl FnOnce(&str) -> pg::Result<T>) -> pg::Result<T> {
    let local = local_name();
    pg::connect(Some(&local), &shared().connstr_db("oracle"))?;
    let out = f(&local);
    pg::disconnect(Some(&local))?;
    out
}

/// [`on_local_database`] in the C world: connected and disconnected through
/// the C ABI.
pub(super) fn on_local_database_c(
    f: impl FnOnce(&CStr) -> Result<Value, Report>,
) -> Result<Value, Report> {
    let local = cstring(&local_name());
    let connstr = cstring(&shared().connstr_db("oracle"));
    // SAFETY: NUL-terminated strings, alive during the call.
    let n = unsafe { ffi::dblink_connect(local.as_ptr(), connstr.as_ptr()) };
    c_ok_int("dblink_connect", n)?;
    let out = f(&local);
    // SAFETY: a NUL-terminated string, alive during the call.
    let n = unsafe { ffi::dblink_disconnect(local.as_ptr()) };
    c_ok_int("dblink_disconnect", n)?;
    out
}
