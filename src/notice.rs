//! NOTICEs: where dblink would raise a NOTICE instead of an ERROR (a send
//! that could not be dispatched, a remote error with `fail_on_error` false),
//! pgdblink calls the host's handler, if one is set. Off by default.

use std::sync::Arc;

use parking_lot::RwLock;

use crate::error::Error;
use crate::pq::ServerNotice;

/// A notice handler: the connection name (`None`: the unnamed connection,
/// or a temporary one) and the report dblink would have raised as a NOTICE.
/// It runs on the thread that made the call, while no pgdblink lock is held,
/// so it may call pgdblink itself. Shared (`Arc`) and `Send + Sync`: one
/// handler serves every thread.
///
/// ```rust
/// use std::sync::{Arc, Mutex};
/// use pgdblink::NoticeHandler;
///
/// // Keep the notices instead of printing them.
/// let seen: Arc<Mutex<Vec<(Option<String>, pgdblink::Error)>>> = Arc::default();
/// let sink = Arc::clone(&seen);
/// let handler: NoticeHandler = Arc::new(move |name, notice| {
///     sink.lock().expect("notice log").push((name.map(str::to_owned), notice.clone()));
/// });
/// pgdblink::set_notice_handler(Some(handler));
/// ```
pub type NoticeHandler = Arc<dyn Fn(Option<&str>, &Error) + Send + Sync>;

static HANDLER: RwLock<Option<NoticeHandler>> = RwLock::new(None);

/// Sets (or with `None`, removes) the process-wide notice handler: it
/// receives exactly the NOTICEs dblink itself raises (`could not send query:
/// ...`, a remote error with `fail_on_error` false, a truncated connection
/// name), with the connection's name. Off by default: without a handler,
/// these notices are dropped. A new handler replaces the previous one.
///
/// ```rust,no_run
/// use std::sync::Arc;
///
/// pgdblink::set_notice_handler(Some(Arc::new(|name: Option<&str>, n: &pgdblink::Error| {
///     eprintln!("NOTICE {} on {}: {}", n.sqlstate, name.unwrap_or("(unnamed)"), n.message);
/// })));
/// // A remote error with fail_on_error = false: no Err, the handler hears of it.
/// let res = pgdblink::dblink(Some("a"), "select 1/0", false)?;
/// assert_eq!(res.status(), pgdblink::Status::Error);
/// pgdblink::set_notice_handler(None); // off again
/// # Ok::<(), pgdblink::Error>(())
/// ```
pub fn set_notice_handler(handler: Option<NoticeHandler>) {
    *HANDLER.write() = handler;
}

static SERVER_HANDLER: RwLock<Option<NoticeHandler>> = RwLock::new(None);

/// Sets (or with `None`, removes) the process-wide handler of the notices and
/// warnings the remote servers send (`RAISE NOTICE`, WARNING, ...; libpq's
/// `PQsetNoticeReceiver`), which dblink itself does not pass on. Each comes
/// with the connection's name (`None`: the unnamed or a temporary
/// connection) and keeps its SQLSTATE: class 01 for warnings (01000), 00000
/// for NOTICE/INFO/LOG. It runs on the thread whose call received the notice,
/// after that call released its locks. Off by default: without a handler,
/// server notices are dropped (never printed on stderr).
///
/// ```rust,no_run
/// use std::sync::Arc;
///
/// pgdblink::set_server_notice_handler(Some(Arc::new(|name: Option<&str>, n: &pgdblink::Error| {
///     eprintln!("server {} on {}: {}", n.sqlstate, name.unwrap_or("(unnamed)"), n.message);
/// })));
/// pgdblink::exec(Some("a"), "do $$ begin raise notice 'hello'; end $$", true)?;
/// // The handler printed: server 00000 on a: hello
/// # Ok::<(), pgdblink::Error>(())
/// ```
///
/// An ERROR or FATAL the server sends while no query is in progress (the
/// FATAL 57P01 of a terminated backend, say) is not a notice and is not
/// passed here; [`set_server_message_handler`] receives it, with its
/// severity.
pub fn set_server_notice_handler(handler: Option<NoticeHandler>) {
    let _one_setter = SETTING.lock();
    *SERVER_HANDLER.write() = handler;
    update_capture();
}

/// A handler of the remote servers' messages with their severity: the
/// connection's name (`None`: the unnamed or a temporary connection), the
/// severity as the server names it (not localized: `NOTICE`, `WARNING`,
/// `INFO`, `LOG`, `DEBUG`, and `ERROR`, `FATAL` or `PANIC` for an error sent
/// while no query was in progress), and the message. Runs as
/// [`NoticeHandler`] does.
///
/// ```rust
/// use std::sync::Arc;
/// use pgdblink::ServerMessageHandler;
///
/// let handler: ServerMessageHandler = Arc::new(|name, severity, m| {
///     eprintln!("{severity} {} on {}: {}", m.sqlstate, name.unwrap_or("(unnamed)"), m.message);
/// });
/// pgdblink::set_server_message_handler(Some(handler));
/// ```
pub type ServerMessageHandler = Arc<dyn Fn(Option<&str>, &str, &Error) + Send + Sync>;

static MESSAGE_HANDLER: RwLock<Option<ServerMessageHandler>> = RwLock::new(None);

/// Sets (or with `None`, removes) the process-wide handler of every message
/// the remote servers send outside a query's results, with its severity
/// (see [`ServerMessageHandler`]): a WARNING with SQLSTATE 22012 is told
/// from a NOTICE, and the FATAL a terminated backend sends to an idle
/// connection arrives as `FATAL` (57P01), not as a notice. It works beside
/// [`set_server_notice_handler`] (which keeps receiving the notices alone,
/// without severity). Off by default.
///
/// ```rust,no_run
/// use std::sync::Arc;
///
/// pgdblink::set_server_message_handler(Some(Arc::new(|name: Option<&str>, severity: &str, m: &pgdblink::Error| {
///     if severity == "FATAL" {
///         eprintln!("{} lost: {}", name.unwrap_or("(unnamed)"), m.message);
///     }
/// })));
/// # Ok::<(), pgdblink::Error>(())
/// ```
pub fn set_server_message_handler(handler: Option<ServerMessageHandler>) {
    let _one_setter = SETTING.lock();
    *MESSAGE_HANDLER.write() = handler;
    update_capture();
}

/// Serializes the setters of the two server handlers (with the capture
/// switch that depends on both).
static SETTING: parking_lot::Mutex<()> = parking_lot::Mutex::new(());

/// Keeps server notices while either handler is set (call under SETTING).
fn update_capture() {
    let any = SERVER_HANDLER.read().is_some() || MESSAGE_HANDLER.read().is_some();
    crate::pq::capture_notices(any);
}

/// Whether a severity is an error's (not a notice's).
fn is_error(severity: Option<&str>) -> bool {
    matches!(severity, Some("ERROR" | "FATAL" | "PANIC"))
}

/// Delivers server notices received on the connection `name`.
pub(crate) fn emit_server(name: Option<&str>, notices: Vec<ServerNotice>) {
    if notices.is_empty() {
        return;
    }
    let plain = SERVER_HANDLER.read().clone();
    let with_severity = MESSAGE_HANDLER.read().clone();
    for n in notices {
        let severity = n.severity;
        let report = Error {
            sqlstate: n.sqlstate.unwrap_or_else(|| "00000".to_owned()),
            message: n.message.unwrap_or_default(),
            detail: n.detail,
            hint: n.hint,
            context: n.context,
        };
        if let Some(h) = &with_severity {
            h(name, severity.as_deref().unwrap_or("NOTICE"), &report);
        }
        if let Some(h) = plain.as_ref().filter(|_| !is_error(severity.as_deref())) {
            h(name, &report);
        }
    }
}

/// Delivers a notice to the handler, if any.
pub(crate) fn emit(name: Option<&str>, report: &Error) {
    let handler = HANDLER.read().clone();
    if let Some(h) = handler {
        h(name, report);
    }
}
