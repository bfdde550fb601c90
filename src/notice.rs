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
pub fn set_server_notice_handler(handler: Option<NoticeHandler>) {
    let mut h = SERVER_HANDLER.write();
    crate::pq::capture_notices(handler.is_some());
    *h = handler;
}

/// Delivers server notices received on the connection `name`.
pub(crate) fn emit_server(name: Option<&str>, notices: Vec<ServerNotice>) {
    if notices.is_empty() {
        return;
    }
    let Some(handler) = SERVER_HANDLER.read().clone() else {
        return;
    };
    for n in notices {
        let report = Error {
            sqlstate: n.sqlstate.unwrap_or_else(|| "00000".to_owned()),
            message: n.message.unwrap_or_default(),
            detail: n.detail,
            hint: n.hint,
            context: n.context,
        };
        handler(name, &report);
    }
}

/// Delivers a notice to the handler, if any.
pub(crate) fn emit(name: Option<&str>, report: &Error) {
    let handler = HANDLER.read().clone();
    if let Some(h) = handler {
        h(name, report);
    }
}
