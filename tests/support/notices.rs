//! One process-wide recording handler for the NOTICEs pgdblink raises.
//!
//! The handler is process-wide and the tests of one binary run in parallel,
//! so every test takes only the notices of its own connection names.

use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use pgdblink::Error;

/// Every NOTICE pgdblink raised in this process, with the connection name.
pub type Recorded = Arc<Mutex<Vec<(Option<String>, Error)>>>;

/// Installs (once) the recording notice handler and returns its buffer.
pub fn recorder() -> &'static Recorded {
    static RECORDED: OnceLock<Recorded> = OnceLock::new();
    RECORDED.get_or_init(|| {
        let buffer: Recorded = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&buffer);
        pgdblink::set_notice_handler(Some(Arc::new(move |name: Option<&str>, e: &Error| {
            sink.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((name.map(str::to_owned), e.clone()));
        })));
        buffer
    })
}
