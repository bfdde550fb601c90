//! Pipeline mode (libpq 14+): queue statements without waiting for each
//! one's results, with sync points; and [`exec_batch`] on top. Not dblink
//! functions.

use crate::error::{Error, Result, sqlstate};
use crate::pq::{self, PgResult, PipelineMark, ResultKind};
use crate::result::{DblinkResult, Status};

use super::copy::NOT_IN_PREREQUISITE_STATE;
use super::{c_params, c_string, chomp, with_conn, with_session};

/// Pipeline mode needs libpq 14 (a system libpq may be older).
fn require_libpq() -> Result<()> {
    let v = pq::lib_version();
    if v < 140000 {
        return Err(Error::new(
            sqlstate::FEATURE_NOT_SUPPORTED,
            format!(
                "pipeline mode needs libpq 14 or later; the linked libpq is {}.{}",
                v / 10000,
                v % 10000
            ),
        ));
    }
    Ok(())
}

/// The result standing for a pipeline's sync point or an aborted
/// statement (`res` is one: [`PgResult::pipeline_mark`] is `Some`).
pub(crate) fn mark_result(res: &PgResult) -> DblinkResult {
    let status = match res.pipeline_mark() {
        Some(PipelineMark::Sync) => Status::PipelineSync,
        _ => Status::PipelineAborted,
    };
    DblinkResult::owned(status, Vec::new(), Vec::new())
}

fn not_in_pipeline(name: Option<&str>) -> Error {
    let which = name.map_or_else(
        || "the unnamed connection".to_owned(),
        |n| format!("connection \"{n}\""),
    );
    Error::new(
        NOT_IN_PREREQUISITE_STATE,
        format!("{which} is not in pipeline mode"),
    )
}

/// Puts the connection `name` in pipeline mode (`PQenterPipelineMode`):
/// from now on [`crate::send_query_params`] (and [`crate::send_query`], one
/// statement each) queue statements without waiting for the previous ones'
/// results; [`pipeline_sync`] adds a sync point and sends what is queued;
/// [`crate::get_result`] returns each statement's results in order, each
/// followed by [`Status::Done`], and a [`Status::PipelineSync`] result for
/// each sync point. After an error, the statements up to the next sync
/// point are skipped: each gives a [`Status::PipelineAborted`] result (then
/// `Done`). Statements between two sync points run in one implicit
/// transaction (an error rolls back the earlier ones), unless an explicit
/// transaction is open. Results arrive only after a sync point is sent.
/// Leave with [`pipeline_end`]. Not a dblink function.
///
/// [`crate::dblink`] and [`crate::dblink_params`] are refused in pipeline
/// mode (55000); do not call the other synchronous functions
/// ([`crate::exec`], [`crate::open`], ...) in pipeline mode either: they
/// would wait for a result that needs a sync point.
///
/// Errors: 55000 `could not enter pipeline mode: ...` when a query is in
/// progress (its results not all read); 0A000 with a system libpq older
/// than 14; 08003.
///
/// ```rust,no_run
/// use pgdblink::Status;
///
/// pgdblink::pipeline_begin(Some("a"))?;
/// pgdblink::send_query_params(Some("a"), "insert into t values ($1)", &[Some("1")])?;
/// pgdblink::send_query_params(Some("a"), "select count(*) from t", &[])?;
/// pgdblink::pipeline_sync(Some("a"))?;
/// assert_eq!(pgdblink::get_result(Some("a"), true)?.status(), Status::Command); // INSERT 0 1
/// assert_eq!(pgdblink::get_result(Some("a"), true)?.status(), Status::Done);
/// let count = pgdblink::get_result(Some("a"), true)?;
/// println!("{} rows", count.get(0, 0).unwrap_or("?"));
/// assert_eq!(pgdblink::get_result(Some("a"), true)?.status(), Status::Done);
/// assert_eq!(pgdblink::get_result(Some("a"), true)?.status(), Status::PipelineSync);
/// pgdblink::pipeline_end(Some("a"))?;
/// # Ok::<(), pgdblink::Error>(())
/// ```
pub fn pipeline_begin(name: Option<&str>) -> Result<()> {
    require_libpq()?;
    with_conn(name, |conn, _| {
        if conn.enter_pipeline() {
            Ok(())
        } else {
            Err(Error::new(
                NOT_IN_PREREQUISITE_STATE,
                format!(
                    "could not enter pipeline mode: {}",
                    chomp(conn.error_message())
                ),
            ))
        }
    })
}

/// Marks a sync point in the pipeline of the connection `name`
/// (`PQpipelineSync`) and sends everything queued, waiting only until it
/// is sent (woken by a disconnect or reset): the server then runs the
/// queued statements and [`crate::get_result`] hands back their results,
/// then a [`Status::PipelineSync`] result for this point. Not a dblink
/// function.
///
/// Errors: 55000 when the connection is not in pipeline mode; 08006 when
/// it cannot be sent (the connection failed); 08003.
///
/// ```rust,no_run
/// pgdblink::pipeline_begin(Some("a"))?;
/// pgdblink::send_query_params(Some("a"), "select $1::int * 2", &[Some("21")])?;
/// pgdblink::pipeline_sync(Some("a"))?; // now the server runs it
/// let doubled = pgdblink::get_result(Some("a"), true)?;
/// assert_eq!(doubled.get(0, 0), Some("42"));
/// # Ok::<(), pgdblink::Error>(())
/// ```
pub fn pipeline_sync(name: Option<&str>) -> Result<()> {
    require_libpq()?;
    with_conn(name, |conn, ctx| {
        if !conn.in_pipeline() {
            return Err(not_in_pipeline(name));
        }
        let sent = conn.pipeline_sync()
            && conn
                .flush(None, &|| ctx.interrupted())
                .map_err(|stop| ctx.interrupted_error(stop))?;
        if sent {
            Ok(())
        } else {
            Err(Error::new(
                sqlstate::CONNECTION_FAILURE,
                format!(
                    "could not send the pipeline sync: {}",
                    chomp(conn.error_message())
                ),
            ))
        }
    })
}

/// Takes the connection `name` out of pipeline mode
/// (`PQexitPipelineMode`); nothing happens when it is not in pipeline
/// mode. Read every result first, up to the [`Status::PipelineSync`] of the
/// last sync point. Not a dblink function.
///
/// Errors: 55000 `could not leave pipeline mode: cannot exit pipeline mode
/// with uncollected results` (the connection stays in pipeline mode; read
/// the results, then call it again); 08003.
///
/// ```rust,no_run
/// pgdblink::pipeline_begin(Some("a"))?;
/// pgdblink::send_query_params(Some("a"), "select 1", &[])?;
/// pgdblink::pipeline_sync(Some("a"))?;
/// // Results unread: refused.
/// assert_eq!(pgdblink::pipeline_end(Some("a")).unwrap_err().sqlstate, "55000");
/// while pgdblink::get_result(Some("a"), true)?.status() != pgdblink::Status::PipelineSync {}
/// pgdblink::pipeline_end(Some("a"))?;
/// # Ok::<(), pgdblink::Error>(())
/// ```
pub fn pipeline_end(name: Option<&str>) -> Result<()> {
    require_libpq()?;
    with_conn(name, |conn, _| {
        if conn.exit_pipeline() {
            Ok(())
        } else {
            Err(Error::new(
                NOT_IN_PREREQUISITE_STATE,
                format!(
                    "could not leave pipeline mode: {}",
                    chomp(conn.error_message())
                ),
            )
            .with_hint("Read every result with get_result, up to the last sync point's."))
        }
    })
}

/// Whether the connection `name` is in pipeline mode ([`pipeline_begin`]).
/// Not a dblink function.
///
/// ```rust,no_run
/// assert!(!pgdblink::in_pipeline(Some("a"))?);
/// pgdblink::pipeline_begin(Some("a"))?;
/// assert!(pgdblink::in_pipeline(Some("a"))?);
/// # Ok::<(), pgdblink::Error>(())
/// ```
pub fn in_pipeline(name: Option<&str>) -> Result<bool> {
    with_conn(name, |conn, _| Ok(conn.in_pipeline()))
}

/// The error for a synchronous call made in pipeline mode.
pub(crate) fn refused_in_pipeline() -> Error {
    refused_in_pipeline_for("dblink()")
}

/// The error for a synchronous function (`what`: "dblink()", "dblink_exec",
/// "dblink_open", ...) on a connection in pipeline mode, whose results it
/// could only read after a sync point.
pub(crate) fn refused_in_pipeline_for(what: &str) -> Error {
    Error::new(
        NOT_IN_PREREQUISITE_STATE,
        format!("{what} cannot be used in pipeline mode"),
    )
    .with_hint("Use send_query_params and get_result, or leave pipeline mode with pipeline_end.")
}

/// How many statements `exec_batch` queues between flushes.
const FLUSH_EVERY: usize = 256;

/// Runs one parameterised statement `sql` once per entry of `rows` (each
/// the text parameters `$1`, `$2`, ...; `None` is SQL NULL) in a pipeline:
/// every execution is queued, then one sync point, then the results are
/// read; returns the total row count of their command statuses (e.g. the
/// rows inserted). One round trip for the whole batch, which runs as one
/// implicit transaction: on an error, nothing of it is kept (unless an
/// explicit transaction is open, which is then aborted). The connection
/// leaves pipeline mode before it returns. Not a dblink function.
///
/// Errors: the first failed execution's remote error, with the context
/// line `while executing batch on dblink connection named "a"`; 55000 when
/// the connection is already in pipeline mode or busy; 0A000 with a system
/// libpq older than 14; 22023 for a NUL byte.
///
/// ```rust,no_run
/// let rows: [&[Option<&str>]; 2] = [&[Some("1"), Some("one")], &[Some("2"), None]];
/// let n = pgdblink::exec_batch(Some("a"), "insert into items (id, label) values ($1, $2)", &rows)?;
/// assert_eq!(n, 2);
/// # Ok::<(), pgdblink::Error>(())
/// ```
pub fn exec_batch(name: Option<&str>, sql: &str, rows: &[&[Option<&str>]]) -> Result<u64> {
    require_libpq()?;
    let sql = c_string(sql, "sql")?;
    let params = rows
        .iter()
        .map(|r| c_params(r))
        .collect::<Result<Vec<_>>>()?;
    with_session(name, |s, ctx| {
        let conn = s
            .conn
            .as_mut()
            .ok_or_else(|| Error::conn_not_available(name))?;
        if conn.in_pipeline() {
            return Err(Error::new(
                NOT_IN_PREREQUISITE_STATE,
                "exec_batch cannot be used in pipeline mode",
            ));
        }
        if !conn.enter_pipeline() {
            return Err(Error::new(
                NOT_IN_PREREQUISITE_STATE,
                format!(
                    "could not enter pipeline mode: {}",
                    chomp(conn.error_message())
                ),
            ));
        }
        let interrupted = || ctx.interrupted();
        let stop = |stop| ctx.interrupted_error(stop);
        let mut failure: Option<Error> = None;
        let mut sent = 0usize;
        for row in &params {
            // Queued statements go out together: a flush every
            // FLUSH_EVERY statements (libpq also sends on its own past its
            // buffer's threshold) and at the sync point, not one per
            // statement (the benchmark counted a sendto per insert).
            let flush_now = sent % FLUSH_EVERY == FLUSH_EVERY - 1;
            if !conn.send_query_params(&sql, row)
                || (flush_now && !conn.flush(None, &interrupted).map_err(stop)?)
            {
                failure = Some(Error::new(
                    sqlstate::INTERNAL_ERROR,
                    format!("could not send query: {}", chomp(conn.error_message())),
                ));
                break;
            }
            sent += 1;
        }
        let synced = conn.pipeline_sync() && conn.flush(None, &interrupted).map_err(stop)?;
        let mut total = 0u64;
        for _ in 0..sent {
            // One statement's results, up to the NULL that ends them.
            while let Some(res) = conn.pipeline_result(&interrupted).map_err(stop)? {
                match res.kind() {
                    ResultKind::Command | ResultKind::Tuples => total += res.cmd_tuples(),
                    _ if res.pipeline_mark().is_some() => {}
                    _ => {
                        if failure.is_none() {
                            failure = Some(Error::remote(
                                Some(&res),
                                &conn.error_message(),
                                name,
                                "while executing batch",
                            ));
                        }
                    }
                }
                if conn.is_bad() {
                    break;
                }
            }
            if conn.is_bad() {
                break;
            }
        }
        if synced && !conn.is_bad() {
            // The sync point's own result.
            drop(conn.pipeline_result(&interrupted).map_err(stop)?);
        }
        let left = conn.exit_pipeline();
        if let Some(e) = failure {
            return Err(e);
        }
        if conn.is_bad() || !synced {
            return Err(Error::new(
                sqlstate::CONNECTION_FAILURE,
                chomp(conn.error_message()),
            ));
        }
        if !left {
            return Err(Error::new(
                NOT_IN_PREREQUISITE_STATE,
                format!(
                    "could not leave pipeline mode: {}",
                    chomp(conn.error_message())
                ),
            ));
        }
        Ok(total)
    })
}
