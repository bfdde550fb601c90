//! `Conn`: the one owner of a `PGconn`.

use std::ffi::CStr;
use std::os::raw::c_int;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;

use super::owned_text;
use super::result::{PgResult, ResultKind};
use super::wait::{Deadline, Interest, WaitOutcome, wait_socket};

/// Why a wait inside a libpq call sequence ended early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// The caller's deadline passed.
    TimedOut,
    /// Another thread closed or reset the connection (its socket was shut
    /// down to wake us): the caller reports that, not libpq's text.
    Interrupted,
}

/// Asked after every wait: has another thread closed or reset the
/// connection meanwhile?
pub(crate) type Interrupted<'a> = &'a dyn Fn() -> bool;

/// The next thing [`Conn::next_result`] read.
pub(crate) enum Fetched {
    /// A result of the query in progress.
    Result(PgResult),
    /// A COPY began; it was ended at once (the data discarded, or the copy
    /// aborted) together with its final result, since the dblink functions
    /// cannot drive it.
    CopyRefused,
    /// The query is finished (`PQgetResult` returned NULL).
    Done,
}

/// How many refused sends of one query's cycle (each adds `another command
/// is already in progress` to libpq's message, as dblink shows it) libpq is
/// asked about; later ones leave the message as it is, so it stays bounded
/// (by these lines plus the errors of the query's own statements).
const MAX_REFUSAL_LINES: u32 = 8;

/// libpq's line for a send refused while a query is in progress.
const REFUSAL: &str = "another command is already in progress\n";

/// How many reads [`Conn::consume_input_all`] makes at most: the bytes
/// OpenSSL holds after a read are at most one TLS record (16 kB), and every
/// read takes at least 8 kB of them; more reads are needed only while the
/// server keeps sending (the socket is then readable anyway), and the bound
/// keeps such a stream from growing libpq's buffer unparsed.
const MAX_TLS_DRAIN_READS: usize = 16;

/// The text a COPY aborted by pgdblink reports to the server.
const COPY_ABORT: &std::ffi::CStr = c"COPY is not supported here";

/// A libpq connection. `Drop` calls `PQfinish`; nothing else does.
pub(crate) struct Conn {
    raw: NonNull<pq_sys::PGconn>,
    /// The process (fork generation) that opened it: in another process
    /// the connection is never used, and closing it sends nothing.
    process: u64,
    /// Sends libpq refused since the last one it accepted, because a query
    /// was still in progress: past [`MAX_REFUSAL_LINES`], such a send is
    /// answered here, since libpq appends the same line to its message on
    /// every refusal.
    refusals: u32,
    /// libpq's message length when the last refusal was answered here
    /// (while it stays so, [`Conn::error_message`] ends with the refusal).
    capped_at: Option<usize>,
    /// How long a reconnect ([`Conn::reset_start`]) may take: the bound
    /// its connection string's connect_timeout set (`None`: none).
    pub(crate) reconnect_bound: Option<std::time::Duration>,
    /// Server notices collected by the notice receiver (only while capture
    /// is on); boxed so that its address, given to libpq, never moves. It is
    /// dropped after `PQfinish` (fields drop after `Drop::drop`).
    notices: Box<Mutex<Vec<ServerNotice>>>,
}

/// A notice or warning the server sent (through `PQsetNoticeReceiver`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServerNotice {
    /// NOTICE, WARNING, ... (not localized); ERROR or FATAL for an error
    /// the server sent while no query was in progress (e.g. the FATAL of a
    /// terminated backend), which libpq passes to the notice receiver.
    pub(crate) severity: Option<String>,
    pub(crate) sqlstate: Option<String>,
    pub(crate) message: Option<String>,
    pub(crate) detail: Option<String>,
    pub(crate) hint: Option<String>,
    pub(crate) context: Option<String>,
}

/// Whether notice receivers keep server notices (a handler is set).
static CAPTURE_NOTICES: AtomicBool = AtomicBool::new(false);

/// Whether server notices are being kept (a handler is set).
#[inline]
pub(crate) fn notices_captured() -> bool {
    CAPTURE_NOTICES.load(Ordering::Acquire)
}

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
    /// Takes ownership of a PGconn; `None` for NULL.
    ///
    /// # Safety
    /// `raw` must be NULL or a PGconn from `PQconnectdbParams` /
    /// `PQconnectStartParams` that nothing else uses or finishes.
    unsafe fn from_raw(raw: *mut pq_sys::PGconn) -> Option<Conn> {
        let mut conn = NonNull::new(raw).map(|raw| Conn {
            raw,
            process: super::process::generation(),
            reconnect_bound: None,
            refusals: 0,
            capped_at: None,
            notices: Box::new(Mutex::new(Vec::new())),
        })?;
        conn.receive_notices();
        Some(conn)
    }

    fn ptr(&self) -> *mut pq_sys::PGconn {
        self.raw.as_ptr()
    }

    /// Opens a connection and waits for it (`PQconnectdbParams`, which
    /// honours connect_timeout and multiple hosts). `None` only when libpq
    /// could not allocate the handle. Check [`Conn::is_ok`] for the outcome.
    pub(crate) fn connectdb(params: &super::ConnParams) -> Option<Conn> {
        let (keys, values) = params.arrays();
        // SAFETY: NULL-terminated arrays of valid C strings that outlive the
        // call; expand_dbname 0: the values are taken as they are. The new
        // PGconn (or NULL) is handed to `from_raw`, its only owner.
        unsafe { Conn::from_raw(pq_sys::PQconnectdbParams(keys.as_ptr(), values.as_ptr(), 0)) }
    }

    /// Starts a non-blocking connect (`PQconnectStartParams`) with the
    /// given keyword/value pairs; drive it with [`Conn::connect_poll`] (or
    /// [`Conn::establish`]). `None` only when libpq could not allocate it.
    pub(crate) fn connect_start(params: &super::ConnParams) -> Option<Conn> {
        let (keys, values) = params.arrays();
        // SAFETY: `keys` and `values` are NULL-terminated arrays of valid C
        // strings that outlive the call (libpq copies what it keeps);
        // expand_dbname 0: the values are taken as they are. The new PGconn
        // (or NULL) is handed to `from_raw`, its only owner.
        unsafe {
            Conn::from_raw(pq_sys::PQconnectStartParams(
                keys.as_ptr(),
                values.as_ptr(),
                0,
            ))
        }
    }

    /// Whether this connection was opened by another process (it was
    /// inherited through fork).
    pub(crate) fn is_foreign(&self) -> bool {
        self.process != super::process::generation()
    }

    /// Drives a connect (or reset) begun with [`Conn::connect_start`] or
    /// [`Conn::reset_start`] to its end, waiting on the socket with poll(2)
    /// until `deadline`. `Ok(true)` connected, `Ok(false)` failed (see
    /// [`Conn::error_message`]). Then switches to non-blocking mode.
    /// `watch` is shown each socket before it is waited on (the registry
    /// keeps a duplicate to wake the wait); `interrupted` is asked after
    /// each wait.
    pub(crate) fn establish(
        &mut self,
        resetting: bool,
        deadline: Deadline,
        interrupted: Interrupted,
        watch: &mut dyn FnMut(Option<std::os::fd::OwnedFd>),
    ) -> Result<bool, Stop> {
        // Just after the start, libpq says to act as if the poll had
        // returned WRITING.
        let mut status = PollStatus::Writing;
        loop {
            let interest = match status {
                PollStatus::Ok => return Ok(self.set_nonblocking()),
                PollStatus::Failed => return Ok(false),
                PollStatus::Reading => Interest::Read,
                PollStatus::Writing => Interest::Write,
            };
            let fd = self.socket();
            watch(self.dup_socket());
            // Bytes OpenSSL already holds are read without a wait.
            let buffered = interest == Interest::Read && self.tls_pending();
            if fd >= 0 && !buffered && wait_socket(fd, interest, deadline) == WaitOutcome::TimedOut
            {
                return Err(Stop::TimedOut);
            }
            if interrupted() {
                return Err(Stop::Interrupted);
            }
            status = if resetting {
                self.reset_poll()
            } else {
                self.connect_poll()
            };
        }
    }

    /// `PQresetStart`: closes the socket and begins reconnecting with the
    /// same parameters; false when it could not begin.
    pub(crate) fn reset_start(&mut self) -> bool {
        // SAFETY: `self.raw` is a live PGconn owned exclusively by `self`.
        unsafe { pq_sys::PQresetStart(self.ptr()) == 1 }
    }

    /// One step of a reset begun by [`Conn::reset_start`] (`PQresetPoll`).
    pub(crate) fn reset_poll(&mut self) -> PollStatus {
        // SAFETY: `self.raw` is a live PGconn owned exclusively by `self`.
        poll_status(unsafe { pq_sys::PQresetPoll(self.ptr()) })
    }

    /// `PQsetnonblocking(1)`: sends never block inside libpq; pgdblink
    /// flushes with its own bounded, wakeable waits. True on success.
    pub(crate) fn set_nonblocking(&mut self) -> bool {
        // SAFETY: `self.raw` is a live PGconn owned exclusively by `self`.
        unsafe { pq_sys::PQsetnonblocking(self.ptr(), 1) == 0 }
    }

    /// One step of a non-blocking connect (`PQconnectPoll`).
    pub(crate) fn connect_poll(&mut self) -> PollStatus {
        // SAFETY: `self.raw` is a live PGconn owned exclusively by `self`.
        poll_status(unsafe { pq_sys::PQconnectPoll(self.ptr()) })
    }

    /// Whether the connection is usable (`PQstatus == CONNECTION_OK`).
    pub(crate) fn is_ok(&self) -> bool {
        // SAFETY: `self.raw` is a live PGconn.
        unsafe { pq_sys::PQstatus(self.ptr()) == pq_sys::ConnStatusType::CONNECTION_OK }
    }

    /// `PQerrorMessage`, as libpq has it (trailing newline included).
    /// After a refusal answered by pgdblink itself (see [`Conn::sending`]),
    /// the message ends with that refusal, as libpq's would, while libpq's
    /// own text stays as it was.
    pub(crate) fn error_message(&self) -> String {
        // SAFETY: `self.raw` is live; PQerrorMessage returns a string owned by
        // the PGconn, copied out before `self` can change.
        let mut msg = unsafe { owned_text(pq_sys::PQerrorMessage(self.ptr())) }.unwrap_or_default();
        if self.capped_at == Some(msg.len()) && !msg.ends_with(REFUSAL) {
            msg.push_str(REFUSAL);
        }
        msg
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

    /// `PQsendQuery`; true when queued (non-blocking mode: follow with
    /// [`Conn::flush`]).
    pub(crate) fn send_query(&mut self, sql: &CStr) -> bool {
        self.sending(|conn| {
            // SAFETY: `conn.raw` is live and exclusively ours; `sql` is a
            // valid C string for the call (libpq copies it).
            unsafe { pq_sys::PQsendQuery(conn.ptr(), sql.as_ptr()) == 1 }
        })
    }

    /// Runs one libpq send, unless it would be refused once more while the
    /// same query is in progress, [`MAX_REFUSAL_LINES`] refusals later: then
    /// it answers false itself, so libpq's message stays as it was instead
    /// of growing by a line per refusal.
    fn sending(&mut self, send: impl FnOnce(&mut Conn) -> bool) -> bool {
        let busy = self.transaction_status() == TxStatus::Active;
        if busy && self.refusals >= MAX_REFUSAL_LINES {
            self.capped_at = None;
            self.capped_at = Some(self.error_message().len());
            return false;
        }
        self.capped_at = None;
        let sent = send(self);
        if sent {
            self.refusals = 0;
        } else if busy {
            self.refusals += 1;
        }
        sent
    }

    /// `PQsendQueryParams` with text parameters (NULL for SQL NULL), letting
    /// the server infer their types; true when queued (follow with
    /// [`Conn::flush`]).
    pub(crate) fn send_query_params(&mut self, sql: &CStr, params: &super::Params) -> bool {
        let Ok(n) = c_int::try_from(params.values.len()) else {
            return false;
        };
        let values = &params.values;
        self.sending(|conn| {
            // SAFETY: `conn.raw` is live and exclusively ours; `sql` and every
            // non-NULL entry of `values` are valid C strings that outlive the
            // call; NULL types/lengths/formats mean "infer, text, text".
            unsafe {
                pq_sys::PQsendQueryParams(
                    conn.ptr(),
                    sql.as_ptr(),
                    n,
                    std::ptr::null(),
                    values.as_ptr(),
                    std::ptr::null(),
                    std::ptr::null(),
                    0,
                ) == 1
            }
        })
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

    /// Whether OpenSSL holds bytes of this connection that libpq has not
    /// read yet, which poll(2) on the socket cannot see (see `tls.rs`):
    /// then read (`PQconsumeInput`) instead of waiting. Always false with
    /// libpq 18 after a read, and without TLS.
    #[inline]
    pub(crate) fn tls_pending(&self) -> bool {
        // SAFETY: `self.raw` is live; no other thread uses it while we hold
        // `&self` (every libpq call on it goes through this Conn).
        unsafe { super::tls::ssl_pending(self.ptr()) }
    }

    /// [`Conn::is_busy`], after reading what OpenSSL already holds (see
    /// [`Conn::tls_pending`]): true only when what is missing has not
    /// arrived, so that waiting on the socket is right.
    #[inline]
    pub(crate) fn is_busy_unbuffered(&mut self) -> bool {
        // Each read takes buffered bytes out of OpenSSL, and PQisBusy parses
        // them: this ends when a result is complete or OpenSSL is empty.
        while self.is_busy() {
            if !self.tls_pending() {
                return true;
            }
            if !self.consume_input() {
                // Reading failed: not a wait, PQgetResult reports the error.
                return false;
            }
        }
        false
    }

    /// [`Conn::consume_input`], then again while OpenSSL still holds bytes
    /// of the connection (at most a few times: each read takes up to a
    /// record's worth out of OpenSSL, and one more read from the socket), so
    /// that nothing received stays out of libpq's sight. False when reading
    /// failed.
    pub(crate) fn consume_input_all(&mut self) -> bool {
        for _ in 0..MAX_TLS_DRAIN_READS {
            if !self.consume_input() {
                return false;
            }
            if !self.tls_pending() {
                break;
            }
        }
        true
    }

    /// `PQsocket`: the connection's socket, -1 when there is none.
    pub(crate) fn socket(&self) -> c_int {
        // SAFETY: `self.raw` is live.
        unsafe { pq_sys::PQsocket(self.ptr()) }
    }

    /// A descriptor of our own for the connection's socket (see
    /// `wait::dup_socket`); `None` when it has none.
    pub(crate) fn dup_socket(&self) -> Option<std::os::fd::OwnedFd> {
        // SAFETY: libpq's socket stays open while we hold `&self`: only calls
        // on this Conn (which need `&mut self`) can close it.
        unsafe { super::wait::dup_socket(self.socket()) }
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

    /// Sends what libpq has queued (`PQflush` in non-blocking mode),
    /// waiting with poll(2) until `deadline`; reads input meanwhile when the
    /// socket turns readable, as libpq requires. `Ok(false)` when sending
    /// failed (see [`Conn::error_message`]).
    pub(crate) fn flush(
        &mut self,
        deadline: Deadline,
        interrupted: Interrupted,
    ) -> Result<bool, Stop> {
        loop {
            // SAFETY: `self.raw` is live and exclusively ours.
            match unsafe { pq_sys::PQflush(self.ptr()) } {
                0 => return Ok(true),
                1 => {}
                _ => return Ok(false),
            }
            let fd = self.socket();
            if fd < 0 {
                return Ok(false);
            }
            if wait_socket(fd, Interest::Either, deadline) == WaitOutcome::TimedOut {
                return Err(Stop::TimedOut);
            }
            if interrupted() {
                return Err(Stop::Interrupted);
            }
            if !self.consume_input() {
                return Ok(false);
            }
        }
    }

    /// Waits (poll(2), until `deadline`) until [`Conn::get_result_now`]
    /// would not block.
    #[inline(always)]
    fn wait_ready(&mut self, deadline: Deadline, interrupted: Interrupted) -> Result<(), Stop> {
        // Busy with nothing left in OpenSSL: only then is the socket to wait on.
        while self.is_busy_unbuffered() {
            let fd = self.socket();
            if fd < 0 {
                break; // PQgetResult reports the lost connection without blocking.
            }
            if wait_socket(fd, Interest::Read, deadline) == WaitOutcome::TimedOut {
                return Err(Stop::TimedOut);
            }
            if interrupted() {
                return Err(Stop::Interrupted);
            }
            if !self.consume_input() {
                break; // the socket is closed now: PQgetResult will not block.
            }
        }
        if interrupted() {
            return Err(Stop::Interrupted);
        }
        Ok(())
    }

    /// The next result of the query in progress, waiting with poll(2) until
    /// the deadline. A COPY is ended here (see [`Fetched::CopyRefused`]).
    pub(crate) fn next_result(
        &mut self,
        deadline: Deadline,
        interrupted: Interrupted,
    ) -> Result<Fetched, Stop> {
        self.wait_ready(deadline, interrupted)?;
        let Some(res) = self.get_result_now() else {
            return Ok(Fetched::Done);
        };
        let Some(copy) = res.copy_direction() else {
            return Ok(Fetched::Result(res));
        };
        drop(res);
        self.end_copy(copy, deadline, interrupted)?;
        // The COPY's own final result (its row count, or the abort's error).
        self.wait_ready(deadline, interrupted)?;
        drop(self.get_result_now());
        Ok(Fetched::CopyRefused)
    }

    /// Ends a COPY that the dblink functions cannot drive: COPY TO data is
    /// read and discarded (memory stays bounded), COPY FROM is aborted.
    fn end_copy(
        &mut self,
        copy: ResultKind,
        deadline: Deadline,
        interrupted: Interrupted,
    ) -> Result<(), Stop> {
        if copy != ResultKind::CopyOut {
            // SAFETY: `self.raw` is live and exclusively ours; the message is
            // a valid C string. In non-blocking mode this only queues.
            if unsafe { pq_sys::PQputCopyEnd(self.ptr(), COPY_ABORT.as_ptr()) } == -1 {
                return Ok(()); // broken: the next PQgetResult reports it
            }
            if !self.flush(deadline, interrupted)? {
                return Ok(());
            }
            if copy == ResultKind::CopyIn {
                return Ok(());
            }
        }
        loop {
            let mut buf: *mut std::os::raw::c_char = std::ptr::null_mut();
            // SAFETY: `self.raw` is live; async mode (1) never blocks; `buf`
            // receives NULL or a libpq allocation that we free at once.
            let n = unsafe { pq_sys::PQgetCopyData(self.ptr(), &mut buf, 1) };
            if !buf.is_null() {
                // SAFETY: allocated by libpq for us, freed once here.
                unsafe { pq_sys::PQfreemem(buf.cast()) };
            }
            match n {
                0 => {
                    let fd = self.socket();
                    if fd < 0 {
                        return Ok(());
                    }
                    // Bytes OpenSSL already holds are read without a wait.
                    if !self.tls_pending()
                        && wait_socket(fd, Interest::Read, deadline) == WaitOutcome::TimedOut
                    {
                        return Err(Stop::TimedOut);
                    }
                    if interrupted() {
                        return Err(Stop::Interrupted);
                    }
                    if !self.consume_input() {
                        return Ok(());
                    }
                }
                n if n > 0 => {}
                _ => return Ok(()), // -1: the copy is done; -2: broken
            }
        }
    }

    /// dblink's `libpqsrv_exec`: sends `sql` and collects every result,
    /// keeping the last one (as `PQexec` does). `Ok(None)` when the query
    /// could not be sent, or no result came (the connection failed); see
    /// [`Conn::error_message`].
    pub(crate) fn exec_last(&mut self, sql: &CStr, interrupted: Interrupted) -> Result<Last, Stop> {
        if !self.send_query(sql) || !self.flush(None, interrupted)? {
            return Ok(Last::None);
        }
        self.last_result(interrupted)
    }

    /// Collects the remaining results of the query in progress, keeping the
    /// last; stops early on a broken connection, as dblink does.
    pub(crate) fn last_result(&mut self, interrupted: Interrupted) -> Result<Last, Stop> {
        let mut last = Last::None;
        loop {
            match self.next_result(None, interrupted)? {
                Fetched::Done => return Ok(last),
                Fetched::CopyRefused => last = Last::CopyRefused,
                Fetched::Result(res) => last = Last::Result(res),
            }
            if self.is_bad() {
                return Ok(last);
            }
        }
    }

    /// Reads and discards every pending result of the query in progress.
    pub(crate) fn drain(&mut self, interrupted: Interrupted) -> Result<(), Stop> {
        while !matches!(self.next_result(None, interrupted)?, Fetched::Done) {
            if self.is_bad() {
                break;
            }
        }
        Ok(())
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

/// The last result of a query (see [`Conn::last_result`]).
pub(crate) enum Last {
    /// No result: not sent, or the connection failed.
    None,
    /// The query's last result.
    Result(PgResult),
    /// Its last statement was a COPY, which was ended (see
    /// [`Fetched::CopyRefused`]).
    CopyRefused,
}

impl Last {
    /// The result, if the last thing was one.
    pub(crate) fn result(&self) -> Option<&PgResult> {
        match self {
            Last::Result(r) => Some(r),
            _ => None,
        }
    }
}

fn poll_status(status: pq_sys::PostgresPollingStatusType) -> PollStatus {
    use pq_sys::PostgresPollingStatusType as P;
    match status {
        P::PGRES_POLLING_READING => PollStatus::Reading,
        P::PGRES_POLLING_WRITING => PollStatus::Writing,
        P::PGRES_POLLING_OK => PollStatus::Ok,
        _ => PollStatus::Failed,
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
            severity: field(pq_sys::PG_DIAG_SEVERITY_NONLOCALIZED)
                .or_else(|| field(pq_sys::PG_DIAG_SEVERITY)),
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
        if self.is_foreign() && !super::process::detach_socket(self.socket()) {
            // Inherited through fork: the socket is shared with the process
            // that opened it. Our descriptor is pointed at a dead socket
            // first, so that PQfinish's Terminate message (and a TLS close)
            // go nowhere; when that is impossible, the handle is leaked
            // rather than let it write on the parent's connection.
            return;
        }
        // SAFETY: `self.raw` came from PQconnectStartParams, is owned only by
        // `self`, and is finished exactly once, here.
        unsafe { pq_sys::PQfinish(self.ptr()) }
    }
}

/// How [`Conn::start_copy`] began.
pub(crate) enum CopyBegun {
    /// The statement was not sent (see [`Conn::error_message`]).
    NotSent,
    /// A COPY TO STDOUT is running: read it with [`Conn::copy_read`].
    Out,
    /// A COPY FROM STDIN is running: feed it with [`Conn::copy_write`].
    In,
    /// No COPY of either direction: the statement's first result (an
    /// error, or a statement that is not a COPY; `None` when the connection
    /// failed). The statement is finished (its results drained); a COPY
    /// BOTH was ended as [`Conn::next_result`] ends it.
    Other(Option<PgResult>),
}

/// What one [`Conn::copy_read`] gave.
pub(crate) enum CopyChunk {
    /// One or more whole data rows (as the server sent them).
    Data(Vec<u8>),
    /// The COPY is over: its final result (`COPY n`, or the error that
    /// ended it; `None` when the connection failed), the query drained.
    End(Option<PgResult>),
}

/// How many bytes one [`Conn::copy_read`] gathers at most (more when a
/// single row is larger): fewer calls, memory still bounded.
const COPY_READ_BATCH: usize = 64 * 1024;

/// The largest piece handed to one `PQputCopyData` (its length is an int).
const COPY_WRITE_PIECE: usize = 1 << 30;

// COPY streaming and pipeline mode (src/api/copy.rs, src/api/pipeline.rs).
impl Conn {
    /// `PQbackendPID`: the server process of the current session (a reset
    /// gives a new one).
    pub(crate) fn backend_pid(&self) -> i32 {
        // SAFETY: `self.raw` is live.
        unsafe { pq_sys::PQbackendPID(self.ptr()) }
    }

    /// Sends one statement (extended protocol: a single statement only),
    /// and reads its first result to see whether a COPY began.
    pub(crate) fn start_copy(
        &mut self,
        sql: &CStr,
        interrupted: Interrupted,
    ) -> Result<CopyBegun, Stop> {
        if !self.send_query_params(sql, &super::Params::none()) || !self.flush(None, interrupted)? {
            return Ok(CopyBegun::NotSent);
        }
        self.wait_ready(None, interrupted)?;
        let Some(res) = self.get_result_now() else {
            return Ok(CopyBegun::Other(None));
        };
        match res.copy_direction() {
            Some(ResultKind::CopyOut) => Ok(CopyBegun::Out),
            Some(ResultKind::CopyIn) => Ok(CopyBegun::In),
            Some(other) => {
                drop(res);
                self.end_copy(other, None, interrupted)?;
                self.drain(interrupted)?;
                Ok(CopyBegun::Other(None))
            }
            None => {
                self.drain(interrupted)?;
                Ok(CopyBegun::Other(Some(res)))
            }
        }
    }

    /// Reads the next rows of a COPY TO STDOUT (`PQgetCopyData` in async
    /// mode, waiting with poll(2) as long as it takes, woken by a close or
    /// reset): up to [`COPY_READ_BATCH`] bytes of whole rows, or the end.
    pub(crate) fn copy_read(&mut self, interrupted: Interrupted) -> Result<CopyChunk, Stop> {
        let mut out: Vec<u8> = Vec::new();
        loop {
            let mut buf: *mut std::os::raw::c_char = std::ptr::null_mut();
            // SAFETY: `self.raw` is live and exclusively ours; async mode (1)
            // never blocks; `buf` receives NULL or a libpq allocation of `n`
            // bytes, copied and freed once below.
            let n = unsafe { pq_sys::PQgetCopyData(self.ptr(), &mut buf, 1) };
            if !buf.is_null() {
                if let Ok(len) = usize::try_from(n) {
                    // SAFETY: libpq returned `n` > 0 readable bytes at `buf`.
                    out.extend_from_slice(unsafe {
                        std::slice::from_raw_parts(buf.cast::<u8>(), len)
                    });
                }
                // SAFETY: allocated by libpq for us, freed once here.
                unsafe { pq_sys::PQfreemem(buf.cast()) };
            }
            match n {
                n if n > 0 => {
                    if out.len() >= COPY_READ_BATCH {
                        return Ok(CopyChunk::Data(out));
                    }
                }
                0 if !out.is_empty() => return Ok(CopyChunk::Data(out)),
                0 => {
                    let fd = self.socket();
                    // Bytes OpenSSL already holds are read without a wait.
                    if fd >= 0 && !self.tls_pending() {
                        wait_socket(fd, Interest::Read, None);
                    }
                    if interrupted() {
                        return Err(Stop::Interrupted);
                    }
                    if fd < 0 || !self.consume_input() {
                        // The connection failed: PQgetCopyData would keep
                        // saying 0; PQgetResult says why, without blocking.
                        let res = self.get_result_now();
                        if res.is_some() {
                            self.drain(interrupted)?;
                        }
                        return Ok(CopyChunk::End(res));
                    }
                }
                _ if !out.is_empty() => {
                    // The end (or a failure) after some rows: hand the rows
                    // over first; the next call sees the end again.
                    return Ok(CopyChunk::Data(out));
                }
                _ => {
                    // -1: done, -2: failed; either way the final result (or
                    // NULL on a broken connection) follows.
                    self.wait_ready(None, interrupted)?;
                    let res = self.get_result_now();
                    if res.is_some() {
                        self.drain(interrupted)?;
                    }
                    return Ok(CopyChunk::End(res));
                }
            }
        }
    }

    /// Sends data to a COPY FROM STDIN (`PQputCopyData`, then a flush that
    /// waits as long as it takes, woken by a close or reset, so that memory
    /// stays bounded). `Ok(false)` when sending failed (see
    /// [`Conn::error_message`]).
    pub(crate) fn copy_write(
        &mut self,
        data: &[u8],
        interrupted: Interrupted,
    ) -> Result<bool, Stop> {
        for piece in data.chunks(COPY_WRITE_PIECE) {
            let len = c_int::try_from(piece.len()).unwrap_or(c_int::MAX);
            loop {
                // SAFETY: `self.raw` is live and exclusively ours; `piece` is
                // `len` readable bytes for the call (libpq copies them).
                match unsafe { pq_sys::PQputCopyData(self.ptr(), piece.as_ptr().cast(), len) } {
                    1 => break,
                    0 => {
                        // No room in libpq's buffer: send what it holds first.
                        if !self.flush(None, interrupted)? {
                            return Ok(false);
                        }
                    }
                    _ => return Ok(false),
                }
            }
            if !self.flush(None, interrupted)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Ends a COPY FROM STDIN (`PQputCopyEnd`; `abort` is the reason of a
    /// failed copy, NULL finishes it), and returns its final result (`None`
    /// when the connection failed), the query drained.
    pub(crate) fn copy_finish(
        &mut self,
        abort: Option<&CStr>,
        interrupted: Interrupted,
    ) -> Result<Option<PgResult>, Stop> {
        let reason = abort.map_or(std::ptr::null(), CStr::as_ptr);
        loop {
            // SAFETY: `self.raw` is live and exclusively ours; `reason` is
            // NULL or a valid C string for the call.
            match unsafe { pq_sys::PQputCopyEnd(self.ptr(), reason) } {
                1 => break,
                0 => {
                    if !self.flush(None, interrupted)? {
                        break;
                    }
                }
                _ => break,
            }
        }
        self.flush(None, interrupted)?;
        self.wait_ready(None, interrupted)?;
        let res = self.get_result_now();
        if res.is_some() {
            self.drain(interrupted)?;
        }
        Ok(res)
    }

    /// `PQsetSingleRowMode` (right after a send); true when accepted.
    pub(crate) fn single_row_mode(&mut self) -> bool {
        // SAFETY: `self.raw` is live and exclusively ours.
        unsafe { pq_sys::PQsetSingleRowMode(self.ptr()) == 1 }
    }

    /// `PQenterPipelineMode`; true when the connection is now in pipeline
    /// mode (false: not idle; see [`Conn::error_message`]).
    pub(crate) fn enter_pipeline(&mut self) -> bool {
        // SAFETY: `self.raw` is live and exclusively ours.
        unsafe { pq_sys::PQenterPipelineMode(self.ptr()) == 1 }
    }

    /// `PQexitPipelineMode`; true when the connection is out of pipeline
    /// mode (false: results are still to be read).
    pub(crate) fn exit_pipeline(&mut self) -> bool {
        // SAFETY: `self.raw` is live and exclusively ours.
        unsafe { pq_sys::PQexitPipelineMode(self.ptr()) == 1 }
    }

    /// `PQpipelineSync` (queues a sync point; follow with [`Conn::flush`]);
    /// true when queued.
    pub(crate) fn pipeline_sync(&mut self) -> bool {
        // SAFETY: `self.raw` is live and exclusively ours.
        unsafe { pq_sys::PQpipelineSync(self.ptr()) == 1 }
    }

    /// Whether the connection is in pipeline mode (`PQpipelineStatus`).
    pub(crate) fn in_pipeline(&self) -> bool {
        // SAFETY: `self.raw` is live.
        unsafe { pq_sys::PQpipelineStatus(self.ptr()) != pq_sys::PGpipelineStatus::PQ_PIPELINE_OFF }
    }

    /// The next result of a pipeline (waiting as long as it takes, woken by
    /// a close or reset); `None` is the end of one statement's results.
    pub(crate) fn pipeline_result(
        &mut self,
        interrupted: Interrupted,
    ) -> Result<Option<PgResult>, Stop> {
        self.wait_ready(None, interrupted)?;
        Ok(self.get_result_now())
    }
}
