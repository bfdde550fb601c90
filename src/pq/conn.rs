//! `Conn`: the one owner of a `PGconn`.

use std::ffi::CStr;
use std::os::raw::c_int;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;

use super::owned_text;
use super::result::PgResult;
use super::wait::{Deadline, Interest, WaitOutcome, wait_socket};

/// A libpq connection. `Drop` calls `PQfinish`; nothing else does.
pub(crate) struct Conn {
    raw: NonNull<pq_sys::PGconn>,
    /// Server notices collected by the notice receiver (only while capture
    /// is on); boxed so that its address, given to libpq, never moves. It is
    /// dropped after `PQfinish` (fields drop after `Drop::drop`).
    notices: Box<Mutex<Vec<ServerNotice>>>,
}

/// A notice or warning the server sent (through `PQsetNoticeReceiver`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServerNotice {
    pub(crate) sqlstate: Option<String>,
    pub(crate) message: Option<String>,
    pub(crate) detail: Option<String>,
    pub(crate) hint: Option<String>,
    pub(crate) context: Option<String>,
}

/// Whether notice receivers keep server notices (a handler is set).
static CAPTURE_NOTICES: AtomicBool = AtomicBool::new(false);

/// Turns the keeping of server notices on or off for every connection.
pub(crate) fn capture_notices(on: bool) {
    CAPTURE_NOTICES.store(on, Ordering::Release);
}

// SAFETY: a PGconn may be used from any thread as long as no two threads use
// it at the same time (libpq is built thread-safe). `Conn` is only reachable
// through `&mut self` methods or behind a lock, so moving it between threads
// is sound.
unsafe impl Send for Conn {}

/// A notification drained from `PQnotifies`, copied out of libpq's memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Notification {
    pub(crate) channel: String,
    pub(crate) be_pid: i32,
    pub(crate) extra: String,
}

/// Progress of a non-blocking connect (`PQconnectPoll`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PollStatus {
    Reading,
    Writing,
    Ok,
    Failed,
}

/// The remote transaction state (`PQtransactionStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TxStatus {
    Idle,
    Active,
    InTransaction,
    InError,
    Unknown,
}

impl Conn {
    fn from_raw(raw: *mut pq_sys::PGconn) -> Option<Conn> {
        let mut conn = NonNull::new(raw).map(|raw| Conn {
            raw,
            notices: Box::new(Mutex::new(Vec::new())),
        })?;
        conn.receive_notices();
        Some(conn)
    }

    fn ptr(&self) -> *mut pq_sys::PGconn {
        self.raw.as_ptr()
    }

    /// Opens a connection and waits for it (`PQconnectdb`, which honours
    /// `connect_timeout` and multiple hosts). `None` only when libpq could not
    /// allocate the handle. Check [`Conn::is_ok`] for the outcome.
    pub(crate) fn connectdb(connstr: &CStr) -> Option<Conn> {
        // SAFETY: `connstr` is a valid NUL-terminated string for the call.
        Conn::from_raw(unsafe { pq_sys::PQconnectdb(connstr.as_ptr()) })
    }

    /// Starts a non-blocking connect (`PQconnectStart`); drive it with
    /// [`Conn::connect_poll`].
    pub(crate) fn connect_start(connstr: &CStr) -> Option<Conn> {
        // SAFETY: `connstr` is a valid NUL-terminated string for the call.
        Conn::from_raw(unsafe { pq_sys::PQconnectStart(connstr.as_ptr()) })
    }

    /// One step of a non-blocking connect (`PQconnectPoll`).
    pub(crate) fn connect_poll(&mut self) -> PollStatus {
        // SAFETY: `self.raw` is a live PGconn owned exclusively by `self`.
        match unsafe { pq_sys::PQconnectPoll(self.ptr()) } {
            pq_sys::PostgresPollingStatusType::PGRES_POLLING_READING => PollStatus::Reading,
            pq_sys::PostgresPollingStatusType::PGRES_POLLING_WRITING => PollStatus::Writing,
            pq_sys::PostgresPollingStatusType::PGRES_POLLING_OK => PollStatus::Ok,
            _ => PollStatus::Failed,
        }
    }

    /// Whether the connection is usable (`PQstatus == CONNECTION_OK`).
    pub(crate) fn is_ok(&self) -> bool {
        // SAFETY: `self.raw` is a live PGconn.
        unsafe { pq_sys::PQstatus(self.ptr()) == pq_sys::ConnStatusType::CONNECTION_OK }
    }

    /// `PQerrorMessage`, as libpq has it (trailing newline included).
    pub(crate) fn error_message(&self) -> String {
        // SAFETY: `self.raw` is live; PQerrorMessage returns a string owned by
        // the PGconn, copied out before `self` can change.
        unsafe { owned_text(pq_sys::PQerrorMessage(self.ptr())) }.unwrap_or_default()
    }

    /// Replaces libpq's default notice processor, which prints the server's
    /// NOTICEs and WARNINGs (and messages such as `FATAL: terminating
    /// connection`) on the host's stderr: a library must not write there.
    /// Notices are kept for [`Conn::take_notices`] while capture is on.
    fn receive_notices(&mut self) {
        let queue: *const Mutex<Vec<ServerNotice>> = &*self.notices;
        // SAFETY: `self.raw` is live and exclusively ours. The argument points
        // to the boxed queue, which outlives the PGconn (it is dropped after
        // PQfinish) and never moves.
        unsafe {
            pq_sys::PQsetNoticeReceiver(self.ptr(), Some(receive_notice), queue.cast_mut().cast());
        }
    }

    /// The server notices received since the last call.
    pub(crate) fn take_notices(&mut self) -> Vec<ServerNotice> {
        if !CAPTURE_NOTICES.load(Ordering::Acquire) {
            return Vec::new(); // nothing is kept while capture is off
        }
        std::mem::take(&mut *self.notices.lock())
    }

    /// `PQsetClientEncoding`; true on success.
    pub(crate) fn set_client_encoding(&mut self, encoding: &CStr) -> bool {
        // SAFETY: `self.raw` is live and exclusively ours; `encoding` is a
        // valid C string for the call.
        unsafe { pq_sys::PQsetClientEncoding(self.ptr(), encoding.as_ptr()) == 0 }
    }

    /// `PQsendQuery`; true when dispatched.
    pub(crate) fn send_query(&mut self, sql: &CStr) -> bool {
        // SAFETY: `self.raw` is live and exclusively ours; `sql` is a valid C
        // string for the call (libpq copies it into its output buffer).
        unsafe { pq_sys::PQsendQuery(self.ptr(), sql.as_ptr()) == 1 }
    }

    /// `PQsendQueryParams` with text parameters (NULL for SQL NULL), letting
    /// the server infer their types; true when dispatched.
    pub(crate) fn send_query_params(&mut self, sql: &CStr, params: &[Option<&CStr>]) -> bool {
        let Ok(n) = c_int::try_from(params.len()) else {
            return false;
        };
        let values: Vec<*const std::os::raw::c_char> = params
            .iter()
            .map(|p| p.map_or(std::ptr::null(), |s| s.as_ptr()))
            .collect();
        // SAFETY: `self.raw` is live and exclusively ours; `sql` and every
        // non-NULL entry of `values` are valid C strings that outlive the call;
        // NULL types/lengths/formats mean "infer, text, text" per libpq's docs.
        unsafe {
            pq_sys::PQsendQueryParams(
                self.ptr(),
                sql.as_ptr(),
                n,
                std::ptr::null(),
                values.as_ptr(),
                std::ptr::null(),
                std::ptr::null(),
                0,
            ) == 1
        }
    }

    /// `PQsetChunkedRowsMode` (libpq 17+); true when accepted.
    #[cfg(not(pgdblink_libpq_pre17))]
    pub(crate) fn set_chunked_rows_mode(&mut self, chunk_size: c_int) -> bool {
        // SAFETY: `self.raw` is live and exclusively ours.
        unsafe { pq_sys::PQsetChunkedRowsMode(self.ptr(), chunk_size) == 1 }
    }

    /// `PQsetSingleRowMode`; true when accepted.
    #[cfg(pgdblink_libpq_pre17)]
    pub(crate) fn set_single_row_mode(&mut self) -> bool {
        // SAFETY: `self.raw` is live and exclusively ours.
        unsafe { pq_sys::PQsetSingleRowMode(self.ptr()) == 1 }
    }

    /// `PQconsumeInput`; false when reading failed (the connection is broken).
    pub(crate) fn consume_input(&mut self) -> bool {
        // SAFETY: `self.raw` is live and exclusively ours.
        unsafe { pq_sys::PQconsumeInput(self.ptr()) == 1 }
    }

    /// `PQisBusy`: true when `PQgetResult` would block.
    pub(crate) fn is_busy(&mut self) -> bool {
        // SAFETY: `self.raw` is live and exclusively ours.
        unsafe { pq_sys::PQisBusy(self.ptr()) == 1 }
    }

    /// `PQsocket`: the connection's socket, -1 when there is none.
    pub(crate) fn socket(&self) -> c_int {
        // SAFETY: `self.raw` is live.
        unsafe { pq_sys::PQsocket(self.ptr()) }
    }

    /// `PQtransactionStatus`.
    pub(crate) fn transaction_status(&self) -> TxStatus {
        use pq_sys::PGTransactionStatusType as T;
        // SAFETY: `self.raw` is live.
        match unsafe { pq_sys::PQtransactionStatus(self.ptr()) } {
            T::PQTRANS_IDLE => TxStatus::Idle,
            T::PQTRANS_ACTIVE => TxStatus::Active,
            T::PQTRANS_INTRANS => TxStatus::InTransaction,
            T::PQTRANS_INERROR => TxStatus::InError,
            _ => TxStatus::Unknown,
        }
    }

    /// `PQreset`: closes and reopens the connection with the same parameters.
    pub(crate) fn reset(&mut self) {
        // SAFETY: `self.raw` is live and exclusively ours.
        unsafe { pq_sys::PQreset(self.ptr()) }
    }

    /// The next result of the query in progress, waiting with poll(2) until
    /// the deadline: `Ok(None)` when the query is finished (`PQgetResult`
    /// returned NULL), `Err(())` when the deadline passed first.
    pub(crate) fn next_result(&mut self, deadline: Deadline) -> Result<Option<PgResult>, ()> {
        while self.is_busy() {
            let fd = self.socket();
            if fd < 0 {
                break; // PQgetResult reports the lost connection without blocking.
            }
            if wait_socket(fd, Interest::Read, deadline) == WaitOutcome::TimedOut {
                return Err(());
            }
            if !self.consume_input() {
                break; // the socket is closed now: PQgetResult will not block.
            }
        }
        Ok(self.get_result_now())
    }

    /// dblink's `libpqsrv_exec`: sends `sql` and collects every result,
    /// keeping the last one (as `PQexec` does). `None` when the query could
    /// not be sent, or no result came (the connection failed); see
    /// [`Conn::error_message`].
    pub(crate) fn exec_last(&mut self, sql: &CStr) -> Option<PgResult> {
        if !self.send_query(sql) {
            return None;
        }
        self.last_result()
    }

    /// Collects the remaining results of the query in progress, keeping the
    /// last; stops early on COPY or a broken connection, as dblink does.
    pub(crate) fn last_result(&mut self) -> Option<PgResult> {
        let mut last = None;
        while let Ok(Some(res)) = self.next_result(None) {
            let stop = res.is_copy() || self.is_bad();
            last = Some(res);
            if stop {
                break;
            }
        }
        last
    }

    /// Reads and discards every pending result of the query in progress.
    pub(crate) fn drain(&mut self) {
        while let Ok(Some(res)) = self.next_result(None) {
            if res.is_copy() || self.is_bad() {
                break;
            }
        }
    }

    /// `PQgetResult`; call only when [`Conn::is_busy`] is false (or the
    /// connection is broken), so that it does not block.
    fn get_result_now(&mut self) -> Option<PgResult> {
        // SAFETY: `self.raw` is live and exclusively ours; the returned
        // PGresult (if any) is owned by the new PgResult.
        unsafe { PgResult::from_raw(pq_sys::PQgetResult(self.ptr())) }
    }

    /// The next pending notification (`PQnotifies`), if any.
    pub(crate) fn notifies(&mut self) -> Option<Notification> {
        // SAFETY: `self.raw` is live and exclusively ours.
        let raw = unsafe { pq_sys::PQnotifies(self.ptr()) };
        if raw.is_null() {
            return None;
        }
        // SAFETY: `raw` is a non-NULL PGnotify that libpq handed over to us;
        // its strings live as long as it does. We copy them and free it once.
        unsafe {
            let n = &*raw;
            let out = Notification {
                channel: owned_text(n.relname).unwrap_or_default(),
                be_pid: n.be_pid,
                extra: owned_text(n.extra).unwrap_or_default(),
            };
            pq_sys::PQfreemem(raw.cast());
            Some(out)
        }
    }

    /// A raw pointer for the cancel layer's `PQcancelCreate`/`PQgetCancel`,
    /// which copy what they need out of the connection.
    pub(super) fn as_ptr(&self) -> *mut pq_sys::PGconn {
        self.ptr()
    }

    /// `PQstatus == CONNECTION_BAD` and a message: for callers that want to
    /// know whether a failed call broke the connection.
    pub(crate) fn is_bad(&self) -> bool {
        // SAFETY: `self.raw` is live.
        unsafe { pq_sys::PQstatus(self.ptr()) == pq_sys::ConnStatusType::CONNECTION_BAD }
    }
}

/// The notice receiver: keeps the notice's fields in the connection's queue
/// while capture is on, else drops it. Never unwinds into libpq.
extern "C" fn receive_notice(arg: *mut std::ffi::c_void, res: *const pq_sys::PGresult) {
    if arg.is_null() || res.is_null() || !CAPTURE_NOTICES.load(Ordering::Acquire) {
        return;
    }
    let _ = std::panic::catch_unwind(|| {
        let field = |code: u8| {
            // SAFETY: `res` is the live notice PGresult libpq passes for the
            // duration of this call; the field is copied out at once.
            unsafe { owned_text(pq_sys::PQresultErrorField(res, c_int::from(code))) }
        };
        let notice = ServerNotice {
            sqlstate: field(pq_sys::PG_DIAG_SQLSTATE),
            message: field(pq_sys::PG_DIAG_MESSAGE_PRIMARY),
            detail: field(pq_sys::PG_DIAG_MESSAGE_DETAIL),
            hint: field(pq_sys::PG_DIAG_MESSAGE_HINT),
            context: field(pq_sys::PG_DIAG_CONTEXT),
        };
        // SAFETY: `arg` is the queue registered in `receive_notices`, alive
        // as long as the PGconn that calls us.
        let queue = unsafe { &*arg.cast::<Mutex<Vec<ServerNotice>>>() };
        queue.lock().push(notice);
    });
}

impl Drop for Conn {
    fn drop(&mut self) {
        // SAFETY: `self.raw` came from PQconnectdb/PQconnectStart, is owned
        // only by `self`, and is finished exactly once, here.
        unsafe { pq_sys::PQfinish(self.ptr()) }
    }
}
