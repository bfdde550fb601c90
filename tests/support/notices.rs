//! The recorder of the NOTICEs pgdblink raises: one process-wide handler
//! that keeps each notice on the thread that made the call (pgdblink calls
//! its notice handler on the calling thread), so parallel tests never see
//! each other's notices and need no bookkeeping by connection name.

use std::cell::RefCell;
use std::sync::{Arc, Once};

use pgdblink::Error;

thread_local! {
    static NOTICES: RefCell<Vec<(Option<String>, Error)>> = const { RefCell::new(Vec::new()) };
}

/// Installs the recording handler (once per process).
pub fn install() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        pgdblink::set_notice_handler(Some(Arc::new(|name: Option<&str>, e: &Error| {
            NOTICES.with(|n| n.borrow_mut().push((name.map(str::to_owned), e.clone())));
        })));
    });
}

/// Removes and returns the notices this thread's calls raised, with their
/// connection names, oldest first.
pub fn take() -> Vec<(Option<String>, Error)> {
    install();
    NOTICES.with(|n| std::mem::take(&mut *n.borrow_mut()))
}
