//! `DblinkResult`: rows and columns as dblink returns them.

use std::ffi::{CStr, CString};

use crate::error::Error;
use crate::pq::{PgResult, ResultKind};

/// What a result holds, so that a caller can tell "no more results" from
/// "zero rows" (Rust: `DblinkResult::status`; C: `dblink_result_status`,
/// the enum `dblink_status`). New statuses may be added (`#[non_exhaustive]`:
/// match with a `_` arm).
///
/// In Rust:
///
/// ```rust,no_run
/// use pgdblink::Status;
///
/// fn run(conn: &str) -> pgdblink::Result<()> {
///     pgdblink::send_query(Some(conn), "select 1; create temp table t(x int); select 1/0")?;
///     loop {
///         let res = pgdblink::get_result(Some(conn), false)?;
///         match res.status() {
///             Status::Tuples => println!("{} rows", res.ntuples()),
///             Status::Command => println!("{}", res.get(0, 0).unwrap_or_default()), // CREATE TABLE
///             Status::Error => eprintln!("remote error: {:?}", res.error()),
///             Status::Done => return Ok(()),
///             _ => {} // a newer pgdblink may add statuses
///         }
///     }
/// }
/// ```
///
/// In C:
///
/// ```c
/// dblink_result *r = dblink_get_result("a", 0);
/// if (r == NULL) { fprintf(stderr, "%s\n", dblink_last_error()); return; }
/// switch (dblink_result_status(r)) {
/// case DBLINK_STATUS_TUPLES:  printf("%d rows\n", dblink_result_ntuples(r)); break;
/// case DBLINK_STATUS_COMMAND: printf("%s\n", dblink_result_getvalue(r, 0, 0)); break;
/// case DBLINK_STATUS_ERROR:   printf("%s\n", dblink_result_error_message(r)); break;
/// case DBLINK_STATUS_DONE:    break;
/// }
/// dblink_result_free(r);
/// ```
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Status {
    /// Rows of a query (possibly zero of them).
    Tuples = 0,
    /// A command's single row with one text column `status`, e.g. 'CREATE TABLE'.
    Command = 1,
    /// The empty set that ends a query: the connection is ready again.
    Done = 2,
    /// The empty set dblink returns for a remote error when `fail_on_error`
    /// is false (after a NOTICE); the result holds the error (Rust:
    /// `DblinkResult::error`; C: `dblink_result_error_message`,
    /// `dblink_result_sqlstate`). Some results of this status still hold
    /// rows: dblink() returns those of an earlier result set of a
    /// multi-statement query.
    Error = 3,
    /// A sync point of a pipeline was reached (`pipeline_sync`; C:
    /// `dblink_pipeline_sync`): the empty set, after the results of the
    /// statements queued before it.
    PipelineSync = 4,
    /// A statement of a pipeline that was skipped because an earlier one
    /// failed (up to the next sync point): the empty set, followed by
    /// [`Status::Done`] as a statement's results are.
    PipelineAborted = 5,
}

enum Body {
    Empty,
    /// A libpq result, with its dimensions read once (every cell access
    /// checks them).
    Remote {
        res: PgResult,
        ntuples: usize,
        nfields: usize,
    },
    Owned {
        columns: Vec<CString>,
        rows: Vec<Vec<Option<CString>>>,
    },
    /// A command's result: its status row (column `status`, the command
    /// tag) is read from the libpq result itself, nothing copied.
    Command(PgResult),
}

impl Body {
    fn remote(res: PgResult) -> Body {
        let (ntuples, nfields) = (res.ntuples(), res.nfields());
        Body::Remote {
            res,
            ntuples,
            nfields,
        }
    }
}

/// One result as dblink returns it: a status (`Status`, C `dblink_status`),
/// column names, and rows of text cells as dblink gives them (Rust: `None`
/// is SQL NULL; C: `dblink_result_getvalue` returns NULL and
/// `dblink_result_getisnull` 1). Owned by the caller and independent of the
/// connection: it stays valid after further calls, `disconnect` included.
/// In C it is the opaque `dblink_result`, freed with `dblink_result_free`.
/// `Send + Sync`: a result may be moved to, and read from, any thread.
/// [`DblinkResult::iter`] borrows its rows ([`crate::Row`]) without copying.
///
/// In Rust:
///
/// ```rust,no_run
/// fn check(conn: &str) -> pgdblink::Result<()> {
///     let res = pgdblink::dblink(Some(conn), "select 1 as id, null::text as note", true)?;
///     assert_eq!(res.status(), pgdblink::Status::Tuples);
///     assert_eq!((res.ntuples(), res.nfields()), (1, 2));
///     assert_eq!(res.columns(), ["id", "note"]);
///     assert_eq!(res.get(0, 0), Some("1"));
///     assert_eq!(res.get(0, 1), None); // SQL NULL
///     assert_eq!(res.rows(), [[Some("1".to_owned()), None]]);
///     Ok(())
/// }
/// ```
///
/// In C:
///
/// ```c
/// dblink_result *r = dblink("a", "select 1 as id, null::text as note", 1);
/// if (r == NULL) { fprintf(stderr, "%s\n", dblink_last_error()); return; }
/// for (int i = 0; i < dblink_result_ntuples(r); i++)
///     printf("%s=%s\n", dblink_result_fname(r, 0), dblink_result_getvalue(r, i, 0));
/// dblink_result_free(r);
/// ```
pub struct DblinkResult {
    status: Status,
    body: Body,
    error: Option<Box<Error>>,
    /// The error's message and SQLSTATE as C strings, for the C accessors.
    error_c: Option<Box<(CString, CString)>>,
}

/// One notification, as `dblink_get_notify` returns it (a row of
/// `notify_name`, `be_pid`, `extra`): what [`crate::get_notify`] returns.
///
/// ```rust,no_run
/// pgdblink::exec(Some("a"), "listen jobs", true)?;
/// pgdblink::exec(Some("b"), "notify jobs, 'job 42'", true)?;
/// // Delivered asynchronously: it may take a moment to reach "a".
/// std::thread::sleep(std::time::Duration::from_millis(100));
/// if let Some(n) = pgdblink::get_notify(Some("a"))?.first() {
///     assert_eq!((n.notify_name.as_str(), n.extra.as_str()), ("jobs", "job 42"));
///     println!("sent by server process {}", n.be_pid);
/// }
/// # Ok::<(), pgdblink::Error>(())
/// ```
///
/// `Send + Sync` (owned strings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The channel name.
    pub notify_name: String,
    /// The process ID of the notifying server process.
    pub be_pid: i32,
    /// The payload ('' when none was given).
    pub extra: String,
}

/// A C string from text that came from libpq or dblink's own literals;
/// such text never holds a NUL byte, so nothing is lost.
fn c_text(s: &str) -> CString {
    CString::new(s.replace('\0', "")).unwrap_or_default()
}

impl DblinkResult {
    /// The empty set that ends a query.
    pub(crate) fn done() -> DblinkResult {
        DblinkResult {
            status: Status::Done,
            body: Body::Empty,
            error: None,
            error_c: None,
        }
    }

    /// The empty set standing for a remote error (fail_on_error = false).
    pub(crate) fn remote_error(error: Error) -> DblinkResult {
        DblinkResult {
            status: Status::Error,
            body: Body::Empty,
            error_c: Some(Box::new((c_text(&error.message), c_text(&error.sqlstate)))),
            error: Some(Box::new(error)),
        }
    }

    /// The same result holding the rows of `res` (dblink returns the rows of
    /// an earlier result set alongside a later remote error).
    pub(crate) fn with_rows(mut self, res: PgResult) -> DblinkResult {
        self.body = Body::remote(res);
        self
    }

    /// A query's rows, or a command's status row.
    pub(crate) fn from_remote(res: PgResult) -> DblinkResult {
        if res.kind() == ResultKind::Command {
            return DblinkResult {
                status: Status::Command,
                body: Body::Command(res),
                error: None,
                error_c: None,
            };
        }
        DblinkResult {
            status: Status::Tuples,
            body: Body::remote(res),
            error: None,
            error_c: None,
        }
    }

    /// Rows built here (status rows, notifications).
    pub(crate) fn owned(
        status: Status,
        columns: Vec<&str>,
        rows: Vec<Vec<Option<String>>>,
    ) -> Self {
        DblinkResult {
            status,
            body: Body::Owned {
                columns: columns.into_iter().map(c_text).collect(),
                rows: rows
                    .into_iter()
                    .map(|r| r.into_iter().map(|v| v.as_deref().map(c_text)).collect())
                    .collect(),
            },
            error: None,
            error_c: None,
        }
    }

    /// `dblink_get_notify`'s rows: a [`Status::Tuples`] result with the
    /// columns notify_name, be_pid, extra and one row per notification (what
    /// the C `dblink_get_notify` returns).
    ///
    /// ```rust
    /// use pgdblink::{DblinkResult, Notification, Status};
    ///
    /// let notes = [Notification { notify_name: "jobs".into(), be_pid: 4242, extra: "job 42".into() }];
    /// let res = DblinkResult::from_notifications(&notes);
    /// assert_eq!(res.status(), Status::Tuples);
    /// assert_eq!(res.columns(), ["notify_name", "be_pid", "extra"]);
    /// assert_eq!(res.rows(), [[Some("jobs".to_owned()), Some("4242".to_owned()), Some("job 42".to_owned())]]);
    /// ```
    pub fn from_notifications(notes: &[Notification]) -> DblinkResult {
        let rows = notes
            .iter()
            .map(|n| {
                vec![
                    Some(n.notify_name.clone()),
                    Some(n.be_pid.to_string()),
                    Some(n.extra.clone()),
                ]
            })
            .collect();
        DblinkResult::owned(Status::Tuples, vec!["notify_name", "be_pid", "extra"], rows)
    }

    /// What this result holds.
    ///
    /// ```rust,no_run
    /// // Read a query's results up to the empty set that ends it.
    /// while pgdblink::get_result(Some("a"), true)?.status() != pgdblink::Status::Done {}
    /// # Ok::<(), pgdblink::Error>(())
    /// ```
    pub fn status(&self) -> Status {
        self.status
    }

    /// The remote error of a [`Status::Error`] result (the same fields as
    /// the `Err` that `fail_on_error` would have given); `None` for the
    /// other statuses.
    ///
    /// ```rust,no_run
    /// let res = pgdblink::dblink(Some("a"), "select * from no_such_table", false)?;
    /// if let Some(e) = res.error() {
    ///     assert_eq!(e.sqlstate, "42P01"); // undefined_table
    ///     eprintln!("{} ({})", e.message, e.context.as_deref().unwrap_or_default());
    /// }
    /// # Ok::<(), pgdblink::Error>(())
    /// ```
    pub fn error(&self) -> Option<&Error> {
        self.error.as_deref()
    }

    /// The remote error's message as a C string (Error results only).
    #[cfg_attr(not(feature = "capi"), allow(dead_code))]
    pub(crate) fn error_message_cstr(&self) -> Option<&CStr> {
        self.error_c.as_deref().map(|(m, _)| m.as_c_str())
    }

    /// The remote error's SQLSTATE as a C string (Error results only).
    #[cfg_attr(not(feature = "capi"), allow(dead_code))]
    pub(crate) fn error_sqlstate_cstr(&self) -> Option<&CStr> {
        self.error_c.as_deref().map(|(_, s)| s.as_c_str())
    }

    /// The number of rows (0 for `Done`, 1 for `Command`).
    ///
    /// ```rust,no_run
    /// let res = pgdblink::dblink(Some("a"), "select generate_series(1, 3)", true)?;
    /// assert_eq!(res.ntuples(), 3);
    /// # Ok::<(), pgdblink::Error>(())
    /// ```
    pub fn ntuples(&self) -> usize {
        match &self.body {
            Body::Empty => 0,
            Body::Remote { ntuples, .. } => *ntuples,
            Body::Owned { rows, .. } => rows.len(),
            Body::Command(_) => 1,
        }
    }

    /// The number of columns (0 for `Done`, 1 for `Command`).
    ///
    /// ```rust,no_run
    /// let res = pgdblink::dblink(Some("a"), "select 1, 2, 3", true)?;
    /// assert_eq!(res.nfields(), 3);
    /// # Ok::<(), pgdblink::Error>(())
    /// ```
    pub fn nfields(&self) -> usize {
        match &self.body {
            Body::Empty => 0,
            Body::Remote { nfields, .. } => *nfields,
            Body::Owned { columns, .. } => columns.len(),
            Body::Command(_) => 1,
        }
    }

    /// The name of column `col` as a C string, borrowed from the result;
    /// `None` when out of range. For handing names to C without copying.
    ///
    /// ```rust,no_run
    /// let res = pgdblink::dblink(Some("a"), "select 1 as id", true)?;
    /// assert_eq!(res.fname_cstr(0), Some(c"id"));
    /// assert_eq!(res.fname_cstr(1), None);
    /// # Ok::<(), pgdblink::Error>(())
    /// ```
    pub fn fname_cstr(&self, col: usize) -> Option<&CStr> {
        match &self.body {
            Body::Empty => None,
            Body::Remote { res, .. } => res.fname(col),
            Body::Owned { columns, .. } => columns.get(col).map(CString::as_c_str),
            Body::Command(_) => (col == 0).then_some(c"status"),
        }
    }

    /// The name of column `col`; `None` when out of range (or not UTF-8).
    ///
    /// ```rust,no_run
    /// let res = pgdblink::dblink(Some("a"), "select 1 as id, 'x' as label", true)?;
    /// assert_eq!(res.fname(1), Some("label"));
    /// assert_eq!(res.fname(2), None);
    /// # Ok::<(), pgdblink::Error>(())
    /// ```
    pub fn fname(&self, col: usize) -> Option<&str> {
        self.fname_cstr(col).and_then(|c| c.to_str().ok())
    }

    /// Whether `row`/`col` name a cell of this result.
    ///
    /// ```rust,no_run
    /// let res = pgdblink::dblink(Some("a"), "select 1, 2", true)?;
    /// assert!(res.in_range(0, 1));
    /// assert!(!res.in_range(1, 0)); // one row only
    /// # Ok::<(), pgdblink::Error>(())
    /// ```
    pub fn in_range(&self, row: usize, col: usize) -> bool {
        row < self.ntuples() && col < self.nfields()
    }

    /// A cell as a C string, borrowed from the result (the bytes the server
    /// sent, whatever their encoding); `None` for SQL NULL or out of range.
    ///
    /// ```rust,no_run
    /// let res = pgdblink::dblink(Some("a"), "select 'abc', null", true)?;
    /// assert_eq!(res.value_cstr(0, 0), Some(c"abc"));
    /// assert_eq!(res.value_cstr(0, 1), None);
    /// # Ok::<(), pgdblink::Error>(())
    /// ```
    pub fn value_cstr(&self, row: usize, col: usize) -> Option<&CStr> {
        if !self.in_range(row, col) {
            return None;
        }
        match &self.body {
            Body::Empty => None,
            Body::Remote { res, .. } => res.value(row, col),
            Body::Owned { rows, .. } => rows[row][col].as_deref(),
            Body::Command(res) => Some(res.cmd_status_cstr()),
        }
    }

    /// A cell's text; `None` for SQL NULL, out of range, or text that is not
    /// UTF-8 (only possible when the session's client_encoding was changed).
    /// Use [`is_null`](Self::is_null) to tell these apart.
    ///
    /// ```rust,no_run
    /// let res = pgdblink::dblink(Some("a"), "select 42, null::int", true)?;
    /// let answer: i32 = res.get(0, 0).unwrap_or("0").parse().expect("an int4's text");
    /// assert_eq!(answer, 42);
    /// assert_eq!(res.get(0, 1), None);
    /// # Ok::<(), pgdblink::Error>(())
    /// ```
    pub fn get(&self, row: usize, col: usize) -> Option<&str> {
        self.value_cstr(row, col).and_then(|c| c.to_str().ok())
    }

    /// Whether a cell is SQL NULL; `None` when out of range.
    ///
    /// ```rust,no_run
    /// let res = pgdblink::dblink(Some("a"), "select null::int, ''", true)?;
    /// assert_eq!(res.is_null(0, 0), Some(true));
    /// assert_eq!(res.is_null(0, 1), Some(false)); // the empty string is not NULL
    /// assert_eq!(res.is_null(5, 0), None);
    /// # Ok::<(), pgdblink::Error>(())
    /// ```
    pub fn is_null(&self, row: usize, col: usize) -> Option<bool> {
        self.in_range(row, col)
            .then(|| self.value_cstr(row, col).is_none())
    }

    /// Every row as owned strings, `None` for SQL NULL (convenient for small
    /// results and tests; text that is not UTF-8 is converted lossily).
    ///
    /// ```rust,no_run
    /// let res = pgdblink::dblink(Some("a"), "values (1, 'one'), (2, null)", true)?;
    /// assert_eq!(
    ///     res.rows(),
    ///     [[Some("1".to_owned()), Some("one".to_owned())], [Some("2".to_owned()), None]]
    /// );
    /// # Ok::<(), pgdblink::Error>(())
    /// ```
    pub fn rows(&self) -> Vec<Vec<Option<String>>> {
        (0..self.ntuples())
            .map(|r| {
                (0..self.nfields())
                    .map(|c| {
                        self.value_cstr(r, c)
                            .map(|v| v.to_string_lossy().into_owned())
                    })
                    .collect()
            })
            .collect()
    }

    /// The column names, in order (`["status"]` for a `Command` result;
    /// empty for `Done`).
    ///
    /// ```rust,no_run
    /// let res = pgdblink::dblink(Some("a"), "select 1 as id, 'x' as label", true)?;
    /// assert_eq!(res.columns(), ["id", "label"]);
    /// let res = pgdblink::dblink(Some("a"), "create temp table t(x int)", true)?;
    /// assert_eq!(res.columns(), ["status"]);
    /// # Ok::<(), pgdblink::Error>(())
    /// ```
    pub fn columns(&self) -> Vec<String> {
        (0..self.nfields())
            .map(|c| {
                self.fname_cstr(c)
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            })
            .collect()
    }
}

impl std::fmt::Debug for DblinkResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DblinkResult")
            .field("status", &self.status)
            .field("columns", &self.columns())
            .field("rows", &self.rows())
            .field("error", &self.error)
            .finish()
    }
}
