//! `Error`: what dblink would raise as an ERROR, with the server's words kept.

use crate::pq::PgResult;

/// An ERROR as dblink raises it: SQLSTATE, message, and the optional
/// DETAIL, HINT and CONTEXT lines. Remote errors keep the remote server's
/// fields; errors dblink raises itself keep dblink's texts and codes.
///
/// The same shape describes the NOTICEs dblink raises instead of an ERROR
/// when `fail_on_error` is false (see [`crate::set_notice_handler`]), and the
/// remote error a [`crate::Status::Error`] result holds. `Display` shows the
/// message alone, as dblink's ERROR line does; its alternate form (`{:#}`)
/// adds the SQLSTATE and the DETAIL, HINT and CONTEXT lines. The fields are
/// public to read; new fields may be added (`#[non_exhaustive]`), so build
/// one with [`Error::new`] and the `with_*` methods. The codes pgdblink
/// raises itself are in [`sqlstate`]; a remote error keeps the remote
/// server's code. `Error` is `Send + Sync` (plain owned strings).
///
/// ```rust
/// let e = pgdblink::Error::new("08001", "could not establish connection")
///     .with_detail("connection to server at \"db1\" failed: timeout expired");
/// assert_eq!(e.to_string(), "could not establish connection");
/// assert_eq!(
///     format!("{e:#}"),
///     "08001: could not establish connection\nDETAIL: connection to server at \"db1\" failed: timeout expired"
/// );
/// ```
///
/// ```rust,no_run
/// match pgdblink::dblink(Some("a"), "insert into t values (1) returning id", true) {
///     Ok(res) => println!("id {}", res.get(0, 0).unwrap_or_default()),
///     Err(e) if e.sqlstate == "23505" => eprintln!("duplicate: {}", e.detail.unwrap_or_default()),
///     Err(e) => {
///         eprintln!("ERROR {}: {}", e.sqlstate, e);
///         for line in [&e.detail, &e.hint, &e.context].into_iter().flatten() {
///             eprintln!("  {line}");
///         }
///     }
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Error {
    /// The five-character SQLSTATE, e.g. "08003".
    pub sqlstate: String,
    /// The primary message, e.g. `connection "a" not available`.
    pub message: String,
    /// The DETAIL line, if any.
    pub detail: Option<String>,
    /// The HINT line, if any.
    pub hint: Option<String>,
    /// The CONTEXT lines (newline-separated), if any.
    pub context: Option<String>,
}

/// SQLSTATE codes pgdblink raises itself (PostgreSQL's names in each
/// constant's description), to compare with [`Error::sqlstate`]. Remote
/// errors carry the remote server's codes, which are not all listed here.
///
/// ```rust,no_run
/// use pgdblink::sqlstate;
///
/// match pgdblink::get_result(Some("a"), true) {
///     Ok(res) => println!("{:?}", res.status()),
///     Err(e) if e.sqlstate == sqlstate::CONNECTION_DOES_NOT_EXIST => {
///         pgdblink::connect(Some("a"), "host=localhost dbname=postgres")?;
///     }
///     Err(e) if e.sqlstate == sqlstate::QUERY_CANCELED => eprintln!("cancelled: {}", e.message),
///     Err(e) => return Err(e),
/// }
/// # Ok::<(), pgdblink::Error>(())
/// ```
pub mod sqlstate {
    /// connection_does_not_exist: `connection "a" not available` (an
    /// unknown name), or a name whose `connect_start` has not finished.
    pub const CONNECTION_DOES_NOT_EXIST: &str = "08003";
    /// connection_failure: a remote error without a SQLSTATE (the connection
    /// broke, e.g. `server closed the connection unexpectedly`), or a failed
    /// `reset`.
    pub const CONNECTION_FAILURE: &str = "08006";
    /// sqlclient_unable_to_establish_sqlconnection: `could not establish
    /// connection`, with libpq's message (or `timed out after N ms`) as
    /// DETAIL.
    pub const UNABLE_TO_ESTABLISH: &str = "08001";
    /// duplicate_object: `duplicate connection name`.
    pub const DUPLICATE_OBJECT: &str = "42710";
    /// null_value_not_allowed: a C caller passed NULL where a value is
    /// required (`sql must not be NULL`).
    pub const NULL_VALUE_NOT_ALLOWED: &str = "22004";
    /// character_not_in_repertoire: a C caller passed a string that is not
    /// valid UTF-8.
    pub const CHARACTER_NOT_IN_REPERTOIRE: &str = "22021";
    /// invalid_parameter_value: a string with a NUL byte, or a C index or
    /// count out of range.
    pub const INVALID_PARAMETER_VALUE: &str = "22023";
    /// query_canceled: also used for a wait that timed out (`timed out after
    /// N ms waiting for a result`); a cancelled remote query has it too.
    pub const QUERY_CANCELED: &str = "57014";
    /// name_too_long: the NOTICE for a connection name truncated to 63 bytes.
    pub const NAME_TOO_LONG: &str = "42622";
    /// invalid_cursor_name: `cursor "c" does not exist` from `fetch`.
    pub const INVALID_CURSOR_NAME: &str = "34000";
    /// prohibited_sql_statement_attempted: `statement returning results not
    /// allowed` (`exec` of a query).
    pub const STATEMENT_RETURNING_RESULTS: &str = "2F003";
    /// internal_error: dblink's `could not send query: ...`, `begin error:
    /// ...`, `commit error: ...`, and `internal error: ...` (a bug caught at
    /// the C boundary).
    pub const INTERNAL_ERROR: &str = "XX000";
    /// feature_not_supported: `COPY is not supported here` (a COPY reached
    /// through a dblink function, which cannot drive it).
    pub const FEATURE_NOT_SUPPORTED: &str = "0A000";
    /// out_of_memory: libpq could not allocate a connection.
    pub const OUT_OF_MEMORY: &str = "53200";
}

impl std::fmt::Display for Error {
    /// The message; with `{:#}`, `SQLSTATE: message` and the DETAIL, HINT
    /// and CONTEXT lines that are present, one per line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !f.alternate() {
            return f.write_str(&self.message);
        }
        write!(f, "{}: {}", self.sqlstate, self.message)?;
        for (label, line) in [
            ("DETAIL", &self.detail),
            ("HINT", &self.hint),
            ("CONTEXT", &self.context),
        ] {
            if let Some(line) = line {
                write!(f, "\n{label}: {line}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

impl Error {
    /// An error with just a SQLSTATE and a message (for a host's own
    /// errors, or tests that compare with pgdblink's).
    ///
    /// ```rust
    /// use pgdblink::{Error, sqlstate};
    ///
    /// let e = Error::new(sqlstate::CONNECTION_DOES_NOT_EXIST, r#"connection "a" not available"#);
    /// assert_eq!(e.to_string(), r#"connection "a" not available"#);
    /// assert_eq!((e.detail, e.hint, e.context), (None, None, None));
    /// ```
    pub fn new(sqlstate: &str, message: impl Into<String>) -> Error {
        Error {
            sqlstate: sqlstate.to_owned(),
            message: message.into(),
            detail: None,
            hint: None,
            context: None,
        }
    }

    /// The same error with a DETAIL line.
    ///
    /// ```rust
    /// use pgdblink::{Error, sqlstate};
    ///
    /// let e = Error::new(sqlstate::UNABLE_TO_ESTABLISH, "could not establish connection")
    ///     .with_detail("timed out after 3000 ms");
    /// assert_eq!(e.detail.as_deref(), Some("timed out after 3000 ms"));
    /// ```
    pub fn with_detail(mut self, detail: impl Into<String>) -> Error {
        self.detail = Some(detail.into());
        self
    }

    /// dblink's `connection "a" not available` (or `connection not available`
    /// for the unnamed connection), 08003.
    pub(crate) fn conn_not_available(name: Option<&str>) -> Error {
        let message = match name {
            Some(n) => format!("connection \"{n}\" not available"),
            None => "connection not available".to_owned(),
        };
        Error::new(sqlstate::CONNECTION_DOES_NOT_EXIST, message)
    }

    /// A NULL where the C caller had to pass a value.
    #[cfg_attr(not(feature = "capi"), allow(dead_code))]
    pub(crate) fn null_argument(what: &str) -> Error {
        Error::new(
            sqlstate::NULL_VALUE_NOT_ALLOWED,
            format!("{what} must not be NULL"),
        )
    }

    /// Bytes from the C caller that are not UTF-8.
    #[cfg_attr(not(feature = "capi"), allow(dead_code))]
    pub(crate) fn not_utf8(what: &str, err: std::str::Utf8Error) -> Error {
        Error::new(
            sqlstate::CHARACTER_NOT_IN_REPERTOIRE,
            format!(
                "{what} is not valid UTF-8 (invalid byte at offset {})",
                err.valid_up_to()
            ),
        )
    }

    /// A string argument that contains a NUL byte (libpq cannot carry it).
    /// The same error with a HINT line.
    ///
    /// ```rust
    /// let e = pgdblink::Error::new("42P01", "relation \"t\" does not exist").with_hint("create it first");
    /// assert_eq!(e.hint.as_deref(), Some("create it first"));
    /// ```
    pub fn with_hint(mut self, hint: impl Into<String>) -> Error {
        self.hint = Some(hint.into());
        self
    }

    /// The same error with CONTEXT lines.
    ///
    /// ```rust
    /// let e = pgdblink::Error::new("22012", "division by zero")
    ///     .with_context("while executing query on dblink connection named \"a\"");
    /// assert!(format!("{e:#}").ends_with("CONTEXT: while executing query on dblink connection named \"a\""));
    /// ```
    pub fn with_context(mut self, context: impl Into<String>) -> Error {
        self.context = Some(context.into());
        self
    }

    pub(crate) fn interior_nul(what: &str) -> Error {
        Error::new(
            sqlstate::INVALID_PARAMETER_VALUE,
            format!("{what} must not contain a NUL byte"),
        )
    }

    /// dblink's report of a failed remote statement (its `dblink_res_error`):
    /// the remote SQLSTATE (08006 when there is none), primary message (else
    /// libpq's connection message), detail, hint, and the remote context
    /// followed by dblink's own line, e.g. `while executing query on dblink
    /// connection named "a"`.
    pub(crate) fn remote(
        res: Option<&PgResult>,
        conn_message: &str,
        name: Option<&str>,
        doing: &str,
    ) -> Error {
        use pq_sys::{
            PG_DIAG_CONTEXT, PG_DIAG_MESSAGE_DETAIL, PG_DIAG_MESSAGE_HINT, PG_DIAG_MESSAGE_PRIMARY,
            PG_DIAG_SQLSTATE,
        };
        let field = |code| res.and_then(|r| r.error_field(code));
        let primary = field(PG_DIAG_MESSAGE_PRIMARY)
            .unwrap_or_else(|| conn_message.trim_end_matches('\n').to_owned());
        let message = if primary.is_empty() {
            "could not obtain message string for remote error".to_owned()
        } else {
            primary
        };
        let own_line = match name {
            Some(n) => format!("{doing} on dblink connection named \"{n}\""),
            None => format!("{doing} on unnamed dblink connection"),
        };
        let context = match field(PG_DIAG_CONTEXT) {
            Some(remote) => format!("{remote}\n{own_line}"),
            None => own_line,
        };
        Error {
            sqlstate: field(PG_DIAG_SQLSTATE)
                .unwrap_or_else(|| sqlstate::CONNECTION_FAILURE.to_owned()),
            message,
            detail: field(PG_DIAG_MESSAGE_DETAIL),
            hint: field(PG_DIAG_MESSAGE_HINT),
            context: Some(context),
        }
    }
}

/// `Result` with pgdblink's [`Error`]: what every fallible function here
/// returns.
///
/// ```rust,no_run
/// fn orders_with_status(conn: &str, status: &str) -> pgdblink::Result<i64> {
///     let sql = "select count(*) from orders where status = $1";
///     let res = pgdblink::dblink_params(Some(conn), sql, &[Some(status)], true)?;
///     Ok(res.get(0, 0).and_then(|n| n.parse().ok()).unwrap_or(0))
/// }
/// # fn main() -> pgdblink::Result<()> {
/// println!("{} open orders", orders_with_status("a", "open")?);
/// # Ok(()) }
/// ```
pub type Result<T> = std::result::Result<T, Error>;
