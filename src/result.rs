//! `DblinkResult`: rows and columns as dblink returns them.

use std::ffi::{CStr, CString};

use crate::error::Error;
use crate::pq::{PgResult, ResultKind};

/// What a [`DblinkResult`] holds, so that a caller can tell "no more
/// results" from "zero rows".
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Rows of a query (possibly zero of them).
    Tuples = 0,
    /// A command's single row with one text column `status`, e.g. 'CREATE TABLE'.
    Command = 1,
    /// The empty set that ends a query: the connection is ready again.
    Done = 2,
    /// The empty set dblink returns for a remote error when `fail_on_error`
    /// is false; [`DblinkResult::error`] holds the error.
    Error = 3,
}

enum Body {
    Empty,
    Remote(PgResult),
    Owned {
        columns: Vec<CString>,
        rows: Vec<Vec<Option<CString>>>,
    },
}

/// One result as dblink returns it. Cell values are text, as dblink gives
/// them; `None` is SQL NULL.
pub struct DblinkResult {
    status: Status,
    body: Body,
    error: Option<Error>,
    /// The error's message and SQLSTATE as C strings, for the C accessors.
    error_c: Option<(CString, CString)>,
}

/// One notification, as `dblink_get_notify` returns it.
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
            error_c: Some((c_text(&error.message), c_text(&error.sqlstate))),
            error: Some(error),
        }
    }

    /// The same result holding the rows of `res` (dblink returns the rows of
    /// an earlier result set alongside a later remote error).
    pub(crate) fn with_rows(mut self, res: PgResult) -> DblinkResult {
        self.body = Body::Remote(res);
        self
    }

    /// A query's rows, or a command's status row.
    pub(crate) fn from_remote(res: PgResult) -> DblinkResult {
        if res.kind() == ResultKind::Command {
            return DblinkResult::owned(
                Status::Command,
                vec!["status"],
                vec![vec![Some(res.cmd_status())]],
            );
        }
        DblinkResult {
            status: Status::Tuples,
            body: Body::Remote(res),
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

    /// `dblink_get_notify`'s rows: notify_name, be_pid, extra.
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
    pub fn status(&self) -> Status {
        self.status
    }

    /// The remote error of a [`Status::Error`] result.
    pub fn error(&self) -> Option<&Error> {
        self.error.as_ref()
    }

    /// The remote error's message as a C string (Error results only).
    pub(crate) fn error_message_cstr(&self) -> Option<&CStr> {
        self.error_c.as_ref().map(|(m, _)| m.as_c_str())
    }

    /// The remote error's SQLSTATE as a C string (Error results only).
    pub(crate) fn error_sqlstate_cstr(&self) -> Option<&CStr> {
        self.error_c.as_ref().map(|(_, s)| s.as_c_str())
    }

    /// The number of rows.
    pub fn ntuples(&self) -> usize {
        match &self.body {
            Body::Empty => 0,
            Body::Remote(r) => r.ntuples(),
            Body::Owned { rows, .. } => rows.len(),
        }
    }

    /// The number of columns.
    pub fn nfields(&self) -> usize {
        match &self.body {
            Body::Empty => 0,
            Body::Remote(r) => r.nfields(),
            Body::Owned { columns, .. } => columns.len(),
        }
    }

    /// The name of column `col` as a C string; `None` when out of range.
    pub fn fname_cstr(&self, col: usize) -> Option<&CStr> {
        match &self.body {
            Body::Empty => None,
            Body::Remote(r) => r.fname(col),
            Body::Owned { columns, .. } => columns.get(col).map(CString::as_c_str),
        }
    }

    /// The name of column `col`; `None` when out of range.
    pub fn fname(&self, col: usize) -> Option<&str> {
        self.fname_cstr(col).and_then(|c| c.to_str().ok())
    }

    /// Whether `row`/`col` name a cell of this result.
    pub fn in_range(&self, row: usize, col: usize) -> bool {
        row < self.ntuples() && col < self.nfields()
    }

    /// A cell as a C string; `None` for SQL NULL or out of range.
    pub fn value_cstr(&self, row: usize, col: usize) -> Option<&CStr> {
        if !self.in_range(row, col) {
            return None;
        }
        match &self.body {
            Body::Empty => None,
            Body::Remote(r) => r.value(row, col),
            Body::Owned { rows, .. } => rows[row][col].as_deref(),
        }
    }

    /// A cell's text; `None` for SQL NULL, out of range, or text that is not
    /// UTF-8 (only possible when the session's client_encoding was changed).
    pub fn get(&self, row: usize, col: usize) -> Option<&str> {
        self.value_cstr(row, col).and_then(|c| c.to_str().ok())
    }

    /// Whether a cell is SQL NULL; `None` when out of range.
    pub fn is_null(&self, row: usize, col: usize) -> Option<bool> {
        self.in_range(row, col)
            .then(|| self.value_cstr(row, col).is_none())
    }

    /// Every row as owned strings (convenient for small results and tests).
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

    /// The column names.
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
