//! The real dblink extension as the test oracle.
//!
//! An [`Oracle`] is one session on the `oracle` database (which has
//! `CREATE EXTENSION dblink`). Tests run the same call sequence through SQL
//! here and through pgdblink, and compare results, messages and SQLSTATEs.
//!
//! dblink connections made by the oracle are opened from inside the server,
//! so give `dblink_connect` the server's own connection string
//! ([`Server::connstr`], the unix socket one, works: same machine, superuser,
//! trust auth).
#![allow(dead_code)]

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use postgres::error::DbError;
use postgres::{Client, Config, NoTls, SimpleQueryMessage};

use super::server::Server;

/// An ERROR (or FATAL) or a NOTICE (or WARNING, INFO, ...) from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// "ERROR", "NOTICE", "WARNING", "FATAL", ...
    pub severity: String,
    /// Five-character SQLSTATE, e.g. "42710"; "00000" for a plain NOTICE.
    pub sqlstate: String,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
    /// The CONTEXT field (`where_`).
    pub context: Option<String>,
}

impl Report {
    pub fn from_db_error(e: &DbError) -> Report {
        Report {
            severity: e.severity().to_owned(),
            sqlstate: e.code().code().to_owned(),
            message: e.message().to_owned(),
            detail: e.detail().map(str::to_owned),
            hint: e.hint().map(str::to_owned),
            context: e.where_().map(str::to_owned),
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.severity, self.sqlstate, self.message)?;
        if let Some(d) = &self.detail {
            write!(f, "\nDETAIL: {d}")?;
        }
        if let Some(h) = &self.hint {
            write!(f, "\nHINT: {h}")?;
        }
        if let Some(c) = &self.context {
            write!(f, "\nCONTEXT: {c}")?;
        }
        Ok(())
    }
}

/// Rows of a query, every value as text (NULL as `None`).
pub type Rows = Vec<Vec<Option<String>>>;

/// One session on the `oracle` database, collecting NOTICEs.
pub struct Oracle {
    client: Client,
    notices: Arc<Mutex<Vec<Report>>>,
}

// `Report` is returned by value on purpose (tests compare it field by field
// and against pgdblink's errors); its size does not matter here.
#[allow(clippy::result_large_err)]
impl Oracle {
    /// Connects to database `oracle` of `server`; panics with the reason on failure.
    pub fn connect(server: &Server) -> Oracle {
        Oracle::try_connect(server).unwrap_or_else(|e| {
            panic!(
                "cannot connect the oracle session ({}): {e}",
                server.connstr_db("oracle")
            )
        })
    }

    /// Connects to database `oracle` of `server`.
    pub fn try_connect(server: &Server) -> Result<Oracle, postgres::Error> {
        let notices = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&notices);
        let mut config: Config = server.connstr_db("oracle").parse()?;
        config.application_name("pgdblink-oracle");
        config.notice_callback(move |notice: DbError| {
            sink.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(Report::from_db_error(&notice));
        });
        let client = config.connect(NoTls)?;
        Ok(Oracle { client, notices })
    }

    /// Runs `sql` with the simple query protocol. Several statements are
    /// allowed; their rows are concatenated. On a server error, the error
    /// as a [`Report`]; panics if the failure is not a server error (e.g.
    /// the connection is gone — see [`is_closed`](Self::is_closed)).
    pub fn query(&mut self, sql: &str) -> Result<Rows, Report> {
        match self.client.simple_query(sql) {
            Ok(messages) => Ok(messages
                .into_iter()
                .filter_map(|m| match m {
                    SimpleQueryMessage::Row(row) => Some(
                        (0..row.len())
                            .map(|i| row.get(i).map(str::to_owned))
                            .collect(),
                    ),
                    _ => None,
                })
                .collect()),
            Err(e) => match e.as_db_error() {
                Some(db) => Err(Report::from_db_error(db)),
                None => panic!("oracle query failed without a server error: {e}\nquery: {sql}"),
            },
        }
    }

    /// Runs a query that must return exactly one row of one column.
    pub fn value(&mut self, sql: &str) -> Result<Option<String>, Report> {
        let rows = self.query(sql)?;
        match <[_; 1]>::try_from(rows) {
            Ok([row]) => match <[_; 1]>::try_from(row) {
                Ok([value]) => Ok(value),
                Err(row) => panic!(
                    "oracle value(): expected 1 column, got {}: {sql}",
                    row.len()
                ),
            },
            Err(rows) => panic!("oracle value(): expected 1 row, got {}: {sql}", rows.len()),
        }
    }

    /// Runs `sql` and expects it to fail; returns the error. Panics if it succeeds.
    pub fn error(&mut self, sql: &str) -> Report {
        match self.query(sql) {
            Ok(rows) => panic!("oracle: expected an error, got {rows:?}: {sql}"),
            Err(report) => report,
        }
    }

    /// The NOTICEs (and WARNINGs, ...) received since the last call.
    pub fn take_notices(&mut self) -> Vec<Report> {
        std::mem::take(&mut *self.notices.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// The underlying client, for anything the helpers don't cover.
    pub fn client(&mut self) -> &mut Client {
        &mut self.client
    }

    /// True once the session's connection is gone (e.g. after a server restart).
    pub fn is_closed(&self) -> bool {
        self.client.is_closed()
    }
}

/// The oracle on a [`Server`] (a trait: `Server` lives in the test kit
/// crate, so the tests cannot add inherent methods to it).
pub trait ServerExt {
    /// A new oracle session on this server (see [`Oracle::connect`]).
    fn oracle(&self) -> Oracle;
}

impl ServerExt for Server {
    fn oracle(&self) -> Oracle {
        Oracle::connect(self)
    }
}

/// `s` as an SQL string literal: `'...'` with quotes doubled
/// (standard_conforming_strings is on, so backslashes are literal).
pub fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}
