//! The synchronous functions: dblink() and dblink_exec().

use crate::error::{Error, Result, sqlstate};
use crate::pq::{Conn, Fetched, Last, PgResult, ResultKind, Stop};
use crate::registry;
use crate::result::DblinkResult;

use super::Who;
use super::asynchronous::remote_outcome;
use super::connection::open_conn;
use super::{c_params, c_string, chomp, copy_refused, with_conn};

/// dblink's `dblink_get_conn`: runs `f` on the connection named `target`
/// (`None`: the unnamed one), or, when `target` is not a known name, on a
/// temporary connection opened with `target` as its connection string and
/// closed afterwards. `f` gets the name for dblink's context lines (`None`
/// for the unnamed and temporary connections).
fn with_target<T>(
    target: Who<'_>,
    f: impl FnOnce(&mut Conn, Option<&str>, &dyn Fn() -> bool) -> std::result::Result<Result<T>, Stop>,
) -> Result<T> {
    let target = match target {
        Who::Handle(_, name) => {
            return with_conn(target, |c, ctx| {
                f(c, Some(name), &|| ctx.interrupted())
                    .map_err(|stop| ctx.interrupted_error(stop))?
            });
        }
        Who::Name(target) => target,
    };
    match target {
        Some(name) if registry::contains(name) => with_conn(Some(name), |c, ctx| {
            f(c, Some(name), &|| ctx.interrupted()).map_err(|stop| ctx.interrupted_error(stop))?
        }),
        Some(connstr) => {
            let mut temporary = open_conn(connstr)?;
            let outcome = f(&mut temporary, None, &|| false);
            crate::notice::emit_server(None, temporary.take_notices());
            outcome.unwrap_or_else(|_| Err(Error::new(sqlstate::INTERNAL_ERROR, "interrupted")))
        }
        None => with_conn(None, |c, ctx| {
            f(c, None, &|| ctx.interrupted()).map_err(|stop| ctx.interrupted_error(stop))?
        }),
    }
}

/// `dblink([conn_or_connstr,] sql [, fail_on_error])`: runs `sql` and returns
/// the rows of its last result set, or a command's status row.
///
/// `conn_or_connstr` is a connection name, or (when it is not a known name)
/// a connection string for a temporary connection; `None` is the unnamed
/// connection. A remote error with `fail_on_error` is `Err`; without, a
/// NOTICE and a [`crate::Status::Error`] result that still holds the rows of
/// an earlier result set of a multi-statement `sql`, as dblink returns them.
///
/// While an async query is in progress on the connection, it fails with
/// XX000 `could not send query: another command is already in progress`
/// after reading and discarding that query's pending results, as dblink does.
///
/// Errors also: 08003 for `None` without an unnamed connection; 08001 `could
/// not establish connection` when `conn_or_connstr` is neither a known name
/// nor a usable connection string; 22023 for a NUL byte in `sql`.
///
/// ```rust,no_run
/// let res = pgdblink::dblink(Some("a"), "select id, name from users order by id", true)?;
/// assert_eq!(res.columns(), ["id", "name"]);
/// for row in res.rows() {
///     println!("{} {}", row[0].as_deref().unwrap_or("NULL"), row[1].as_deref().unwrap_or("NULL"));
/// }
///
/// // Not a known name: a temporary connection, closed after the call.
/// let res = pgdblink::dblink(Some("host=db2 dbname=app"), "select version()", true)?;
/// println!("{}", res.get(0, 0).unwrap_or_default());
/// # Ok::<(), pgdblink::Error>(())
/// ```
#[must_use = "the result holds the rows, or the remote error when fail_on_error is false"]
pub fn dblink(
    conn_or_connstr: Option<&str>,
    sql: &str,
    fail_on_error: bool,
) -> Result<DblinkResult> {
    dblink_as(Who::Name(conn_or_connstr), sql, fail_on_error)
}

pub(crate) fn dblink_as(who: Who<'_>, sql: &str, fail_on_error: bool) -> Result<DblinkResult> {
    let sql = c_string(sql, "sql")?;
    run_query(who, fail_on_error, |conn| conn.send_query(&sql))
}

/// dblink's `materializeQueryResult`: sends with `send`, then collects the
/// results in single-row mode, as dblink does (so that the rows received
/// before a remote error are kept). dblink keeps the rows of the most
/// recent result set (complete or not) and the last result of all; the last
/// decides what is returned.
fn run_query(
    target: Who<'_>,
    fail_on_error: bool,
    send: impl FnOnce(&mut Conn) -> bool,
) -> Result<DblinkResult> {
    let outcome = with_target(target, |conn, name, interrupted| {
        if conn.in_pipeline() {
            return Ok(Err(super::pipeline::refused_in_pipeline()));
        }
        if !send(conn) || !conn.flush(None, interrupted)? {
            let msg = chomp(conn.error_message());
            conn.drain(interrupted)?;
            return Ok(Err(Error::new(
                sqlstate::INTERNAL_ERROR,
                format!("could not send query: {msg}"),
            )));
        }
        if !conn.single_row_mode() {
            conn.drain(interrupted)?;
            return Ok(Err(Error::new(
                sqlstate::INTERNAL_ERROR,
                "failed to set single-row mode for dblink query",
            )));
        }
        // The rows of the current (or most recent) result set; `first`:
        // the next row begins a new one.
        let mut rows: Option<PgResult> = None;
        let mut first = true;
        let mut last = Last::None;
        loop {
            match conn.next_result(None, interrupted)? {
                Fetched::Done => break,
                Fetched::CopyRefused => {
                    last = Last::CopyRefused;
                    first = true;
                }
                Fetched::Result(res) if res.kind() == ResultKind::Chunk => {
                    if first {
                        let Some(acc) = res.to_accumulator() else {
                            conn.drain(interrupted)?;
                            return Ok(Err(out_of_memory()));
                        };
                        rows = Some(acc);
                        first = false;
                    } else if let Some(acc) = rows.as_mut() {
                        if !acc.append_rows(&res) {
                            conn.drain(interrupted)?;
                            return Ok(Err(out_of_memory()));
                        }
                    }
                }
                Fetched::Result(res) => {
                    if first && res.kind() == ResultKind::Tuples {
                        // An empty result set: its columns.
                        rows = res.to_accumulator();
                    }
                    last = Last::Result(res);
                    first = true;
                }
            }
            if conn.is_bad() {
                break;
            }
        }
        Ok(Ok(match last {
            Last::Result(r) if r.kind() == ResultKind::Command => Ok(DblinkResult::from_remote(r)),
            Last::Result(r) if r.kind() == ResultKind::Tuples => match rows {
                Some(rows) => Ok(DblinkResult::from_remote(rows)),
                None => Ok(DblinkResult::from_remote(r)),
            },
            Last::CopyRefused => Err((copy_refused(), rows, name.map(str::to_owned))),
            other => {
                let err = Error::remote(
                    other.result(),
                    &conn.error_message(),
                    name,
                    "while executing query",
                );
                Err((err, rows, name.map(str::to_owned)))
            }
        }))
    })?;
    let (err, rows, name): (Error, Option<PgResult>, Option<String>) = match outcome {
        Ok(r) => return Ok(r),
        Err(failed) => failed,
    };
    let r = remote_outcome(name.as_deref(), fail_on_error, Err(err))?;
    Ok(match rows {
        Some(rows) => r.with_rows(rows),
        None => r,
    })
}

/// libpq could not allocate the rows of a result.
fn out_of_memory() -> Error {
    Error::new(sqlstate::OUT_OF_MEMORY, "out of memory")
}

/// `dblink_exec([conn_or_connstr,] sql [, fail_on_error])`: runs a command
/// and returns its status, e.g. 'INSERT 0 1'; 'ERROR' for a remote error
/// with `fail_on_error` false (after a NOTICE).
///
/// A statement that returns rows is 2F003 `statement returning results not
/// allowed`, whatever `fail_on_error` says. While an async query is in
/// progress, the remote error is 08006 `another command is already in
/// progress` and that query's results are kept for
/// [`get_result`](crate::get_result). `conn_or_connstr` is a name, `None`
/// (the unnamed connection) or a connection string, as for [`dblink`], with
/// the same connection errors.
///
/// ```rust,no_run
/// let status = pgdblink::exec(Some("a"), "insert into log(msg) values ('hello')", true)?;
/// assert_eq!(status, "INSERT 0 1");
///
/// // fail_on_error = false: a remote error is 'ERROR' plus a NOTICE, not Err.
/// let status = pgdblink::exec(Some("a"), "insert into no_such_table values (1)", false)?;
/// assert_eq!(status, "ERROR");
///
/// let err = pgdblink::exec(Some("a"), "select 1", false).unwrap_err();
/// assert_eq!(err.sqlstate, pgdblink::sqlstate::STATEMENT_RETURNING_RESULTS);
/// # Ok::<(), pgdblink::Error>(())
/// ```
#[must_use = "the text is the answer (e.g. 'ERROR', or why a cancel failed)"]
pub fn exec(conn_or_connstr: Option<&str>, sql: &str, fail_on_error: bool) -> Result<String> {
    exec_as(Who::Name(conn_or_connstr), sql, fail_on_error)
}

pub(crate) fn exec_as(who: Who<'_>, sql: &str, fail_on_error: bool) -> Result<String> {
    let sql = c_string(sql, "sql")?;
    with_target(who, |conn, name, interrupted| {
        if conn.in_pipeline() {
            return Ok(Err(super::pipeline::refused_in_pipeline_for("dblink_exec")));
        }
        let res = conn.exec_last(&sql, interrupted)?;
        Ok(match res.result().map(|r| r.kind()) {
            Some(ResultKind::Command) => {
                Ok(res.result().map(|r| r.cmd_status()).unwrap_or_default())
            }
            Some(ResultKind::Tuples) => Err(Error::new(
                sqlstate::STATEMENT_RETURNING_RESULTS,
                "statement returning results not allowed",
            )),
            _ if matches!(res, Last::CopyRefused) => {
                remote_status(name, fail_on_error, copy_refused())
            }
            _ => {
                let err = Error::remote(
                    res.result(),
                    &conn.error_message(),
                    name,
                    "while executing command",
                );
                remote_status(name, fail_on_error, err)
            }
        })
    })
}

/// A remote error of a function that returns text: raised, or 'ERROR'.
pub(crate) fn remote_status(name: Option<&str>, fail_on_error: bool, err: Error) -> Result<String> {
    remote_outcome(name, fail_on_error, Err(err)).map(|_| "ERROR".to_owned())
}

/// [`dblink`] with `$1`, `$2`, ... bound to `params` as text (`None` is SQL
/// NULL; the server infers the types). Nothing is spliced into the SQL
/// (`PQsendQueryParams`), so `sql` must be a single statement. Otherwise as
/// [`dblink`]. Not a dblink function.
///
/// ```rust,no_run
/// let res = pgdblink::dblink_params(Some("a"), "select $1::int + 1, $2::text is null", &[Some("41"), None], true)?;
/// assert_eq!(res.get(0, 0), Some("42"));
/// assert_eq!(res.get(0, 1), Some("t"));
/// # Ok::<(), pgdblink::Error>(())
/// ```
#[must_use = "the result holds the rows, or the remote error when fail_on_error is false"]
pub fn dblink_params(
    conn_or_connstr: Option<&str>,
    sql: &str,
    params: &[Option<&str>],
    fail_on_error: bool,
) -> Result<DblinkResult> {
    dblink_params_as(Who::Name(conn_or_connstr), sql, params, fail_on_error)
}

pub(crate) fn dblink_params_as(
    who: Who<'_>,
    sql: &str,
    params: &[Option<&str>],
    fail_on_error: bool,
) -> Result<DblinkResult> {
    let sql = c_string(sql, "sql")?;
    let params = c_params(params)?;
    run_query(who, fail_on_error, |conn| {
        conn.send_query_params(&sql, &params)
    })
}
