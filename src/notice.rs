//! NOTICEs: where dblink would raise a NOTICE instead of an ERROR (a send
//! that could not be dispatched, a remote error with `fail_on_error` false),
//! pgdblink calls the host's handler, if one is set. Off by default.

use std::sync::Arc;

use parking_lot::RwLock;

use crate::error::Error;

/// A notice handler: the connection name (`None`: the unnamed connection)
/// and the report dblink would have raised as a NOTICE. It runs on the
/// thread that made the call, while no pgdblink lock is held.
pub type NoticeHandler = Arc<dyn Fn(Option<&str>, &Error) + Send + Sync>;

static HANDLER: RwLock<Option<NoticeHandler>> = RwLock::new(None);

/// Sets (or with `None`, removes) the process-wide notice handler.
pub fn set_notice_handler(handler: Option<NoticeHandler>) {
    *HANDLER.write() = handler;
}

/// Delivers a notice to the handler, if any.
pub(crate) fn emit(name: Option<&str>, report: &Error) {
    let handler = HANDLER.read().clone();
    if let Some(h) = handler {
        h(name, report);
    }
}
