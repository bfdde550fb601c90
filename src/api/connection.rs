//! dblink_connect, dblink_disconnect, dblink_get_connections.

use crate::error::{Error, Result, sqlstate};
use crate::pq::Conn;
use crate::registry::{self, Entry};

use super::{c_string, chomp};

/// Opens a connection as dblink does: the outcome of a failed attempt is
/// 08001 `could not establish connection` with libpq's message as DETAIL.
/// The client encoding is set to UTF8, since every string here is UTF-8.
pub(crate) fn open_conn(connstr: &str) -> Result<Conn> {
    let c = c_string(connstr, "connection string")?;
    let mut conn =
        Conn::connectdb(&c).ok_or_else(|| Error::new(sqlstate::OUT_OF_MEMORY, "out of memory"))?;
    if !conn.is_ok() {
        return Err(could_not_establish(&conn));
    }
    if !conn.set_client_encoding(c"UTF8") {
        return Err(could_not_establish(&conn));
    }
    Ok(conn)
}

fn could_not_establish(conn: &Conn) -> Error {
    Error::new(
        sqlstate::UNABLE_TO_ESTABLISH,
        "could not establish connection",
    )
    .with_detail(chomp(conn.error_message()))
}

/// `dblink_connect([name,] connstr)`: opens a connection under `name`
/// (`None`: the unnamed connection, replacing any previous one).
///
/// Errors: 08001 `could not establish connection` (DETAIL: libpq's message);
/// 42710 `duplicate connection name` when `name` is taken (checked after
/// connecting, as dblink does).
pub fn connect(name: Option<&str>, connstr: &str) -> Result<()> {
    let entry = Entry::new(open_conn(connstr)?);
    if let Some(previous) = registry::insert(name, entry)? {
        drop(previous.close());
    }
    Ok(())
}

/// `dblink_connect_u`: the same as [`connect`] outside the server.
pub fn connect_u(name: Option<&str>, connstr: &str) -> Result<()> {
    connect(name, connstr)
}

/// `dblink_disconnect([name])`: closes the connection. It waits for a call in
/// progress on the same connection to finish.
///
/// Errors: 08003 `connection "a" not available` (`connection not available`
/// for the unnamed connection).
pub fn disconnect(name: Option<&str>) -> Result<()> {
    let entry = registry::remove(name)?;
    drop(entry.close());
    Ok(())
}

/// Closes every connection, named and unnamed (for hosts shutting down).
pub fn disconnect_all() {
    for entry in registry::remove_all() {
        drop(entry.close());
    }
}

/// `dblink_get_connections()`: the names of the open named connections,
/// sorted; `None` when there are none (dblink returns NULL). The unnamed
/// connection is never listed.
pub fn get_connections() -> Option<Vec<String>> {
    let names = registry::names();
    (!names.is_empty()).then_some(names)
}
