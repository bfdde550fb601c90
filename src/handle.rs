//! `Connection`: a handle on one named connection of the registry, resolved
//! once, with a method for every function of the named API.

use std::os::raw::c_int;
use std::sync::Arc;
use std::time::Duration;

use crate::api::{self, Who};
use crate::error::{Error, Result, sqlstate};
use crate::registry::{self, Entry};
use crate::result::{DblinkResult, Notification};

/// A connection opened (or found) under a name, for Rust code: the name is
/// resolved once, so its calls skip the registry lookup, and the connection
/// stays visible under its name to the name-based functions
/// ([`crate::send_query`], ...) and to C (`dblink_send_query("name", ...)`),
/// exactly as one opened with [`crate::connect`].
///
/// The handle follows the connection it was made for: once that name is
/// disconnected (by anyone, including another thread or C) or connected
/// again elsewhere, every method fails with 08003 `connection "name" not
/// available`, even if the name now stands for a new connection (make a new
/// handle with [`Connection::attach`]). Dropping a handle leaves the
/// connection open (it belongs to the registry); [`Connection::disconnect`]
/// closes it.
///
/// Unlike the dblink-exact named API, a send that could not be dispatched is
/// an `Err` here, so `conn.send_query(..)?` cannot silently drop dblink's 0.
///
/// `Connection` is `Send + Sync` and cheap to clone (an `Arc`): handles may
/// be shared between threads, and calls on one connection from several
/// threads follow the thread-safety rules of the README.
///
/// ```rust,no_run
/// use pgdblink::{Connection, Status};
///
/// let conn = Connection::open("orders", "host=db1 dbname=shop")?;
/// conn.send_query("select id, total from orders where total > 100")?;
/// loop {
///     let res = conn.get_result(true)?;
///     if res.status() == Status::Done {
///         break;
///     }
///     for row in res.iter() {
///         let id: i64 = row.parse("id")?.expect("id is never NULL");
///         let total: Option<f64> = row.parse("total")?;
///         println!("{id}: {total:?}");
///     }
/// }
/// // The same connection, by name, from the dblink-exact API:
/// assert!(pgdblink::get_connections().unwrap_or_default().contains(&"orders".to_owned()));
/// conn.disconnect()?;
/// # Ok::<(), pgdblink::Error>(())
/// ```
#[derive(Clone)]
pub struct Connection {
    entry: Arc<Entry>,
    name: Arc<str>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("name", &self.name)
            .field("open", &!self.entry.is_closed())
            .finish()
    }
}

impl Connection {
    fn who(&self) -> Who<'_> {
        Who::Handle(&self.entry, &self.name)
    }

    /// Opens a connection under `name`, as [`crate::connect`] does (the same
    /// errors: 08001, 42710 for a name in use, 22023), and returns its handle.
    ///
    /// ```rust,no_run
    /// let conn = pgdblink::Connection::open("a", "host=localhost dbname=postgres")?;
    /// assert_eq!(conn.name(), "a");
    /// # Ok::<(), pgdblink::Error>(())
    /// ```
    pub fn open(name: &str, connstr: &str) -> Result<Connection> {
        let entry = api::open_entry(name, connstr, None)?;
        Ok(Connection::with(entry, name))
    }

    /// [`Connection::open`] bounded by `timeout`, as
    /// [`crate::connect_timeout`].
    ///
    /// ```rust,no_run
    /// use std::time::Duration;
    ///
    /// let conn = pgdblink::Connection::open_timeout("a", "host=db1", Duration::from_secs(3))?;
    /// # Ok::<(), pgdblink::Error>(())
    /// ```
    pub fn open_timeout(name: &str, connstr: &str, timeout: Duration) -> Result<Connection> {
        let entry = api::open_entry(name, connstr, Some(timeout))?;
        Ok(Connection::with(entry, name))
    }

    /// A handle on the connection registered under `name` now (opened by
    /// [`crate::connect`], by C, or by another handle); 08003 when there is
    /// none, or it is still connecting (`connect_start`).
    ///
    /// ```rust,no_run
    /// pgdblink::connect(Some("a"), "host=localhost dbname=postgres")?;
    /// let conn = pgdblink::Connection::attach("a")?;
    /// assert_eq!(conn.exec("set application_name = 'app'", true)?, "SET");
    /// # Ok::<(), pgdblink::Error>(())
    /// ```
    pub fn attach(name: &str) -> Result<Connection> {
        let entry = registry::lookup(Some(name))?;
        if entry.is_connecting() {
            return Err(api::still_connecting(Some(name)));
        }
        Ok(Connection::with(entry, name))
    }

    fn with(entry: Arc<Entry>, name: &str) -> Connection {
        Connection {
            entry,
            name: Arc::from(name),
        }
    }

    /// The name the connection was opened or found under.
    ///
    /// ```rust,no_run
    /// let conn = pgdblink::Connection::open("a", "host=localhost dbname=postgres")?;
    /// println!("{}", conn.name());
    /// # Ok::<(), pgdblink::Error>(())
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the connection is still the one registered under its name
    /// (false once disconnected or replaced).
    ///
    /// ```rust,no_run
    /// let conn = pgdblink::Connection::open("a", "host=localhost dbname=postgres")?;
    /// pgdblink::disconnect(Some("a"))?;
    /// assert!(!conn.is_open());
    /// # Ok::<(), pgdblink::Error>(())
    /// ```
    #[must_use]
    pub fn is_open(&self) -> bool {
        !self.entry.is_closed()
    }

    /// [`crate::send_query`]: dispatches `sql`; `Err` when it was not sent
    /// (e.g. 08006 `could not send query: another command is already in
    /// progress`) or the connection is gone (08003).
    ///
    /// ```rust,no_run
    /// let conn = pgdblink::Connection::attach("a")?;
    /// conn.send_query("select pg_sleep(1)")?;
    /// assert!(conn.send_query("select 2").is_err()); // the first is unfinished
    /// # Ok::<(), pgdblink::Error>(())
    /// ```
    pub fn send_query(&self, sql: &str) -> Result<()> {
        not_sent(api::send_query_as(self.who(), sql)?)
    }

    /// [`crate::send_query_params`], with a refused send as `Err`.
    ///
    /// ```rust,no_run
    /// let conn = pgdblink::Connection::attach("a")?;
    /// conn.send_query_params("select $1::int * 2", &[Some("21")])?;
    /// # Ok::<(), pgdblink::Error>(())
    /// ```
    pub fn send_query_params(&self, sql: &str, params: &[Option<&str>]) -> Result<()> {
        not_sent(api::send_query_params_as(self.who(), sql, params)?)
    }

    /// [`crate::send_query_chunked`], with a refused send as `Err`.
    ///
    /// ```rust,no_run
    /// let conn = pgdblink::Connection::attach("a")?;
    /// conn.send_query_chunked("select * from big", 10_000)?;
    /// # Ok::<(), pgdblink::Error>(())
    /// ```
    pub fn send_query_chunked(&self, sql: &str, max_rows: usize) -> Result<()> {
        not_sent(api::send_query_chunked_as(self.who(), sql, max_rows)?)
    }

    /// [`crate::is_busy`].
    ///
    /// ```rust,no_run
    /// let conn = pgdblink::Connection::attach("a")?;
    /// while conn.is_busy()? { /* other work */ }
    /// # Ok::<(), pgdblink::Error>(())
    /// ```
    #[must_use = "the answer says whether get_result would wait"]
    pub fn is_busy(&self) -> Result<bool> {
        api::is_busy_as(self.who())
    }

    /// [`crate::get_result`].
    ///
    /// ```rust,no_run
    /// let conn = pgdblink::Connection::attach("a")?;
    /// conn.send_query("select 1")?;
    /// let res = conn.get_result(true)?;
    /// # Ok::<(), pgdblink::Error>(())
    /// ```
    #[must_use = "the result holds the rows, or the remote error when fail_on_error is false"]
    pub fn get_result(&self, fail_on_error: bool) -> Result<DblinkResult> {
        api::get_result_within_as(self.who(), fail_on_error, None)
    }

    /// [`crate::get_result_timeout`].
    ///
    /// ```rust,no_run
    /// use std::time::Duration;
    ///
    /// let conn = pgdblink::Connection::attach("a")?;
    /// let res = conn.get_result_timeout(true, Duration::from_secs(2))?;
    /// # Ok::<(), pgdblink::Error>(())
    /// ```
    #[must_use = "the result holds the rows, or the remote error when fail_on_error is false"]
    pub fn get_result_timeout(
        &self,
        fail_on_error: bool,
        timeout: Duration,
    ) -> Result<DblinkResult> {
        api::get_result_within_as(self.who(), fail_on_error, Some(timeout))
    }

    /// [`crate::cancel_query`]: `Ok("OK")`, or `Ok` with why it failed.
    ///
    /// ```rust,no_run
    /// let conn = pgdblink::Connection::attach("a")?;
    /// let answer = conn.cancel_query()?;
    /// # Ok::<(), pgdblink::Error>(())
    /// ```
    #[must_use = "the text says whether the cancel was delivered"]
    pub fn cancel_query(&self) -> Result<String> {
        api::cancel_query_timeout_as(self.who(), api::DEFAULT_CANCEL_TIMEOUT)
    }

    /// [`crate::cancel_query_timeout`].
    ///
    /// ```rust,no_run
    /// use std::time::Duration;
    ///
    /// let conn = pgdblink::Connection::attach("a")?;
    /// let answer = conn.cancel_query_timeout(Duration::from_secs(2))?;
    /// # Ok::<(), pgdblink::Error>(())
    /// ```
    #[must_use = "the text says whether the cancel was delivered"]
    pub fn cancel_query_timeout(&self, timeout: Duration) -> Result<String> {
        api::cancel_query_timeout_as(self.who(), timeout)
    }

    /// [`crate::error_message`].
    ///
    /// ```rust,no_run
    /// let conn = pgdblink::Connection::attach("a")?;
    /// println!("{}", conn.error_message()?);
    /// # Ok::<(), pgdblink::Error>(())
    /// ```
    #[must_use = "the text is the connection's last message"]
    pub fn error_message(&self) -> Result<String> {
        api::error_message_as(self.who())
    }

    /// [`crate::get_notify`].
    ///
    /// ```rust,no_run
    /// let conn = pgdblink::Connection::attach("a")?;
    /// for n in conn.get_notify()? {
    ///     println!("{}: {}", n.notify_name, n.extra);
    /// }
    /// # Ok::<(), pgdblink::Error>(())
    /// ```
    #[must_use = "the notifications are drained: unread ones are lost"]
    pub fn get_notify(&self) -> Result<Vec<Notification>> {
        api::get_notify_as(self.who())
    }

    /// [`crate::socket`].
    ///
    /// ```rust,no_run
    /// let conn = pgdblink::Connection::attach("a")?;
    /// let fd = conn.socket()?;
    /// # Ok::<(), pgdblink::Error>(())
    /// ```
    #[must_use = "the descriptor is the answer"]
    pub fn socket(&self) -> Result<c_int> {
        api::socket_as(self.who())
    }

    /// [`crate::consume_input`].
    ///
    /// ```rust,no_run
    /// let conn = pgdblink::Connection::attach("a")?;
    /// if !conn.consume_input()? { eprintln!("connection lost"); }
    /// # Ok::<(), pgdblink::Error>(())
    /// ```
    #[must_use = "false means the connection is broken"]
    pub fn consume_input(&self) -> Result<bool> {
        api::consume_input_as(self.who())
    }

    /// [`crate::reset`].
    ///
    /// ```rust,no_run
    /// let conn = pgdblink::Connection::attach("a")?;
    /// conn.reset()?;
    /// # Ok::<(), pgdblink::Error>(())
    /// ```
    pub fn reset(&self) -> Result<()> {
        api::reset_as(self.who())
    }

    /// `dblink(name, sql, fail_on_error)` ([`crate::dblink`]) on this
    /// connection.
    ///
    /// ```rust,no_run
    /// let conn = pgdblink::Connection::attach("a")?;
    /// let res = conn.query("select 1 as one", true)?;
    /// assert_eq!(res.iter().next().map(|r| r.parse::<i32, _>("one")), Some(Ok(Some(1))));
    /// # Ok::<(), pgdblink::Error>(())
    /// ```
    #[must_use = "the result holds the rows, or the remote error when fail_on_error is false"]
    pub fn query(&self, sql: &str, fail_on_error: bool) -> Result<DblinkResult> {
        api::dblink_as(self.who(), sql, fail_on_error)
    }

    /// [`crate::dblink_params`] on this connection.
    ///
    /// ```rust,no_run
    /// let conn = pgdblink::Connection::attach("a")?;
    /// let res = conn.query_params("select $1::int + 1", &[Some("41")], true)?;
    /// # Ok::<(), pgdblink::Error>(())
    /// ```
    #[must_use = "the result holds the rows, or the remote error when fail_on_error is false"]
    pub fn query_params(
        &self,
        sql: &str,
        params: &[Option<&str>],
        fail_on_error: bool,
    ) -> Result<DblinkResult> {
        api::dblink_params_as(self.who(), sql, params, fail_on_error)
    }

    /// [`crate::exec`] on this connection.
    ///
    /// ```rust,no_run
    /// let conn = pgdblink::Connection::attach("a")?;
    /// assert_eq!(conn.exec("create temp table t(x int)", true)?, "CREATE TABLE");
    /// # Ok::<(), pgdblink::Error>(())
    /// ```
    #[must_use = "the text is the command's status ('ERROR' when fail_on_error is false)"]
    pub fn exec(&self, sql: &str, fail_on_error: bool) -> Result<String> {
        api::exec_as(self.who(), sql, fail_on_error)
    }

    /// [`crate::open`]: declares cursor `cursorname` (dblink's rules).
    ///
    /// ```rust,no_run
    /// let conn = pgdblink::Connection::attach("a")?;
    /// assert_eq!(conn.open_cursor("c", "select 1", true)?, "OK");
    /// # Ok::<(), pgdblink::Error>(())
    /// ```
    #[must_use = "the text is 'OK' or 'ERROR'"]
    pub fn open_cursor(&self, cursorname: &str, sql: &str, fail_on_error: bool) -> Result<String> {
        api::open_as(self.who(), cursorname, sql, fail_on_error)
    }

    /// [`crate::fetch`].
    ///
    /// ```rust,no_run
    /// let conn = pgdblink::Connection::attach("a")?;
    /// let rows = conn.fetch("c", 100, true)?;
    /// # Ok::<(), pgdblink::Error>(())
    /// ```
    #[must_use = "the result holds the rows"]
    pub fn fetch(
        &self,
        cursorname: &str,
        howmany: i32,
        fail_on_error: bool,
    ) -> Result<DblinkResult> {
        api::fetch_as(self.who(), cursorname, howmany, fail_on_error)
    }

    /// [`crate::close`].
    ///
    /// ```rust,no_run
    /// let conn = pgdblink::Connection::attach("a")?;
    /// assert_eq!(conn.close_cursor("c", true)?, "OK");
    /// # Ok::<(), pgdblink::Error>(())
    /// ```
    #[must_use = "the text is 'OK' or 'ERROR'"]
    pub fn close_cursor(&self, cursorname: &str, fail_on_error: bool) -> Result<String> {
        api::close_as(self.who(), cursorname, fail_on_error)
    }

    /// Closes the connection and releases its name, if it is still the one
    /// registered there (08003 otherwise), as [`crate::disconnect`] does.
    ///
    /// ```rust,no_run
    /// let conn = pgdblink::Connection::open("a", "host=localhost dbname=postgres")?;
    /// conn.disconnect()?;
    /// assert!(pgdblink::send_query(Some("a"), "select 1").is_err());
    /// # Ok::<(), pgdblink::Error>(())
    /// ```
    pub fn disconnect(self) -> Result<()> {
        registry::remove_this(&self.name, &self.entry)
    }

    /// [`crate::wait_any`] over handles: the indexes of the ready ones
    /// (ascending), empty on timeout.
    ///
    /// ```rust,no_run
    /// use std::time::Duration;
    /// use pgdblink::Connection;
    ///
    /// let (a, b) = (Connection::attach("a")?, Connection::attach("b")?);
    /// let ready = Connection::wait_any(&[&a, &b], Some(Duration::from_secs(5)))?;
    /// # Ok::<(), pgdblink::Error>(())
    /// ```
    #[must_use = "the indexes say which connections are ready (empty: timed out)"]
    pub fn wait_any(conns: &[&Connection], timeout: Option<Duration>) -> Result<Vec<usize>> {
        let whos: Vec<Who<'_>> = conns.iter().map(|c| c.who()).collect();
        Ok(api::wait_as(&whos, timeout, false)?.unwrap_or_default())
    }

    /// [`crate::wait_all`] over handles.
    ///
    /// ```rust,no_run
    /// use pgdblink::Connection;
    ///
    /// let (a, b) = (Connection::attach("a")?, Connection::attach("b")?);
    /// assert!(Connection::wait_all(&[&a, &b], None)?);
    /// # Ok::<(), pgdblink::Error>(())
    /// ```
    #[must_use = "false means the timeout passed first"]
    pub fn wait_all(conns: &[&Connection], timeout: Option<Duration>) -> Result<bool> {
        let whos: Vec<Who<'_>> = conns.iter().map(|c| c.who()).collect();
        Ok(api::wait_as(&whos, timeout, true)?.is_some())
    }
}

/// A refused send as the handle reports it.
fn not_sent(sent: std::result::Result<(), String>) -> Result<()> {
    sent.map_err(|msg| {
        Error::new(
            sqlstate::CONNECTION_FAILURE,
            format!("could not send query: {}", api::chomp(msg)),
        )
    })
}
