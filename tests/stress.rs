//! Concurrency stress: 16 threads call every public function of the named
//! connection API, picked at random, on 8 shared connection names for
//! `PGDBLINK_STRESS_SECS` seconds (default 5; the soak, `scripts/soak.sh`,
//! uses 60, and `PGDBLINK_STRESS_SECS=600 scripts/soak.sh` ten minutes), with
//! a watchdog that aborts the process with a report of what every thread was
//! doing when no operation completes for 30 s or the run exceeds its duration
//! + 60 s.
//!
//! The operation sequences come from a seeded xorshift PRNG: the seed is
//! printed, and `PGDBLINK_STRESS_SEED=<seed>` replays the same per-thread
//! sequences (the interleaving of the threads is up to the scheduler).
//! `PGDBLINK_STRESS_EXCLUDE=cancel_query,connect_start` leaves operations
//! out (by the labels of [`Op::label`]), to bisect a failure or a hang.
//!
//! # The operations
//!
//! Each operation is one call, or a short sequence, on a name picked at
//! random (several names for `connect_all`, `wait_any`, `wait_all`):
//! `connect`, `connect_u`, `connect_timeout` (1 ms, 20 ms or 2 s),
//! `connect_all` (1-3 names, no bound / 1 ms / 2 s), `connect_start` (then
//! up to 4 `connect_poll` steps with a poll(2) of at most 10 ms on the
//! descriptor it names: the name may stay connecting for another operation
//! to continue or disconnect), `connect_poll` (1-3 such steps), `disconnect`,
//! `disconnect_all` (at most once a second), `reset`, `send_query` (one or
//! two tagged statements, a short `pg_sleep`, or `select 1/0`),
//! `send_query_params`, `send_query_chunked` (three tagged rows in chunks of
//! 0-3), `is_busy`, `get_result`, `get_result_timeout` (1-30 ms),
//! `cancel_query`, `cancel_query_timeout` (1 ms, 20 ms or 200 ms),
//! `error_message`, `get_notify`, `wait_any` / `wait_all` (2-4 names, 1-30
//! ms), `socket`, `consume_input`, `dblink` / `dblink_params` (a tagged row
//! or a division by zero, on the name or, one time in ten, on a temporary
//! connection), `exec` (`set`, `listen`, `notify`, `rollback`, or `select 1`
//! which exec refuses), `open` + `fetch` + `close` of a cursor of three
//! tagged rows, and `get_connections`. Connect operations use the unix
//! socket, TCP, or (one time in ten) port 1 of 127.0.0.1, where nothing
//! listens, so that 08001 is exercised too.
//!
//! # What is checked (the thread-safety model of issue 10)
//!
//! * No deadlock: the watchdog. Calls with a bound return within it (plus
//!   [`SLACK`] for a loaded machine): `get_result_timeout`,
//!   `cancel_query_timeout`, `connect_timeout`, `connect_all(Some(t))`,
//!   `wait_any`/`wait_all` with a timeout (all of them bound their lock
//!   waits too), every `connect_poll` call (under 1 s: it never blocks) and
//!   `disconnect` (under 2 s: it wakes the calls in progress instead of
//!   waiting for them indefinitely).
//! * Every error is one the call may return, with dblink's texts: 08003
//!   `connection "N" not available`, or `connection "N" is still connecting:
//!   call connect_poll until it is ready` from a call that uses a name whose
//!   `connect_start` has not completed; 42710 `duplicate connection name`;
//!   08001 `could not establish connection` from the connect functions (a
//!   dead port; a call's own timeout, DETAIL `timed out after N ms`) and from
//!   `dblink`/`exec` on a name that is not registered (taken for a
//!   connection string); 57014 `timed out after N ms` (get_result_timeout)
//!   and `canceling statement due to user request` (a cancel); 22012 from
//!   `1/0`; 25P02 (a transaction `open` began was aborted; the test then
//!   rolls it back); 34000 (a cursor another thread's commit, rollback or
//!   reset ended); 08006 `another command is already in progress` (exec,
//!   cursors), any 08006 from a call that overlapped another thread's cancel
//!   of its name, any 08xxx from a call that overlapped a `reset` of its
//!   name (the reset wakes it); XX000 `could not send query: ...` (dblink on
//!   a busy name), `begin error`/`commit error` (a cancel hit dblink's own
//!   BEGIN/COMMIT); 2F003 (exec of a query). 0A000 and 22023 never appear.
//!   A cancel answers 'OK' (`cancel request timed out` too with a bound;
//!   `connection not open` when a disconnect overlapped it).
//! * The test knows exactly when a name is connecting (the calls that can
//!   change that run under its lifecycle lock): while it is, every call that
//!   uses the connection fails with `still connecting` (socket() answers),
//!   `reset` too (the name stays connecting), `disconnect` succeeds,
//!   `get_connections` lists the name, and no `connect*` succeeds; while it
//!   is not, nothing says `still connecting`.
//! * Result ownership: every row carries a tag (`n<name>t<thread>s<seq>p<part>`)
//!   that the test recorded, before the send, for that name — and not yet
//!   read, and not orphaned by a `disconnect`, `disconnect_all` or `reset`
//!   that completed before the reading call started (a reader that started
//!   before may still get it). `dblink`, `dblink_params` and `fetch` return
//!   exactly their own rows. A send that returned false comes with the
//!   NOTICE `could not send query: ... another command is already in
//!   progress`, under 1 KiB, as `error_message` is. A remote error with
//!   `fail_on_error` false comes with exactly one NOTICE, that error.
//! * No connection breaks (except across a `reset`); at the end, after
//!   disconnecting the 8 names, `get_connections` lists none of them and no
//!   file descriptor is left open; every public function was called (runs of
//!   at least 5 s).

mod support;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write as _;
use std::os::raw::c_int;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, mpsc};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pgdblink::{ConnectProgress, DblinkResult, Error, Status};
use support::{shared, unique_name};

const THREADS: usize = 16;
const NAMES: usize = 8;
/// No operation completed for this long: a deadlock (or a hang).
const STALL_LIMIT: Duration = Duration::from_secs(30);
/// The run may exceed its duration by this much.
const OVERRUN_LIMIT: Duration = Duration::from_secs(60);
/// What a bounded call may take beyond its bound before it counts as
/// unbounded: 16 threads share 2 cores here.
const SLACK: Duration = Duration::from_secs(5);
/// connect_poll never blocks: each call returns well under this.
const CONNECT_POLL_BOUND: Duration = Duration::from_secs(1);
/// disconnect wakes the calls in progress on the name and returns promptly.
const DISCONNECT_BOUND: Duration = Duration::from_secs(2);
/// disconnect_all at most this often (it orphans every name's results).
const DISCONNECT_ALL_EVERY: Duration = Duration::from_secs(1);
/// error_message and the NOTICE of a refused send stay under this.
const MESSAGE_BOUND: usize = 1024;
/// Runs at least this long must have called every public function.
const COVERAGE_AFTER: Duration = Duration::from_secs(5);
/// libpq's reason for refusing a send while a query is unfinished.
const BUSY: &str = "another command is already in progress";
const CANCELED: &str = "canceling statement due to user request";
const ABORTED: &str =
    "current transaction is aborted, commands ignored until end of transaction block";
/// SQLSTATEs no call may return here: 0A000 (COPY, never used) and 22023
/// (a NUL byte or a bad argument, never used).
const FORBIDDEN: [&str; 2] = ["0A000", "22023"];
/// Examples kept per kind of failure.
const EXAMPLES: usize = 3;

/// Locks a mutex, ignoring poisoning (a panicking worker is reported on its own).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

// ---------------------------------------------------------------------------
// PRNG
// ---------------------------------------------------------------------------

/// xorshift64*: small, fast, and enough to pick operations.
struct Rng(u64);

impl Rng {
    /// A generator for `stream` (a thread index) derived from `seed` with
    /// splitmix64, so that the streams are unrelated.
    fn new(seed: u64, stream: u64) -> Rng {
        let mut z = seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        Rng(if z == 0 { 0x2545_F491_4F6C_DD1D } else { z })
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (n > 0; the modulo bias is irrelevant here).
    fn below(&mut self, n: u64) -> u64 {
        (self.next() >> 11) % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// `k` distinct name indexes.
    fn names(&mut self, k: usize) -> Vec<usize> {
        let mut all: Vec<usize> = (0..NAMES).collect();
        for i in 0..k {
            let j = i + self.below((NAMES - i) as u64) as usize;
            all.swap(i, j);
        }
        all.truncate(k);
        all
    }
}

fn seed_from_env() -> u64 {
    match std::env::var("PGDBLINK_STRESS_SEED") {
        Ok(s) if !s.trim().is_empty() => {
            let s = s.trim();
            let parsed = match s.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => s.parse(),
            };
            parsed.unwrap_or_else(|e| panic!("PGDBLINK_STRESS_SEED={s:?}: {e}"))
        }
        _ => {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .expect("the clock is after 1970");
            now.as_nanos() as u64 ^ u64::from(std::process::id()).rotate_left(32)
        }
    }
}

fn duration_from_env() -> Duration {
    match std::env::var("PGDBLINK_STRESS_SECS") {
        Ok(s) if !s.trim().is_empty() => {
            let secs: f64 = s
                .trim()
                .parse()
                .unwrap_or_else(|e| panic!("PGDBLINK_STRESS_SECS={s:?}: {e}"));
            Duration::from_secs_f64(secs)
        }
        _ => Duration::from_secs(5),
    }
}

/// The operations `PGDBLINK_STRESS_EXCLUDE` leaves out.
fn excluded_from_env() -> Vec<Op> {
    let Ok(list) = std::env::var("PGDBLINK_STRESS_EXCLUDE") else {
        return Vec::new();
    };
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            Op::ALL
                .into_iter()
                .find(|op| op.label() == s)
                .unwrap_or_else(|| {
                    let labels: Vec<&str> = Op::ALL.iter().map(|o| o.label()).collect();
                    panic!(
                        "PGDBLINK_STRESS_EXCLUDE: no operation {s:?}; the operations: {labels:?}"
                    )
                })
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Operations and statistics
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Connect,
    ConnectU,
    ConnectTimeout,
    ConnectAll,
    ConnectStart,
    ConnectPoll,
    Disconnect,
    DisconnectAll,
    Reset,
    SendQuery,
    SendQueryParams,
    SendQueryChunked,
    IsBusy,
    GetResult,
    GetResultTimeout,
    CancelQuery,
    CancelQueryTimeout,
    ErrorMessage,
    GetNotify,
    WaitAny,
    WaitAll,
    Socket,
    ConsumeInput,
    Dblink,
    DblinkParams,
    Exec,
    Cursor,
    GetConnections,
}

impl Op {
    const ALL: [Op; 28] = [
        Op::Connect,
        Op::ConnectU,
        Op::ConnectTimeout,
        Op::ConnectAll,
        Op::ConnectStart,
        Op::ConnectPoll,
        Op::Disconnect,
        Op::DisconnectAll,
        Op::Reset,
        Op::SendQuery,
        Op::SendQueryParams,
        Op::SendQueryChunked,
        Op::IsBusy,
        Op::GetResult,
        Op::GetResultTimeout,
        Op::CancelQuery,
        Op::CancelQueryTimeout,
        Op::ErrorMessage,
        Op::GetNotify,
        Op::WaitAny,
        Op::WaitAll,
        Op::Socket,
        Op::ConsumeInput,
        Op::Dblink,
        Op::DblinkParams,
        Op::Exec,
        Op::Cursor,
        Op::GetConnections,
    ];

    /// Relative frequency, in per mille. The query traffic (sends and
    /// reads) dominates, so that many tagged rows are checked; the connect
    /// family is expensive (a server process each) and kept near 13 %.
    fn weight(self) -> u64 {
        match self {
            Op::Connect => 28,
            Op::ConnectU => 10,
            Op::ConnectTimeout => 20,
            Op::ConnectAll => 10,
            Op::ConnectStart => 30,
            Op::ConnectPoll => 30,
            Op::Disconnect => 30,
            Op::DisconnectAll => 2,
            Op::Reset => 15,
            Op::SendQuery => 120,
            Op::SendQueryParams => 45,
            Op::SendQueryChunked => 40,
            Op::IsBusy => 45,
            Op::GetResult => 200,
            Op::GetResultTimeout => 60,
            Op::CancelQuery => 20,
            Op::CancelQueryTimeout => 20,
            Op::ErrorMessage => 30,
            Op::GetNotify => 20,
            Op::WaitAny => 25,
            Op::WaitAll => 20,
            Op::Socket => 15,
            Op::ConsumeInput => 20,
            Op::Dblink => 35,
            Op::DblinkParams => 20,
            Op::Exec => 30,
            Op::Cursor => 25,
            Op::GetConnections => 20,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Op::Connect => "connect",
            Op::ConnectU => "connect_u",
            Op::ConnectTimeout => "connect_timeout",
            Op::ConnectAll => "connect_all",
            Op::ConnectStart => "connect_start",
            Op::ConnectPoll => "connect_poll",
            Op::Disconnect => "disconnect",
            Op::DisconnectAll => "disconnect_all",
            Op::Reset => "reset",
            Op::SendQuery => "send_query",
            Op::SendQueryParams => "send_query_params",
            Op::SendQueryChunked => "send_query_chunked",
            Op::IsBusy => "is_busy",
            Op::GetResult => "get_result",
            Op::GetResultTimeout => "get_result_timeout",
            Op::CancelQuery => "cancel_query",
            Op::CancelQueryTimeout => "cancel_query_timeout",
            Op::ErrorMessage => "error_message",
            Op::GetNotify => "get_notify",
            Op::WaitAny => "wait_any",
            Op::WaitAll => "wait_all",
            Op::Socket => "socket",
            Op::ConsumeInput => "consume_input",
            Op::Dblink => "dblink",
            Op::DblinkParams => "dblink_params",
            Op::Exec => "exec",
            Op::Cursor => "open/fetch/close",
            Op::GetConnections => "get_connections",
        }
    }
}

/// Every public function of the named API, and the operation that calls it
/// (for the coverage check, which skips excluded operations).
const FUNCTIONS: [(&str, Op); 30] = [
    ("connect", Op::Connect),
    ("connect_u", Op::ConnectU),
    ("connect_timeout", Op::ConnectTimeout),
    ("connect_all", Op::ConnectAll),
    ("connect_start", Op::ConnectStart),
    ("connect_poll", Op::ConnectPoll),
    ("disconnect", Op::Disconnect),
    ("disconnect_all", Op::DisconnectAll),
    ("reset", Op::Reset),
    ("send_query", Op::SendQuery),
    ("send_query_params", Op::SendQueryParams),
    ("send_query_chunked", Op::SendQueryChunked),
    ("is_busy", Op::IsBusy),
    ("get_result", Op::GetResult),
    ("get_result_timeout", Op::GetResultTimeout),
    ("cancel_query", Op::CancelQuery),
    ("cancel_query_timeout", Op::CancelQueryTimeout),
    ("error_message", Op::ErrorMessage),
    ("get_notify", Op::GetNotify),
    ("wait_any", Op::WaitAny),
    ("wait_all", Op::WaitAll),
    ("socket", Op::Socket),
    ("consume_input", Op::ConsumeInput),
    ("dblink", Op::Dblink),
    ("dblink_params", Op::DblinkParams),
    ("exec", Op::Exec),
    ("open", Op::Cursor),
    ("fetch", Op::Cursor),
    ("close", Op::Cursor),
    ("get_connections", Op::GetConnections),
];

/// Whether `call` may answer 08003 `... is still connecting ...`: every
/// call that uses the connection, but not `socket` (it answers while
/// connecting), `connect_poll` (it drives the connect), `disconnect` (it
/// abandons it) and the connect functions (42710).
fn may_say_still_connecting(call: &str) -> bool {
    !matches!(
        call,
        "socket"
            | "connect_poll"
            | "disconnect"
            | "disconnect_all"
            | "connect"
            | "connect_u"
            | "connect_timeout"
            | "connect_all"
            | "connect_start"
            | "get_connections"
    )
}

#[derive(Default)]
struct Stats {
    ops: BTreeMap<&'static str, u64>,
    /// Calls per public function.
    calls: BTreeMap<&'static str, u64>,
    /// Errors (returned `Err`, `Status::Error` results, NOTICEs of remote
    /// errors) per SQLSTATE.
    errors: BTreeMap<String, u64>,
    /// Other outcomes worth counting: sends refused, results per status, ...
    outcomes: BTreeMap<String, u64>,
    /// `error_message` texts (first line), to see what the threads saw.
    messages: BTreeMap<String, u64>,
}

impl Stats {
    fn merge(&mut self, other: Stats) {
        for (k, v) in other.ops {
            *self.ops.entry(k).or_default() += v;
        }
        for (k, v) in other.calls {
            *self.calls.entry(k).or_default() += v;
        }
        for (k, v) in other.errors {
            *self.errors.entry(k).or_default() += v;
        }
        for (k, v) in other.outcomes {
            *self.outcomes.entry(k).or_default() += v;
        }
        for (k, v) in other.messages {
            *self.messages.entry(k).or_default() += v;
        }
    }

    fn outcome(&mut self, what: impl Into<String>) {
        *self.outcomes.entry(what.into()).or_default() += 1;
    }

    fn error(&mut self, e: &Error) {
        *self.errors.entry(e.sqlstate.clone()).or_default() += 1;
    }
}

// ---------------------------------------------------------------------------
// The book of sent queries, and what the test knows about each name
// ---------------------------------------------------------------------------

/// A row's tag: which name, thread, send and part it comes from. Parts: 0 a
/// single statement, 1-2 two statements, 3-5 the chunked query's rows
/// (async, in the book); 7 a cursor's rows, 8 a NOTIFY payload, 9 a
/// `dblink` row (checked by the call itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Tag {
    name: usize,
    thread: usize,
    seq: u64,
    part: u8,
}

impl Tag {
    fn text(self) -> String {
        format!("n{}t{}s{}p{}", self.name, self.thread, self.seq, self.part)
    }

    fn parse(s: &str) -> Option<Tag> {
        let s = s.strip_prefix('n')?;
        let (name, s) = s.split_once('t')?;
        let (thread, s) = s.split_once('s')?;
        let (seq, part) = s.split_once('p')?;
        Some(Tag {
            name: name.parse().ok()?,
            thread: thread.parse().ok()?,
            seq: seq.parse().ok()?,
            part: part.parse().ok()?,
        })
    }
}

/// What the test knows about the queries sent on one name.
#[derive(Default)]
struct Book {
    /// Recorded before the send; not read yet; the connection is still the same.
    outstanding: HashSet<Tag>,
    /// Not read when a disconnect or reset discarded their connection's
    /// results: the epoch the name had then (a reader that started in that
    /// epoch may still get it).
    orphaned: HashMap<Tag, u64>,
    /// Already delivered once.
    read: HashSet<Tag>,
}

/// One shared name.
///
/// `lifecycle` keeps "record + send" atomic with respect to "discard the
/// results (disconnect, disconnect_all, reset) + orphan", and serializes
/// every call that can make the name start or stop connecting
/// (connect_start, connect_poll, disconnect, disconnect_all), so that
/// `connecting` is exact while it is held. Lock order: a thread holds at
/// most one lifecycle lock, except disconnect_all, which takes all of them
/// in index order; no pgdblink lock is ever held while waiting for one.
struct Slot {
    name: String,
    book: Mutex<Book>,
    lifecycle: Mutex<()>,
    /// The worker holding `lifecycle` (its id + 1; 0: none), for the watchdog.
    holder: AtomicUsize,
    /// How many result-discarding calls (disconnect, disconnect_all, reset) have completed.
    epoch: AtomicU64,
    /// The resets, cancels and removals (disconnect, disconnect_all) of the
    /// name, to tell which calls overlapped one.
    resets: Overlap,
    cancels: Overlap,
    removals: Overlap,
    /// Whether a connect_start on the name has not completed yet.
    connecting: AtomicBool,
    /// Odd while a call that may change `connecting` runs (a seqlock
    /// generation, so that a call without the lifecycle lock can tell
    /// whether `connecting` held throughout it).
    state_gen: AtomicU64,
    /// The name's connect_start used the dead port.
    dead_start: AtomicBool,
    /// Someone saw 25P02 on the name: roll back the aborted transaction.
    needs_rollback: AtomicBool,
}

/// Calls of one kind (on one name) begun and completed: a call overlapped
/// one when, at its end, more had begun than had completed at its start.
#[derive(Default)]
struct Overlap {
    begun: AtomicU64,
    done: AtomicU64,
}

impl Overlap {
    fn begin(&self) {
        self.begun.fetch_add(1, Ordering::SeqCst);
    }

    fn end(&self) {
        self.done.fetch_add(1, Ordering::SeqCst);
    }

    fn done(&self) -> u64 {
        self.done.load(Ordering::SeqCst)
    }

    /// Whether one overlapped the call that started when `done` had
    /// completed (`own`: how many of them the call itself began).
    fn since(&self, done: u64, own: u64) -> bool {
        self.begun.load(Ordering::SeqCst) > done + own
    }
}

/// A slot's state when a call began.
#[derive(Clone, Copy)]
struct Window {
    resets_done: u64,
    cancels_done: u64,
    removals_done: u64,
    state_gen: u64,
    connecting: bool,
}

/// What held throughout a call.
#[derive(Clone, Copy, Debug)]
struct Seen {
    /// A reset of the name overlapped the call.
    reset: bool,
    /// Another thread's cancel of the name overlapped the call.
    cancel: bool,
    /// A disconnect or disconnect_all overlapped the call.
    removed: bool,
    /// Whether the name was connecting throughout the call (None: unknown,
    /// it may have changed).
    connecting: Option<bool>,
}

impl Seen {
    /// Nothing known, nothing overlapped (a temporary connection; the
    /// connect functions, which no reset or cancel concerns).
    const NONE: Seen = Seen {
        reset: false,
        cancel: false,
        removed: false,
        connecting: None,
    };
}

impl Slot {
    fn window(&self) -> Window {
        let state_gen = self.state_gen.load(Ordering::SeqCst);
        let connecting = self.connecting.load(Ordering::SeqCst);
        Window {
            resets_done: self.resets.done(),
            cancels_done: self.cancels.done(),
            removals_done: self.removals.done(),
            state_gen,
            connecting,
        }
    }

    fn seen_since(&self, w: Window) -> Seen {
        let stable = w.state_gen % 2 == 0 && self.state_gen.load(Ordering::SeqCst) == w.state_gen;
        Seen {
            reset: self.resets.since(w.resets_done, 0),
            cancel: self.cancels.since(w.cancels_done, 0),
            removed: self.removals.since(w.removals_done, 0),
            connecting: stable.then_some(w.connecting),
        }
    }

    /// Under the lifecycle lock: the exact state.
    fn seen_exact(&self) -> Seen {
        Seen {
            connecting: Some(self.connecting.load(Ordering::SeqCst)),
            ..Seen::NONE
        }
    }

    /// Before a call that may change `connecting` (lifecycle lock held).
    fn begin_change(&self) {
        self.state_gen.fetch_add(1, Ordering::SeqCst);
    }

    /// After it.
    fn end_change(&self, connecting: bool) {
        self.connecting.store(connecting, Ordering::SeqCst);
        self.state_gen.fetch_add(1, Ordering::SeqCst);
    }

    /// The connection's pending results were discarded (lifecycle lock held).
    fn orphan_all(&self) {
        let epoch = self.epoch.load(Ordering::SeqCst);
        let mut book = lock(&self.book);
        let gone: Vec<Tag> = book.outstanding.drain().collect();
        book.orphaned.extend(gone.into_iter().map(|t| (t, epoch)));
        self.epoch.store(epoch + 1, Ordering::SeqCst);
    }

    fn not_available(&self) -> String {
        format!("connection \"{}\" not available", self.name)
    }

    fn still_connecting(&self) -> String {
        format!(
            "connection \"{}\" is still connecting: call connect_poll until it is ready",
            self.name
        )
    }
}

/// The failures, by kind, with the first examples of each.
#[derive(Default)]
struct Failures(BTreeMap<&'static str, (u64, Vec<String>)>);

impl Failures {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn report(&self) -> String {
        let mut out = String::new();
        for (kind, (count, examples)) in &self.0 {
            out.push_str(&format!("  {kind}: {count} time(s), e.g.\n"));
            for e in examples {
                out.push_str(&format!("    {e}\n"));
            }
        }
        out
    }
}

/// State shared by the workers and the watchdog.
struct Shared {
    seed: u64,
    /// The server over its unix socket and over TCP.
    connstrs: [String; 2],
    /// A port where nothing listens.
    dead_connstr: String,
    /// The LISTEN/NOTIFY channel of this run.
    channel: String,
    slots: Vec<Slot>,
    /// The operations and their weights (without the excluded ones).
    weights: Vec<(Op, u64)>,
    last_disconnect_all: Mutex<Option<Instant>>,
    /// Completed operations, for the watchdog.
    progress: AtomicU64,
    /// What each worker is doing right now, and since when.
    doing: Vec<Mutex<(String, Instant)>>,
    failures: Mutex<Failures>,
    stop: AtomicBool,
}

impl Shared {
    fn fail(&self, thread: usize, seq: u64, kind: &'static str, what: String) {
        let mut f = lock(&self.failures);
        let (count, examples) = f.0.entry(kind).or_default();
        *count += 1;
        if examples.len() < EXAMPLES {
            examples.push(format!("thread {thread} op #{seq}: {what}"));
        }
    }

    fn pick(&self, rng: &mut Rng) -> Op {
        let total: u64 = self.weights.iter().map(|&(_, w)| w).sum();
        let mut r = rng.below(total);
        for &(op, w) in &self.weights {
            if r < w {
                return op;
            }
            r -= w;
        }
        self.weights[0].0
    }
}

/// The lifecycle lock of a slot, held by a worker.
struct Life<'a> {
    slot: &'a Slot,
    _guard: MutexGuard<'a, ()>,
}

impl Drop for Life<'_> {
    fn drop(&mut self) {
        // Runs before the guard is released.
        self.slot.holder.store(0, Ordering::SeqCst);
    }
}

// ---------------------------------------------------------------------------
// Notices, per thread (the handler runs on the calling thread)
// ---------------------------------------------------------------------------

fn take_notices() -> Vec<(Option<String>, Error)> {
    support::notices::take()
}

/// Waits until `fd` is readable (or writable), at most `ms` milliseconds.
fn wait_fd(fd: c_int, writable: bool, ms: c_int) {
    let mut p = libc::pollfd {
        fd,
        events: if writable {
            libc::POLLOUT
        } else {
            libc::POLLIN
        },
        revents: 0,
    };
    // SAFETY: `p` is one valid, writable pollfd that outlives the call, and
    // the count says one. poll(2) only looks at the descriptor number: if
    // another thread closed it since (a disconnect), or its number was
    // reused, poll reports POLLNVAL or a readiness and nothing is read or
    // written on it.
    unsafe { libc::poll(&mut p, 1, ms) };
}

/// Whether a remote error's CONTEXT ends with dblink's own line.
fn context_ends_with(e: &Error, line: &str) -> bool {
    e.context
        .as_deref()
        .is_some_and(|c| c == line || c.ends_with(&format!("\n{line}")))
}

// ---------------------------------------------------------------------------
// What a call may fail with
// ---------------------------------------------------------------------------

/// Which 08001 DETAILs a connect may come with.
#[derive(Clone, Copy, Debug)]
enum Refused {
    /// The live server without a bound: only its "too many clients".
    Live,
    /// The live server with a bound of N ms: `timed out after N ms` too.
    LiveWithin(u128),
    /// The dead port: libpq's message, whatever it says.
    Dead,
    /// dblink/exec on a name that is not registered: libpq's parse error
    /// of the name taken for a connection string.
    NotAName,
}

/// The errors one call may return.
struct Rules<'r> {
    call: &'static str,
    /// SQLSTATEs; "57014-timeout" stands for the 57014 of a timed-out wait.
    allowed: &'r [&'static str],
    /// dblink's CONTEXT line that ends a remote error.
    context: Option<String>,
    /// get_result_timeout's timeout.
    timeout_ms: Option<u128>,
    refused: Refused,
}

impl<'r> Rules<'r> {
    fn new(call: &'static str, allowed: &'r [&'static str]) -> Rules<'r> {
        Rules {
            call,
            allowed,
            context: None,
            timeout_ms: None,
            refused: Refused::Live,
        }
    }

    fn context(mut self, line: String) -> Rules<'r> {
        self.context = Some(line);
        self
    }

    fn refused(mut self, refused: Refused) -> Rules<'r> {
        self.refused = refused;
        self
    }

    fn timeout(mut self, t: Duration) -> Rules<'r> {
        self.timeout_ms = Some(t.as_millis());
        self
    }
}

/// dblink's CONTEXT line for `doing` on the name (None: a temporary connection).
fn dblink_line(doing: &str, name: Option<&str>) -> String {
    match name {
        Some(n) => format!("{doing} on dblink connection named \"{n}\""),
        None => format!("{doing} on unnamed dblink connection"),
    }
}

/// What `exec` runs.
#[derive(Clone, Copy, Debug)]
enum Command {
    Set,
    Listen,
    Notify,
    Rollback,
    /// A query: exec refuses it (2F003).
    Select,
}

/// How a call on a name ended, for the callers that follow up.
#[derive(PartialEq, Eq)]
enum Ended {
    /// As the test hoped.
    Ok,
    /// Another allowed outcome (an error, 'ERROR', an error result).
    Failed,
    /// The name is not there (08003, or 08001 for dblink/exec).
    Gone,
}

// ---------------------------------------------------------------------------
// The worker
// ---------------------------------------------------------------------------

struct Worker<'a> {
    id: usize,
    rng: Rng,
    sh: &'a Shared,
    seq: u64,
    stats: Stats,
}

impl<'a> Worker<'a> {
    fn fail(&self, kind: &'static str, what: String) {
        self.sh.fail(self.id, self.seq, kind, what);
    }

    fn slot(&self, n: usize) -> &'a Slot {
        &self.sh.slots[n]
    }

    /// Says what this worker is doing, for the watchdog.
    fn doing(&self, what: &str) {
        *lock(&self.sh.doing[self.id]) = (format!("op #{} {what}", self.seq), Instant::now());
    }

    /// Runs one pgdblink call, counted and timed.
    fn call<T>(&mut self, f: &'static str, args: &str, body: impl FnOnce() -> T) -> (T, Duration) {
        *self.stats.calls.entry(f).or_default() += 1;
        self.doing(&format!("in pgdblink::{f}({args})"));
        let started = Instant::now();
        let out = body();
        (out, started.elapsed())
    }

    fn life(&self, n: usize) -> Life<'a> {
        let slot = self.slot(n);
        self.doing(&format!(
            "waiting for the test's lifecycle lock of {}",
            slot.name
        ));
        let guard = lock(&slot.lifecycle);
        slot.holder.store(self.id + 1, Ordering::SeqCst);
        Life {
            slot,
            _guard: guard,
        }
    }

    fn check_bound(&self, what: String, took: Duration, bound: Duration) {
        if took > bound + SLACK {
            self.fail(
                "a bounded call overran its bound",
                format!("{what} took {took:?}; its bound is {bound:?} (+{SLACK:?} for scheduling)"),
            );
        }
    }

    fn expect_no_notices(&self, what: &str, notices: &[(Option<String>, Error)]) {
        if !notices.is_empty() {
            self.fail(
                "unexpected NOTICE",
                format!("{what} came with notices {notices:?}"),
            );
        }
    }

    /// A call that uses the connection succeeded: the name was not
    /// connecting throughout (else: 08003 `... is still connecting ...`).
    fn expect_not_connecting(&self, call: &str, n: usize, seen: Seen, outcome: &str) {
        if seen.connecting == Some(true) {
            self.fail(
                "a call on a connecting name did not say `still connecting`",
                format!(
                    "{call}({}) = {outcome}, while the name was connecting throughout the call",
                    self.slot(n).name
                ),
            );
        }
    }

    /// An error from a call about name `n`.
    fn check_err(&mut self, r: &Rules, n: usize, e: &Error, seen: Seen) {
        self.stats.error(e);
        let slot = self.slot(n);
        let what = format!("{}({})", r.call, slot.name);
        let s = e.sqlstate.as_str();
        if FORBIDDEN.contains(&s) {
            self.fail(
                "a SQLSTATE the model forbids (0A000, 22023)",
                format!("{what}: {e:?}"),
            );
            return;
        }
        let known_08003 = s == "08003"
            && (e.message == slot.not_available() || e.message == slot.still_connecting());
        if seen.reset && s.starts_with("08") && !known_08003 {
            // A reset wakes the calls in progress on the name with an 08xxx
            // error (the model), whatever its text.
            self.stats
                .outcome(format!("{} {s} while the name was reset", r.call));
            return;
        }
        if seen.cancel && s == "08006" && !e.message.ends_with(BUSY) {
            // "08006 where a cancel race makes one" (the model).
            self.stats
                .outcome(format!("{} 08006 while the name was cancelled", r.call));
            return;
        }
        let kind = if s == "57014" && e.message.starts_with("timed out after ") {
            "57014-timeout"
        } else {
            s
        };
        if !r.allowed.contains(&kind) {
            self.fail(
                "unexpected error",
                format!("{what}: {e:?} (allowed here: {:?})", r.allowed),
            );
            return;
        }
        match kind {
            "08003" => self.check_08003(r.call, n, e, seen),
            "42710" if e.message != "duplicate connection name" => {
                self.fail("42710 with the wrong text", format!("{what}: {e:?}"));
            }
            "08001" => self.check_08001(&what, e, r.refused, seen),
            "57014-timeout" => {
                let ok = r
                    .timeout_ms
                    .is_some_and(|ms| e.message.starts_with(&format!("timed out after {ms} ms")));
                if !ok {
                    self.fail(
                        "57014 timeout with the wrong text",
                        format!("{what}: {e:?} (timeout {:?} ms)", r.timeout_ms),
                    );
                }
            }
            "57014" => self.check_remote(r, &what, e, CANCELED),
            "22012" => self.check_remote(r, &what, e, "division by zero"),
            "25P02" => {
                slot.needs_rollback.store(true, Ordering::SeqCst);
                self.check_remote(r, &what, e, ABORTED);
            }
            "08006" => {
                // The remote error dblink makes of libpq's refusal (exec,
                // cursors): libpq's message, earlier texts of the same query
                // cycle first.
                let ok = e.message.ends_with(BUSY)
                    && r.context.as_deref().is_none_or(|l| context_ends_with(e, l));
                if !ok {
                    self.fail(
                        "08006 other than `another command is already in progress`, without a reset",
                        format!("{what}: {e:?}"),
                    );
                }
            }
            "34000" => {
                let ok = e.message.starts_with("cursor \"")
                    && e.message.ends_with("\" does not exist")
                    && (e.context.is_none()
                        || r.context.as_deref().is_none_or(|l| context_ends_with(e, l)));
                if !ok {
                    self.fail("34000 with the wrong text", format!("{what}: {e:?}"));
                }
            }
            "2F003" if e.message != "statement returning results not allowed" => {
                self.fail("2F003 with the wrong text", format!("{what}: {e:?}"));
            }
            "XX000" => {
                let ok = match r.call {
                    "dblink" | "dblink_params" => {
                        e.message.starts_with("could not send query: ") && e.message.ends_with(BUSY)
                    }
                    "open" => {
                        e.message.starts_with("begin error: ") && e.message.contains(CANCELED)
                    }
                    "close" => {
                        e.message.starts_with("commit error: ") && e.message.contains(CANCELED)
                    }
                    _ => false,
                };
                if !ok {
                    self.fail("XX000 with the wrong text", format!("{what}: {e:?}"));
                }
            }
            _ => {}
        }
    }

    fn check_08003(&mut self, call: &'static str, n: usize, e: &Error, seen: Seen) {
        let slot = self.slot(n);
        if e.message == slot.not_available() {
            if seen.connecting == Some(true) {
                self.fail(
                    "`not available` for a name that was connecting",
                    format!("{call}({}): {e:?}", slot.name),
                );
            }
        } else if e.message == slot.still_connecting() {
            self.stats
                .outcome(format!("{call}: 08003 still connecting"));
            if !may_say_still_connecting(call) {
                self.fail(
                    "`still connecting` from a call that must not say it",
                    format!("{call}({}): {e:?}", slot.name),
                );
            } else if seen.connecting == Some(false) {
                self.fail(
                    "`still connecting` for a name that was not connecting",
                    format!("{call}({}): {e:?}", slot.name),
                );
            }
        } else {
            self.fail(
                "08003 with the wrong text",
                format!("{call}({}): {e:?}", slot.name),
            );
        }
    }

    fn check_08001(&mut self, what: &str, e: &Error, refused: Refused, seen: Seen) {
        let detail = e.detail.as_deref().unwrap_or("");
        let too_many = detail.contains("too many clients");
        let ok = e.message == "could not establish connection"
            && match refused {
                Refused::Live => too_many,
                Refused::LiveWithin(ms) => {
                    too_many || detail.starts_with(&format!("timed out after {ms} ms"))
                }
                Refused::Dead => !detail.is_empty(),
                Refused::NotAName => {
                    detail.contains("missing \"=\" after") && seen.connecting != Some(true)
                }
            };
        if ok {
            self.stats.outcome(format!("08001 ({refused:?})"));
        } else {
            self.fail(
                "08001 that this connection string cannot explain",
                format!("{what}: {e:?} ({refused:?})"),
            );
        }
    }

    /// A remote error's text and dblink's CONTEXT line.
    fn check_remote(&self, r: &Rules, what: &str, e: &Error, message: &str) {
        let context_ok = r.context.as_deref().is_none_or(|l| context_ends_with(e, l));
        if e.message != message || !context_ok {
            self.fail(
                "a remote error with the wrong text or context",
                format!(
                    "{what}: {e:?}, expected {message:?} with context {:?}",
                    r.context
                ),
            );
        }
    }

    /// A `Status::Error` result (fail_on_error false): it holds an allowed
    /// remote error, and exactly that error came as a NOTICE.
    fn check_error_result(
        &mut self,
        r: &Rules,
        n: usize,
        res: &DblinkResult,
        notices: &[(Option<String>, Error)],
        seen: Seen,
        notice_name: Option<&str>,
    ) {
        self.stats.outcome(format!("{}: error result", r.call));
        let Some(e) = res.error() else {
            self.fail(
                "an Error result without its error",
                format!("{}({}): {res:?}", r.call, self.slot(n).name),
            );
            return;
        };
        self.check_err(r, n, e, seen);
        let ok = matches!(notices, [(nm, ne)] if nm.as_deref() == notice_name && ne == e);
        if !ok {
            self.fail(
                "an error result without exactly its NOTICE",
                format!(
                    "{}({}): error result {e:?} came with notices {notices:?}",
                    r.call,
                    self.slot(n).name
                ),
            );
        }
    }

    /// A function that returns dblink's text ('OK', a command status, or
    /// 'ERROR' after a NOTICE).
    #[allow(clippy::too_many_arguments)]
    fn check_text(
        &mut self,
        err_rules: &Rules,
        notice_rules: &Rules,
        n: usize,
        outcome: Result<String, Error>,
        expected: Option<&str>,
        fail_on_error: bool,
        notices: &[(Option<String>, Error)],
        seen: Seen,
        notice_name: Option<&str>,
    ) -> Ended {
        let what = format!("{}({})", err_rules.call, self.slot(n).name);
        match outcome {
            Ok(text) if Some(text.as_str()) == expected => {
                self.stats.outcome(format!("{}: {text}", err_rules.call));
                self.expect_no_notices(&what, notices);
                if notice_name.is_some() {
                    self.expect_not_connecting(err_rules.call, n, seen, &text);
                }
                Ended::Ok
            }
            Ok(text) if text == "ERROR" && !fail_on_error => {
                self.stats.outcome(format!("{}: ERROR", err_rules.call));
                match notices {
                    [(nm, e)] if nm.as_deref() == notice_name => {
                        self.check_err(notice_rules, n, e, seen);
                    }
                    _ => self.fail(
                        "'ERROR' without exactly one NOTICE",
                        format!("{what} = 'ERROR' with notices {notices:?}"),
                    ),
                }
                Ended::Failed
            }
            Ok(text) => {
                self.fail(
                    "unexpected text",
                    format!(
                        "{what} = {text:?}, expected {expected:?} (fail_on_error {fail_on_error})"
                    ),
                );
                Ended::Failed
            }
            Err(e) => {
                self.expect_no_notices(&what, notices);
                self.check_err(err_rules, n, &e, seen);
                if matches!(e.sqlstate.as_str(), "08003" | "08001") {
                    Ended::Gone
                } else {
                    Ended::Failed
                }
            }
        }
    }

    fn run(&mut self, deadline: Instant) {
        while Instant::now() < deadline && !self.sh.stop.load(Ordering::Relaxed) {
            self.seq += 1;
            let op = self.sh.pick(&mut self.rng);
            let n = self.rng.below(NAMES as u64) as usize;
            *self.stats.ops.entry(op.label()).or_default() += 1;
            take_notices();
            self.heal(n);
            match op {
                Op::Connect => self.connect(n, "connect", None),
                Op::ConnectU => self.connect(n, "connect_u", None),
                Op::ConnectTimeout => {
                    let t = [1u64, 20, 2000][self.rng.below(3) as usize];
                    self.connect(n, "connect_timeout", Some(Duration::from_millis(t)));
                }
                Op::ConnectAll => self.connect_all(),
                Op::ConnectStart => self.connect_start(n),
                Op::ConnectPoll => {
                    let steps = 1 + self.rng.below(3);
                    self.drive(n, steps);
                }
                Op::Disconnect => self.disconnect(n),
                Op::DisconnectAll => self.disconnect_all(n),
                Op::Reset => self.reset(n),
                Op::SendQuery | Op::SendQueryParams | Op::SendQueryChunked => self.send(n, op),
                Op::IsBusy => self.is_busy(n),
                Op::GetResult => self.get_result(n, None),
                Op::GetResultTimeout => {
                    let t = Duration::from_millis(1 + self.rng.below(30));
                    self.get_result(n, Some(t));
                }
                Op::CancelQuery => self.cancel(n, None),
                Op::CancelQueryTimeout => {
                    let t = [1u64, 20, 200][self.rng.below(3) as usize];
                    self.cancel(n, Some(Duration::from_millis(t)));
                }
                Op::ErrorMessage => self.error_message(n),
                Op::GetNotify => self.get_notify(n),
                Op::WaitAny => self.wait(false),
                Op::WaitAll => self.wait(true),
                Op::Socket => self.socket(n),
                Op::ConsumeInput => self.consume_input(n),
                Op::Dblink => self.dblink(n, false),
                Op::DblinkParams => self.dblink(n, true),
                Op::Exec => {
                    let cmd = match self.rng.below(100) {
                        0..30 => Command::Set,
                        30..55 => Command::Listen,
                        55..85 => Command::Notify,
                        85..95 => Command::Select,
                        _ => Command::Rollback,
                    };
                    let temporary = self.rng.chance(10);
                    let fail_on_error = self.rng.chance(50);
                    self.exec(n, cmd, fail_on_error, temporary);
                }
                Op::Cursor => self.cursor(n),
                Op::GetConnections => self.get_connections(),
            }
            self.sh.progress.fetch_add(1, Ordering::Relaxed);
        }
        *lock(&self.sh.doing[self.id]) = ("finished".to_owned(), Instant::now());
    }

    /// Rolls back a transaction someone saw aborted (25P02): one that `open`
    /// began and a failed statement (a `1/0`, a cancel) aborted stays so
    /// until its cursors are closed, which can no longer succeed.
    fn heal(&mut self, n: usize) {
        let slot = self.slot(n);
        if !slot.needs_rollback.swap(false, Ordering::SeqCst) {
            return;
        }
        self.stats.outcome("rollback after 25P02");
        if self.exec(n, Command::Rollback, false, false) == Ended::Failed {
            slot.needs_rollback.store(true, Ordering::SeqCst);
        }
    }

    // --- connecting and disconnecting ---------------------------------------

    /// A connection string: the dead port one time in ten.
    fn connstr(&mut self) -> (&'a str, bool) {
        let sh = self.sh;
        if self.rng.chance(10) {
            (&sh.dead_connstr, true)
        } else {
            (&sh.connstrs[self.rng.below(2) as usize], false)
        }
    }

    fn refused(dead: bool, timeout: Option<Duration>) -> Refused {
        match (dead, timeout) {
            (true, _) => Refused::Dead,
            (false, Some(t)) => Refused::LiveWithin(t.as_millis()),
            (false, None) => Refused::Live,
        }
    }

    /// connect, connect_u, connect_timeout.
    fn connect(&mut self, n: usize, f: &'static str, timeout: Option<Duration>) {
        let slot = self.slot(n);
        let (connstr, dead) = self.connstr();
        let w = slot.window();
        let args = format!("{}, dead={dead}, {timeout:?}", slot.name);
        let (outcome, took) = self.call(f, &args, || match (f, timeout) {
            ("connect_u", _) => pgdblink::connect_u(Some(&slot.name), connstr),
            (_, Some(t)) => pgdblink::connect_timeout(Some(&slot.name), connstr, t),
            _ => pgdblink::connect(Some(&slot.name), connstr),
        });
        let seen = Seen {
            connecting: slot.seen_since(w).connecting,
            ..Seen::NONE
        };
        if let Some(t) = timeout {
            self.check_bound(format!("{f}({args})"), took, t);
        }
        self.expect_no_notices(f, &take_notices());
        self.connect_outcome(f, n, outcome, dead, timeout, seen);
    }

    fn connect_outcome(
        &mut self,
        f: &'static str,
        n: usize,
        outcome: pgdblink::Result<()>,
        dead: bool,
        timeout: Option<Duration>,
        seen: Seen,
    ) {
        match outcome {
            Ok(()) => {
                self.stats.outcome(format!("{f}: ok"));
                if dead {
                    self.fail(
                        "connected to the dead port",
                        format!("{f}({})", self.slot(n).name),
                    );
                }
                if seen.connecting == Some(true) {
                    self.fail(
                        "connected a name that was connecting",
                        format!("{f}({}) = Ok", self.slot(n).name),
                    );
                }
            }
            Err(e) => {
                let rules =
                    Rules::new(f, &["42710", "08001"]).refused(Self::refused(dead, timeout));
                self.check_err(&rules, n, &e, seen);
            }
        }
    }

    fn connect_all(&mut self) {
        let k = 1 + self.rng.below(3) as usize;
        let names = self.rng.names(k);
        let timeout = match self.rng.below(10) {
            0..3 => None,
            3..5 => Some(Duration::from_millis(1)),
            _ => Some(Duration::from_millis(2000)),
        };
        let picks: Vec<(&'a str, bool)> = (0..k).map(|_| self.connstr()).collect();
        let targets: Vec<(&str, &str)> = names
            .iter()
            .zip(&picks)
            .map(|(&n, &(cs, _))| (self.slot(n).name.as_str(), cs))
            .collect();
        let windows: Vec<Window> = names.iter().map(|&n| self.slot(n).window()).collect();
        let label: Vec<&str> = targets.iter().map(|t| t.0).collect();
        let args = format!("{label:?}, {timeout:?}");
        let (outcomes, took) = self.call("connect_all", &args, || {
            pgdblink::connect_all(&targets, timeout)
        });
        if let Some(t) = timeout {
            self.check_bound(format!("connect_all({args})"), took, t);
        }
        self.expect_no_notices("connect_all", &take_notices());
        if outcomes.len() != k {
            self.fail(
                "connect_all: not one outcome per target",
                format!("connect_all({args}) = {outcomes:?}"),
            );
            return;
        }
        for (i, outcome) in outcomes.into_iter().enumerate() {
            let slot = self.slot(names[i]);
            let seen = Seen {
                connecting: slot.seen_since(windows[i]).connecting,
                ..Seen::NONE
            };
            self.connect_outcome("connect_all", names[i], outcome, picks[i].1, timeout, seen);
        }
    }

    fn connect_start(&mut self, n: usize) {
        let slot = self.slot(n);
        let (connstr, dead) = self.connstr();
        let started = {
            let _life = self.life(n);
            let was = slot.seen_exact();
            slot.begin_change();
            let (outcome, _) = self.call(
                "connect_start",
                &format!("{}, dead={dead}", slot.name),
                || pgdblink::connect_start(Some(&slot.name), connstr),
            );
            let ok = outcome.is_ok();
            if ok {
                slot.dead_start.store(dead, Ordering::SeqCst);
            }
            slot.end_change(ok || was.connecting == Some(true));
            self.expect_no_notices("connect_start", &take_notices());
            match outcome {
                Ok(()) => {
                    self.stats.outcome("connect_start: ok");
                    if was.connecting == Some(true) {
                        self.fail(
                            "connect_start on a connecting name succeeded",
                            slot.name.clone(),
                        );
                    }
                }
                Err(e) => {
                    // A connection string libpq rejects at once (the dead
                    // port: refused before any wait) is 08001.
                    let rules = Rules::new("connect_start", &["42710", "08001"])
                        .refused(Self::refused(dead, None));
                    self.check_err(&rules, n, &e, was);
                }
            }
            ok
        };
        if started {
            let steps = self.rng.below(5);
            self.drive(n, steps);
        }
    }

    /// Up to `steps` connect_poll calls, waiting at most 10 ms on the
    /// descriptor each names; the name may be left connecting.
    fn drive(&mut self, n: usize, steps: u64) {
        let slot = self.slot(n);
        for _ in 0..steps {
            let progress = {
                let _life = self.life(n);
                let was = slot.seen_exact();
                let connecting = was.connecting == Some(true);
                slot.begin_change();
                let (outcome, took) = self.call("connect_poll", &slot.name, || {
                    pgdblink::connect_poll(Some(&slot.name))
                });
                let still = connecting
                    && matches!(
                        outcome,
                        Ok(ConnectProgress::Reading(_) | ConnectProgress::Writing(_))
                    );
                slot.end_change(still);
                self.check_bound(
                    format!("connect_poll({})", slot.name),
                    took,
                    CONNECT_POLL_BOUND,
                );
                self.expect_no_notices("connect_poll", &take_notices());
                match outcome {
                    Ok(ConnectProgress::Ready) => {
                        self.stats.outcome(if connecting {
                            "connect_poll: Ready (connected now)"
                        } else {
                            "connect_poll: Ready (was connected)"
                        });
                        None
                    }
                    Ok(p @ (ConnectProgress::Reading(fd) | ConnectProgress::Writing(fd))) => {
                        self.stats.outcome("connect_poll: Reading/Writing");
                        if !connecting || fd < 0 {
                            self.fail(
                                "connect_poll: a step on a name that is not connecting, or no socket",
                                format!("connect_poll({}) = {p:?}, connecting={connecting}", slot.name),
                            );
                        }
                        Some(p)
                    }
                    Ok(other) => {
                        self.fail(
                            "connect_poll: an unknown progress",
                            format!("connect_poll({}) = {other:?}", slot.name),
                        );
                        None
                    }
                    Err(e) => {
                        let dead = slot.dead_start.load(Ordering::SeqCst);
                        let allowed: &[&str] = if connecting { &["08001"] } else { &["08003"] };
                        let rules =
                            Rules::new("connect_poll", allowed).refused(Self::refused(dead, None));
                        self.check_err(&rules, n, &e, was);
                        None
                    }
                }
            };
            match progress {
                Some(ConnectProgress::Reading(fd)) => wait_fd(fd, false, 10),
                Some(ConnectProgress::Writing(fd)) => wait_fd(fd, true, 10),
                _ => break,
            }
        }
    }

    fn disconnect(&mut self, n: usize) {
        let slot = self.slot(n);
        let _life = self.life(n);
        let was = slot.seen_exact();
        slot.begin_change();
        slot.removals.begin();
        let (outcome, took) = self.call("disconnect", &slot.name, || {
            pgdblink::disconnect(Some(&slot.name))
        });
        if outcome.is_ok() {
            slot.orphan_all();
        }
        slot.removals.end();
        slot.end_change(outcome.is_err() && was.connecting == Some(true));
        self.check_bound(format!("disconnect({})", slot.name), took, DISCONNECT_BOUND);
        self.expect_no_notices("disconnect", &take_notices());
        match outcome {
            Ok(()) => self.stats.outcome("disconnect: ok"),
            Err(e) => self.check_err(&Rules::new("disconnect", &["08003"]), n, &e, was),
        }
    }

    /// disconnect_all, at most once a second (else a disconnect of `n`).
    fn disconnect_all(&mut self, n: usize) {
        {
            let mut last = lock(&self.sh.last_disconnect_all);
            if last.is_some_and(|t| t.elapsed() < DISCONNECT_ALL_EVERY) {
                drop(last);
                self.stats
                    .outcome("disconnect_all: a disconnect instead (once a second)");
                return self.disconnect(n);
            }
            *last = Some(Instant::now());
        }
        let lives: Vec<Life<'a>> = (0..NAMES).map(|i| self.life(i)).collect();
        for slot in &self.sh.slots {
            slot.begin_change();
            slot.removals.begin();
        }
        let ((), took) = self.call("disconnect_all", "", pgdblink::disconnect_all);
        for slot in &self.sh.slots {
            slot.orphan_all();
            slot.removals.end();
            slot.end_change(false);
        }
        drop(lives);
        self.check_bound("disconnect_all()".to_owned(), took, DISCONNECT_BOUND);
        self.expect_no_notices("disconnect_all", &take_notices());
        self.stats.outcome("disconnect_all: done");
    }

    fn reset(&mut self, n: usize) {
        let slot = self.slot(n);
        let _life = self.life(n);
        let was = slot.seen_exact();
        slot.resets.begin();
        let (outcome, _) = self.call("reset", &slot.name, || pgdblink::reset(Some(&slot.name)));
        // A reset that got as far as reconnecting discarded the pending
        // results, like a disconnect.
        let discarded = match &outcome {
            Ok(()) => true,
            Err(e) => e.sqlstate != "08003",
        };
        if discarded {
            slot.orphan_all();
        }
        slot.resets.end();
        self.expect_no_notices("reset", &take_notices());
        let still_connecting = matches!(&outcome, Err(e) if e.message == slot.still_connecting());
        if was.connecting == Some(true) && !still_connecting {
            if let Err(e) = &outcome {
                self.stats.error(e);
            }
            self.fail(
                "reset of a connecting name did not answer `still connecting` (the model: 08003 \
                 `... is still connecting ...`, the name stays connecting)",
                format!("reset({}) = {outcome:?}", slot.name),
            );
            return;
        }
        match outcome {
            Ok(()) => self.stats.outcome("reset: ok"),
            Err(e) if e.sqlstate == "08006" => {
                // The server could not be reached again: libpq's message.
                self.stats.error(&e);
                self.stats.outcome("reset: 08006 (could not reconnect)");
            }
            Err(e) => self.check_err(&Rules::new("reset", &["08003"]), n, &e, was),
        }
    }

    // --- asynchronous queries -------------------------------------------------

    fn send(&mut self, n: usize, op: Op) {
        let slot = self.slot(n);
        let tag = |part| Tag {
            name: n,
            thread: self.id,
            seq: self.seq,
            part,
        };
        let mut chunk = 0;
        let (sql, params, tags): (String, Option<String>, Vec<Tag>) = match op {
            Op::SendQueryParams => (
                "select $1::text".to_owned(),
                Some(tag(0).text()),
                vec![tag(0)],
            ),
            Op::SendQueryChunked => {
                chunk = self.rng.below(4) as usize;
                (
                    format!(
                        "select v from (values ('{}'), ('{}'), ('{}')) as t(v)",
                        tag(3).text(),
                        tag(4).text(),
                        tag(5).text()
                    ),
                    None,
                    vec![tag(3), tag(4), tag(5)],
                )
            }
            _ => match self.rng.below(100) {
                0..40 => (
                    format!("select '{}'::text", tag(0).text()),
                    None,
                    vec![tag(0)],
                ),
                40..55 => (
                    format!(
                        "select '{}'::text from pg_sleep({})",
                        tag(0).text(),
                        (1 + self.rng.below(20)) as f64 / 1000.0
                    ),
                    None,
                    vec![tag(0)],
                ),
                55..70 => ("select 1/0".to_owned(), None, vec![]),
                _ => (
                    format!(
                        "select '{}'::text; select '{}'::text",
                        tag(1).text(),
                        tag(2).text()
                    ),
                    None,
                    vec![tag(1), tag(2)],
                ),
            },
        };
        let f = op.label();
        let _life = self.life(n);
        let connecting = slot.seen_exact().connecting;
        let w = slot.window();
        lock(&slot.book).outstanding.extend(tags.iter().copied());
        take_notices();
        let (sent, _) = self.call(f, &format!("{}, {sql:?}", slot.name), || match op {
            Op::SendQueryParams => {
                pgdblink::send_query_params(Some(&slot.name), &sql, &[params.as_deref()])
            }
            Op::SendQueryChunked => pgdblink::send_query_chunked(Some(&slot.name), &sql, chunk),
            _ => pgdblink::send_query(Some(&slot.name), &sql),
        });
        let notices = take_notices();
        let seen = Seen {
            connecting,
            ..slot.seen_since(w)
        };
        let sent = match sent {
            Ok(true) => {
                self.stats.outcome(format!("{f}: 1"));
                self.expect_no_notices(f, &notices);
                self.expect_not_connecting(f, n, seen, "1");
                true
            }
            Ok(false) => {
                self.stats
                    .outcome(format!("{f}: 0 (another command in progress)"));
                self.expect_not_connecting(f, n, seen, "0");
                // libpq appends to the connection's error buffer until the
                // next query is sent, so earlier texts (e.g. `ERROR:  division
                // by zero`) may precede the last line, as in dblink; but the
                // text stays bounded however many sends were refused.
                let ok = matches!(notices.as_slice(),
                    [(Some(nm), e)] if nm == &slot.name
                        && e.sqlstate == "00000"
                        && e.message.starts_with("could not send query: ")
                        && e.message.ends_with(BUSY));
                if !ok {
                    self.fail(
                        "a refused send without its NOTICE",
                        format!(
                            "{f}({}) = 0 with notices {notices:?}, expected one NOTICE \
                             `could not send query: ...` ending with {BUSY:?}",
                            slot.name
                        ),
                    );
                } else if notices[0].1.message.len() >= MESSAGE_BOUND {
                    self.fail(
                        "the NOTICE of a refused send is not bounded (the model: under 1 KiB)",
                        format!(
                            "{f}({}): a {}-byte NOTICE: {:?}",
                            slot.name,
                            notices[0].1.message.len(),
                            notices[0].1.message
                        ),
                    );
                }
                false
            }
            Err(e) => {
                self.expect_no_notices(f, &notices);
                self.check_err(&Rules::new(f, &["08003"]), n, &e, seen);
                false
            }
        };
        if !sent {
            let mut book = lock(&slot.book);
            for t in &tags {
                if !book.outstanding.remove(t) {
                    self.fail(
                        "a row of a send that failed was read",
                        format!(
                            "{f}({}, {sql:?}) reported failure, yet {} was already read",
                            slot.name,
                            t.text()
                        ),
                    );
                }
            }
        }
    }

    fn is_busy(&mut self, n: usize) {
        let slot = self.slot(n);
        let w = slot.window();
        let (outcome, _) = self.call("is_busy", &slot.name, || {
            pgdblink::is_busy(Some(&slot.name))
        });
        let seen = slot.seen_since(w);
        self.expect_no_notices("is_busy", &take_notices());
        match outcome {
            Ok(b) => {
                self.stats.outcome(format!("is_busy: {}", u8::from(b)));
                self.expect_not_connecting("is_busy", n, seen, &b.to_string());
            }
            Err(e) => self.check_err(&Rules::new("is_busy", &["08003"]), n, &e, seen),
        }
    }

    /// get_result, or get_result_timeout with `timeout`.
    fn get_result(&mut self, n: usize, timeout: Option<Duration>) {
        let slot = self.slot(n);
        let fail_on_error = self.rng.chance(50);
        let f = if timeout.is_some() {
            "get_result_timeout"
        } else {
            "get_result"
        };
        let epoch = slot.epoch.load(Ordering::SeqCst);
        let w = slot.window();
        take_notices();
        let args = format!("{}, {fail_on_error}, {timeout:?}", slot.name);
        let (res, took) = self.call(f, &args, || match timeout {
            Some(t) => pgdblink::get_result_timeout(Some(&slot.name), fail_on_error, t),
            None => pgdblink::get_result(Some(&slot.name), fail_on_error),
        });
        let notices = take_notices();
        let seen = slot.seen_since(w);
        if let Some(t) = timeout {
            self.check_bound(format!("{f}({args})"), took, t);
        }
        let mut allowed = vec!["08003"];
        if timeout.is_some() {
            allowed.push("57014-timeout");
        }
        if fail_on_error {
            allowed.extend(["22012", "57014", "25P02"]);
        }
        let line = dblink_line("while executing query", Some(&slot.name));
        let mut rules = Rules::new(f, &allowed).context(line.clone());
        if let Some(t) = timeout {
            rules = rules.timeout(t);
        }
        match res {
            Ok(r) if r.status() == Status::Error && !fail_on_error => {
                let remote = ["22012", "57014", "25P02"];
                let rules = Rules::new(f, &remote).context(line);
                self.check_error_result(&rules, n, &r, &notices, seen, Some(&slot.name));
            }
            Ok(r) => {
                self.expect_no_notices(f, &notices);
                self.expect_not_connecting(f, n, seen, &format!("{:?}", r.status()));
                self.check_result(f, n, epoch, &r);
            }
            Err(e) => {
                self.expect_no_notices(f, &notices);
                self.check_err(&rules, n, &e, seen);
            }
        }
    }

    fn check_result(&mut self, f: &str, n: usize, epoch: u64, r: &DblinkResult) {
        let slot = self.slot(n);
        match r.status() {
            Status::Done => self.stats.outcome(format!("{f}: done")),
            Status::Tuples => {
                let rows = r.rows();
                self.stats.outcome(format!("{f}: {} row(s)", rows.len()));
                if rows.len() > 3 {
                    self.fail(
                        "get_result: more rows than any query returns",
                        format!("{f}({}): {rows:?}", slot.name),
                    );
                    return;
                }
                for row in &rows {
                    match row.as_slice() {
                        [Some(text)] => self.check_tag(f, n, epoch, text),
                        _ => self.fail(
                            "get_result: a row that is not one text",
                            format!("{f}({}): {rows:?}", slot.name),
                        ),
                    }
                }
            }
            _ => self.fail(
                "get_result: a result no query sent here returns",
                format!("{f}({}): {r:?}", slot.name),
            ),
        }
    }

    /// The row's tag was sent on this name, is read for the first time, and
    /// was not orphaned by a disconnect or reset that completed before this
    /// read began.
    fn check_tag(&mut self, f: &str, n: usize, epoch: u64, text: &str) {
        let slot = self.slot(n);
        let Some(tag) = Tag::parse(text) else {
            self.fail(
                "a row that is no tag",
                format!("{f}({}): {text:?}", slot.name),
            );
            return;
        };
        if tag.name != n {
            self.fail(
                "a row of a query sent on another name",
                format!(
                    "{f}({}) returned {text}, a row of a query sent on {}",
                    slot.name,
                    self.sh.slots.get(tag.name).map_or("?", |s| s.name.as_str())
                ),
            );
            return;
        }
        let mut book = lock(&slot.book);
        if book.outstanding.remove(&tag) {
            book.read.insert(tag);
            self.stats.outcome("tags verified");
        } else if let Some(orphaned_in) = book.orphaned.remove(&tag) {
            if epoch > orphaned_in {
                self.fail(
                    "a row of a connection discarded before the read began",
                    format!(
                        "{f}({}) returned {text}, sent on a connection whose results a \
                         disconnect or reset discarded before this call began (epoch \
                         {orphaned_in} < {epoch})",
                        slot.name
                    ),
                );
            }
            book.read.insert(tag);
            self.stats
                .outcome("tags verified (read while disconnecting or resetting)");
        } else if book.read.contains(&tag) {
            self.fail(
                "a row delivered twice",
                format!("{f}({}) returned {text} a second time", slot.name),
            );
        } else {
            self.fail(
                "a row no successful send sent",
                format!(
                    "{f}({}) returned {text}, which no successful send sent",
                    slot.name
                ),
            );
        }
    }

    /// cancel_query, or cancel_query_timeout with `timeout`.
    fn cancel(&mut self, n: usize, timeout: Option<Duration>) {
        let slot = self.slot(n);
        let f = if timeout.is_some() {
            "cancel_query_timeout"
        } else {
            "cancel_query"
        };
        let w = slot.window();
        slot.cancels.begin();
        let args = format!("{}, {timeout:?}", slot.name);
        let (outcome, took) = self.call(f, &args, || match timeout {
            Some(t) => pgdblink::cancel_query_timeout(Some(&slot.name), t),
            None => pgdblink::cancel_query(Some(&slot.name)),
        });
        slot.cancels.end();
        let seen = Seen {
            // Another thread's cancel, not this one.
            cancel: slot.cancels.since(w.cancels_done, 1),
            ..slot.seen_since(w)
        };
        if let Some(t) = timeout {
            self.check_bound(format!("{f}({args})"), took, t);
        }
        self.expect_no_notices(f, &take_notices());
        match outcome {
            Ok(text) => {
                self.stats.outcome(format!("{f}: {text}"));
                // `connection not open`: libpq closed the socket (a
                // disconnect closing the connection under the cancel).
                // Across a reset, whatever the cancel met.
                let ok = text == "OK"
                    || seen.reset
                    || (timeout.is_some() && text == "cancel request timed out")
                    || (text == "connection not open" && seen.removed);
                if !ok {
                    self.fail(
                        "cancel: an unexpected answer",
                        format!("{f}({args}) = {text:?}"),
                    );
                }
                self.expect_not_connecting(f, n, seen, &text);
            }
            Err(e) => self.check_err(&Rules::new(f, &["08003"]), n, &e, seen),
        }
    }

    fn error_message(&mut self, n: usize) {
        let slot = self.slot(n);
        let w = slot.window();
        let (outcome, _) = self.call("error_message", &slot.name, || {
            pgdblink::error_message(Some(&slot.name))
        });
        let seen = slot.seen_since(w);
        self.expect_no_notices("error_message", &take_notices());
        match outcome {
            Ok(text) => {
                self.expect_not_connecting("error_message", n, seen, &text);
                let first = text.lines().next().unwrap_or("").to_owned();
                let broken = [
                    "server closed",
                    "no connection",
                    "invalid socket",
                    "lost synchronization",
                    "could not receive",
                    "could not send",
                    "terminating",
                ];
                if !seen.reset && broken.iter().any(|b| text.contains(b)) {
                    self.fail(
                        "a broken connection",
                        format!("error_message({}) = {text:?}", slot.name),
                    );
                }
                if text.len() >= MESSAGE_BOUND {
                    self.fail(
                        "error_message is not bounded (the model: under 1 KiB)",
                        format!(
                            "error_message({}): {} bytes: {text:?}",
                            slot.name,
                            text.len()
                        ),
                    );
                }
                *self.stats.messages.entry(first).or_default() += 1;
            }
            Err(e) => self.check_err(&Rules::new("error_message", &["08003"]), n, &e, seen),
        }
    }

    fn get_notify(&mut self, n: usize) {
        let slot = self.slot(n);
        let w = slot.window();
        let (outcome, _) = self.call("get_notify", &slot.name, || {
            pgdblink::get_notify(Some(&slot.name))
        });
        let seen = slot.seen_since(w);
        self.expect_no_notices("get_notify", &take_notices());
        match outcome {
            Ok(list) => {
                self.stats.outcome(format!(
                    "get_notify: {}",
                    if list.is_empty() { "none" } else { "some" }
                ));
                self.expect_not_connecting("get_notify", n, seen, &format!("{list:?}"));
                for note in &list {
                    let ok = note.notify_name == self.sh.channel
                        && note.be_pid > 0
                        && Tag::parse(&note.extra).is_some_and(|t| t.part == 8);
                    if !ok {
                        self.fail(
                            "a notification this run did not send",
                            format!("get_notify({}): {note:?}", slot.name),
                        );
                    }
                }
            }
            Err(e) => self.check_err(&Rules::new("get_notify", &["08003"]), n, &e, seen),
        }
    }

    /// wait_any or wait_all on 2-4 names, 1-30 ms.
    fn wait(&mut self, all: bool) {
        let f = if all { "wait_all" } else { "wait_any" };
        let k = 2 + self.rng.below(3) as usize;
        let idx = self.rng.names(k);
        let t = Duration::from_millis(1 + self.rng.below(30));
        let names: Vec<&str> = idx.iter().map(|&n| self.slot(n).name.as_str()).collect();
        let windows: Vec<Window> = idx.iter().map(|&n| self.slot(n).window()).collect();
        let args = format!("{names:?}, {t:?}");
        let (outcome, took) = self.call(f, &args, || {
            if all {
                pgdblink::wait_all(&names, Some(t)).map(|b| vec![usize::from(b)])
            } else {
                pgdblink::wait_any(&names, Some(t))
            }
        });
        let seens: Vec<Seen> = idx
            .iter()
            .zip(&windows)
            .map(|(&n, &w)| self.slot(n).seen_since(w))
            .collect();
        self.check_bound(format!("{f}({args})"), took, t);
        self.expect_no_notices(f, &take_notices());
        match outcome {
            Ok(ready) => {
                let sane = if all {
                    true
                } else {
                    ready.windows(2).all(|p| p[0] < p[1]) && ready.iter().all(|&i| i < k)
                };
                if !sane {
                    self.fail(
                        "wait_any: indexes not ascending or out of range",
                        format!("{f}({args}) = {ready:?}"),
                    );
                }
                self.stats.outcome(if all {
                    format!("wait_all: {}", ready[0] == 1)
                } else {
                    format!(
                        "wait_any: {} ready",
                        if ready.is_empty() { "none" } else { "some" }
                    )
                });
                for (i, &n) in idx.iter().enumerate() {
                    self.expect_not_connecting(f, n, seens[i], &format!("{ready:?}"));
                }
            }
            Err(e) => {
                let about = idx.iter().position(|&n| {
                    let s = self.slot(n);
                    e.message == s.not_available() || e.message == s.still_connecting()
                });
                let reset = seens.iter().any(|s| s.reset);
                match about {
                    Some(i) => self.check_err(&Rules::new(f, &["08003"]), idx[i], &e, seens[i]),
                    None if reset && e.sqlstate.starts_with("08") => {
                        self.stats.error(&e);
                        self.stats
                            .outcome(format!("{f} {} while a name was reset", e.sqlstate));
                    }
                    None => {
                        self.stats.error(&e);
                        self.fail(
                            "wait: an error about none of the names",
                            format!("{f}({args}): {e:?}"),
                        );
                    }
                }
            }
        }
    }

    fn socket(&mut self, n: usize) {
        let slot = self.slot(n);
        let w = slot.window();
        let (outcome, _) = self.call("socket", &slot.name, || pgdblink::socket(Some(&slot.name)));
        let seen = slot.seen_since(w);
        self.expect_no_notices("socket", &take_notices());
        match outcome {
            Ok(fd) => {
                self.stats
                    .outcome(if fd >= 0 { "socket: fd" } else { "socket: -1" });
                let ok = fd >= 0 || (fd == -1 && (seen.connecting != Some(false) || seen.reset));
                if !ok {
                    self.fail(
                        "socket: no descriptor for a connection that is not broken",
                        format!("socket({}) = {fd}", slot.name),
                    );
                }
            }
            Err(e) => self.check_err(&Rules::new("socket", &["08003"]), n, &e, seen),
        }
    }

    fn consume_input(&mut self, n: usize) {
        let slot = self.slot(n);
        let w = slot.window();
        let (outcome, _) = self.call("consume_input", &slot.name, || {
            pgdblink::consume_input(Some(&slot.name))
        });
        let seen = slot.seen_since(w);
        self.expect_no_notices("consume_input", &take_notices());
        match outcome {
            Ok(ok) => {
                self.stats.outcome(format!("consume_input: {ok}"));
                self.expect_not_connecting("consume_input", n, seen, &ok.to_string());
                if !ok && !seen.reset {
                    self.fail(
                        "a broken connection",
                        format!("consume_input({}) = false", slot.name),
                    );
                }
            }
            Err(e) => self.check_err(&Rules::new("consume_input", &["08003"]), n, &e, seen),
        }
    }

    // --- synchronous queries and cursors --------------------------------------

    /// dblink or dblink_params: a tagged row, or a division by zero; on the
    /// name or (one time in ten) a temporary connection.
    fn dblink(&mut self, n: usize, params: bool) {
        let sh = self.sh;
        let slot = self.slot(n);
        let f = if params { "dblink_params" } else { "dblink" };
        let temporary = self.rng.chance(10);
        let fail_on_error = self.rng.chance(50);
        let zero = self.rng.chance(20);
        let tag = Tag {
            name: n,
            thread: self.id,
            seq: self.seq,
            part: 9,
        }
        .text();
        let (sql, param) = match (params, zero) {
            (true, true) => ("select 1/$1::int".to_owned(), "0".to_owned()),
            (true, false) => ("select $1::text".to_owned(), tag.clone()),
            (false, true) => ("select 1/0".to_owned(), String::new()),
            (false, false) => (format!("select '{tag}'::text"), String::new()),
        };
        let target: &str = if temporary {
            &sh.connstrs[self.rng.below(2) as usize]
        } else {
            &slot.name
        };
        let w = slot.window();
        take_notices();
        let args = format!(
            "{}, {sql:?}, {fail_on_error}",
            if temporary { "<connstr>" } else { &slot.name }
        );
        let (outcome, _) = self.call(f, &args, || {
            if params {
                pgdblink::dblink_params(Some(target), &sql, &[Some(param.as_str())], fail_on_error)
            } else {
                pgdblink::dblink(Some(target), &sql, fail_on_error)
            }
        });
        let notices = take_notices();
        let (seen, notice_name) = if temporary {
            (Seen::NONE, None)
        } else {
            (slot.seen_since(w), Some(slot.name.as_str()))
        };
        let line = dblink_line("while executing query", notice_name);
        // Remote errors: the division by zero; on a name also a cancel
        // (another thread's) and an aborted transaction (a cursor's).
        let mut remote: Vec<&'static str> = Vec::new();
        if zero {
            remote.push("22012");
        }
        if !temporary {
            remote.extend(["57014", "25P02"]);
        }
        let mut allowed: Vec<&'static str> = vec!["08001"];
        if !temporary {
            allowed.extend(["08003", "XX000"]);
        }
        if fail_on_error {
            allowed.extend(remote.iter().copied());
        }
        let refused = if temporary {
            Refused::Live
        } else {
            Refused::NotAName
        };
        let rules = Rules::new(f, &allowed)
            .context(line.clone())
            .refused(refused);
        match outcome {
            Ok(r) if r.status() == Status::Tuples && !zero => {
                self.stats.outcome(format!("{f}: rows"));
                self.expect_no_notices(f, &notices);
                if !temporary {
                    self.expect_not_connecting(f, n, seen, "rows");
                }
                let expected = vec![vec![Some(tag)]];
                if r.rows() != expected {
                    self.fail(
                        "dblink: not its own row",
                        format!("{f}({args}) = {:?}, expected {expected:?}", r.rows()),
                    );
                }
            }
            Ok(r) if r.status() == Status::Error && !fail_on_error => {
                let rules = Rules::new(f, &remote).context(line);
                self.check_error_result(&rules, n, &r, &notices, seen, notice_name);
            }
            Ok(r) => self.fail(
                "dblink: an unexpected result",
                format!("{f}({args}) = {r:?}"),
            ),
            Err(e) => {
                self.expect_no_notices(f, &notices);
                self.check_err(&rules, n, &e, seen);
            }
        }
    }

    /// exec of `cmd` on the name or (`temporary`) a temporary connection.
    fn exec(&mut self, n: usize, cmd: Command, fail_on_error: bool, temporary: bool) -> Ended {
        let sh = self.sh;
        let slot = self.slot(n);
        let payload = Tag {
            name: n,
            thread: self.id,
            seq: self.seq,
            part: 8,
        }
        .text();
        let (sql, expected) = match cmd {
            Command::Set => (
                format!("set application_name = 'stress_t{}'", self.id),
                Some("SET"),
            ),
            Command::Listen => (format!("listen {}", sh.channel), Some("LISTEN")),
            Command::Notify => (
                format!("notify {}, '{payload}'", sh.channel),
                Some("NOTIFY"),
            ),
            Command::Rollback => ("rollback".to_owned(), Some("ROLLBACK")),
            Command::Select => ("select 1".to_owned(), None),
        };
        let target: &str = if temporary {
            &sh.connstrs[self.rng.below(2) as usize]
        } else {
            &slot.name
        };
        let w = slot.window();
        take_notices();
        let args = format!(
            "{}, {sql:?}, {fail_on_error}",
            if temporary { "<connstr>" } else { &slot.name }
        );
        let (outcome, _) = self.call("exec", &args, || {
            pgdblink::exec(Some(target), &sql, fail_on_error)
        });
        let notices = take_notices();
        let (seen, notice_name) = if temporary {
            (Seen::NONE, None)
        } else {
            (slot.seen_since(w), Some(slot.name.as_str()))
        };
        let line = dblink_line("while executing command", notice_name);
        let remote: &[&'static str] = if temporary {
            &[]
        } else {
            &["08006", "57014", "25P02"]
        };
        let mut allowed: Vec<&'static str> = vec!["08001", "2F003"];
        if !temporary {
            allowed.push("08003");
        }
        if fail_on_error {
            allowed.extend(remote.iter().copied());
        }
        let refused = if temporary {
            Refused::Live
        } else {
            Refused::NotAName
        };
        let err_rules = Rules::new("exec", &allowed)
            .context(line.clone())
            .refused(refused);
        let notice_rules = Rules::new("exec", remote).context(line);
        let ended = self.check_text(
            &err_rules,
            &notice_rules,
            n,
            outcome,
            expected,
            fail_on_error,
            &notices,
            seen,
            notice_name,
        );
        if temporary && ended == Ended::Gone {
            Ended::Failed
        } else {
            ended
        }
    }

    /// open, then one or two fetches of 2 rows and a close when it opened.
    fn cursor(&mut self, n: usize) {
        let slot = self.slot(n);
        let name = slot.name.as_str();
        let fail_on_error = self.rng.chance(50);
        let cursor = format!("c_t{}_s{}", self.id, self.seq);
        let tag = Tag {
            name: n,
            thread: self.id,
            seq: self.seq,
            part: 7,
        }
        .text();
        let sql = format!("select '{tag}'::text from generate_series(1, 3)");
        let remote: &[&'static str] = &["08006", "57014", "25P02"];

        // open
        let w = slot.window();
        take_notices();
        let (outcome, _) = self.call("open", &format!("{name}, {cursor}"), || {
            pgdblink::open(Some(name), &cursor, &sql, fail_on_error)
        });
        let notices = take_notices();
        let seen = slot.seen_since(w);
        let line = dblink_line(&format!("while opening cursor \"{cursor}\""), Some(name));
        let mut allowed = vec!["08003", "XX000"];
        if fail_on_error {
            allowed.extend(remote.iter().copied());
        }
        let opened = self.check_text(
            &Rules::new("open", &allowed).context(line.clone()),
            &Rules::new("open", remote).context(line),
            n,
            outcome,
            Some("OK"),
            fail_on_error,
            &notices,
            seen,
            Some(name),
        );
        if opened != Ended::Ok {
            return;
        }

        // fetch: 2 rows, then 1, of this cursor's tag; 34000 once another
        // thread's commit, rollback, reset or disconnect ended the transaction.
        let mut fetched = 0;
        let line = dblink_line(
            &format!("while fetching from cursor \"{cursor}\""),
            Some(name),
        );
        let with_34000: Vec<&'static str> = remote.iter().copied().chain(["34000"]).collect();
        for _ in 0..1 + self.rng.below(2) {
            let w = slot.window();
            take_notices();
            let (outcome, _) = self.call("fetch", &format!("{name}, {cursor}, 2"), || {
                pgdblink::fetch(Some(name), &cursor, 2, fail_on_error)
            });
            let notices = take_notices();
            let seen = slot.seen_since(w);
            let mut allowed = vec!["08003", "34000"];
            if fail_on_error {
                allowed.extend(remote.iter().copied());
            }
            match outcome {
                Ok(r) if r.status() == Status::Tuples => {
                    self.stats.outcome("fetch: rows");
                    self.expect_no_notices("fetch", &notices);
                    self.expect_not_connecting("fetch", n, seen, "rows");
                    let want = 2.min(3 - fetched);
                    let rows = r.rows();
                    if rows.len() != want || rows.iter().any(|row| row != &[Some(tag.clone())]) {
                        self.fail(
                            "fetch: not the cursor's own rows",
                            format!(
                                "fetch({name}, {cursor}) = {rows:?}, expected {want} x {tag} \
                                 ({fetched} fetched before)"
                            ),
                        );
                    }
                    fetched += rows.len().min(3);
                }
                Ok(r) if r.status() == Status::Error && !fail_on_error => {
                    let rules = Rules::new("fetch", &with_34000).context(line.clone());
                    self.check_error_result(&rules, n, &r, &notices, seen, Some(name));
                }
                Ok(r) => self.fail(
                    "fetch: an unexpected result",
                    format!("fetch({name}, {cursor}) = {r:?}"),
                ),
                Err(e) => {
                    self.expect_no_notices("fetch", &notices);
                    let rules = Rules::new("fetch", &allowed).context(line.clone());
                    self.check_err(&rules, n, &e, seen);
                }
            }
        }

        // close
        let w = slot.window();
        take_notices();
        let (outcome, _) = self.call("close", &format!("{name}, {cursor}"), || {
            pgdblink::close(Some(name), &cursor, fail_on_error)
        });
        let notices = take_notices();
        let seen = slot.seen_since(w);
        let line = dblink_line(&format!("while closing cursor \"{cursor}\""), Some(name));
        let mut allowed = vec!["08003", "XX000", "34000"];
        if fail_on_error {
            allowed.extend(remote.iter().copied());
        }
        self.check_text(
            &Rules::new("close", &allowed).context(line.clone()),
            &Rules::new("close", &with_34000).context(line),
            n,
            outcome,
            Some("OK"),
            fail_on_error,
            &notices,
            seen,
            Some(name),
        );
    }

    fn get_connections(&mut self) {
        let windows: Vec<Window> = self.sh.slots.iter().map(Slot::window).collect();
        let (list, _) = self.call("get_connections", "", pgdblink::get_connections);
        self.expect_no_notices("get_connections", &take_notices());
        let list = list.unwrap_or_default();
        let mut sorted = list.clone();
        sorted.sort();
        sorted.dedup();
        if sorted != list {
            self.fail(
                "get_connections not sorted or has duplicates",
                format!("{list:?}"),
            );
        }
        for (slot, &w) in self.sh.slots.iter().zip(&windows) {
            if slot.seen_since(w).connecting == Some(true) && !list.contains(&slot.name) {
                self.fail(
                    "get_connections does not list a connecting name",
                    format!("{} missing from {list:?}", slot.name),
                );
            }
        }
        let ours = list
            .iter()
            .filter(|l| self.sh.slots.iter().any(|s| &s.name == *l))
            .count();
        self.stats
            .outcome(format!("get_connections: {ours} of ours"));
    }
}

// ---------------------------------------------------------------------------
// The watchdog
// ---------------------------------------------------------------------------

/// Aborts the process (a panic here could not stop threads stuck in a
/// call) after writing what every worker was doing, who holds the test's
/// own locks, and the failures so far, straight to stderr, past the test
/// harness's output capture.
fn watchdog(sh: &Shared, run_for: Duration, stop: mpsc::Receiver<()>) {
    let start = Instant::now();
    let mut last = sh.progress.load(Ordering::Relaxed);
    let mut last_change = Instant::now();
    loop {
        match stop.recv_timeout(Duration::from_millis(200)) {
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            _ => return,
        }
        let now = sh.progress.load(Ordering::Relaxed);
        if now != last {
            last = now;
            last_change = Instant::now();
        }
        let why = if last_change.elapsed() > STALL_LIMIT {
            format!("no operation completed for {STALL_LIMIT:?}")
        } else if start.elapsed() > run_for + OVERRUN_LIMIT {
            format!("the run exceeded {run_for:?} + {OVERRUN_LIMIT:?}")
        } else {
            continue;
        };
        let mut report = format!(
            "\nstress WATCHDOG: {why} (seed {:#x}, {now} operations done); the workers:\n",
            sh.seed
        );
        for (i, d) in sh.doing.iter().enumerate() {
            // try_lock: a worker holds its slot only to write it, but the
            // report must not block in any case.
            match d.try_lock() {
                Ok(g) => report.push_str(&format!(
                    "  thread {i:2}: {} (for {:?})\n",
                    g.0,
                    g.1.elapsed()
                )),
                Err(_) => report.push_str(&format!("  thread {i:2}: (status locked)\n")),
            }
        }
        report.push_str("the test's lifecycle locks:\n");
        for s in &sh.slots {
            let holder = s.holder.load(Ordering::SeqCst);
            let connecting = s.connecting.load(Ordering::SeqCst);
            report.push_str(&format!(
                "  {}: {}, connecting={connecting}\n",
                s.name,
                match holder {
                    0 => "free".to_owned(),
                    h => format!("held by thread {}", h - 1),
                }
            ));
        }
        match sh.failures.try_lock() {
            Ok(f) if !f.is_empty() => {
                report.push_str("failures so far:\n");
                report.push_str(&f.report());
            }
            Ok(_) => report.push_str("no failures so far\n"),
            Err(_) => report.push_str("(failures locked)\n"),
        }
        report.push_str(&format!(
            "replay with PGDBLINK_STRESS_SEED={:#x}\n",
            sh.seed
        ));
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(report.as_bytes());
        let _ = err.flush();
        std::process::abort();
    }
}

// ---------------------------------------------------------------------------
// The test
// ---------------------------------------------------------------------------

/// This process's open descriptors as "fd -> target" (without the one the
/// listing itself uses).
fn open_fds() -> Vec<String> {
    let dir = std::fs::read_dir("/proc/self/fd").expect("list /proc/self/fd");
    dir.filter_map(Result::ok)
        .filter_map(|e| {
            let target = std::fs::read_link(e.path()).ok()?;
            (!target.starts_with("/proc")).then(|| {
                format!(
                    "{} -> {}",
                    e.file_name().to_string_lossy(),
                    target.display()
                )
            })
        })
        .collect()
}

#[test]
fn sixteen_threads_random_operations_on_eight_shared_names() {
    let server = shared();
    let seed = seed_from_env();
    let run_for = duration_from_env();
    let excluded = excluded_from_env();
    println!(
        "stress: seed {seed:#x} (replay: PGDBLINK_STRESS_SEED={seed:#x}), {THREADS} threads, \
         {NAMES} names, {run_for:?}, excluded: {:?}",
        excluded.iter().map(|o| o.label()).collect::<Vec<_>>()
    );
    support::notices::install();
    // Whatever libpq sets up once per process is not a leak: connect and
    // cancel once (over both transports) before counting descriptors.
    for connstr in [server.connstr(), server.tcp_connstr()] {
        let warm = unique_name("stress_warm");
        pgdblink::connect(Some(&warm), &connstr).expect("warm-up connect");
        assert_eq!(pgdblink::cancel_query(Some(&warm)), Ok("OK".to_owned()));
        pgdblink::disconnect(Some(&warm)).expect("warm-up disconnect");
    }
    let fds_before = open_fds();
    let sh = Shared {
        seed,
        connstrs: [server.connstr(), server.tcp_connstr()],
        // Port 1: nothing listens there (a free port picked now could be
        // taken later by another test's server on a shared machine).
        dead_connstr: "host=127.0.0.1 port=1 user=postgres dbname=postgres connect_timeout=5"
            .to_owned(),
        channel: unique_name(&format!("stress_chan_{}", std::process::id())),
        slots: (0..NAMES)
            .map(|i| Slot {
                name: unique_name(&format!("stress{i}")),
                book: Mutex::new(Book::default()),
                lifecycle: Mutex::new(()),
                holder: AtomicUsize::new(0),
                epoch: AtomicU64::new(0),
                resets: Overlap::default(),
                cancels: Overlap::default(),
                removals: Overlap::default(),
                connecting: AtomicBool::new(false),
                state_gen: AtomicU64::new(0),
                dead_start: AtomicBool::new(false),
                needs_rollback: AtomicBool::new(false),
            })
            .collect(),
        weights: Op::ALL
            .into_iter()
            .filter(|op| !excluded.contains(op))
            .map(|op| (op, op.weight()))
            .collect(),
        last_disconnect_all: Mutex::new(None),
        progress: AtomicU64::new(0),
        doing: (0..THREADS)
            .map(|_| Mutex::new(("not started".to_owned(), Instant::now())))
            .collect(),
        failures: Mutex::new(Failures::default()),
        stop: AtomicBool::new(false),
    };
    assert!(!sh.weights.is_empty(), "every operation is excluded");
    let started = Instant::now();
    let deadline = started + run_for;
    let (stop_watchdog, stopped) = mpsc::channel();
    let mut total = Stats::default();
    thread::scope(|s| {
        let sh = &sh;
        s.spawn(move || watchdog(sh, run_for, stopped));
        let workers: Vec<_> = (0..THREADS)
            .map(|id| {
                thread::Builder::new()
                    .name(format!("stress-{id}"))
                    .spawn_scoped(s, move || {
                        let mut w = Worker {
                            id,
                            rng: Rng::new(seed, id as u64),
                            sh,
                            seq: 0,
                            stats: Stats::default(),
                        };
                        w.run(deadline);
                        w.stats
                    })
                    .expect("spawn a worker")
            })
            .collect();
        for (id, w) in workers.into_iter().enumerate() {
            match w.join() {
                Ok(stats) => total.merge(stats),
                Err(_) => sh.fail(id, 0, "a worker panicked", "the worker panicked".to_owned()),
            }
        }
        // Still under the watchdog: close everything (names still
        // connecting included).
        *lock(&sh.doing[0]) = ("final disconnects".to_owned(), Instant::now());
        for slot in &sh.slots {
            match pgdblink::disconnect(Some(&slot.name)) {
                Ok(()) => {}
                Err(e) if e.sqlstate == "08003" => {}
                Err(e) => sh.fail(
                    0,
                    0,
                    "final disconnect failed",
                    format!("final disconnect({}): {e:?}", slot.name),
                ),
            }
        }
        let left: Vec<String> = pgdblink::get_connections()
            .unwrap_or_default()
            .into_iter()
            .filter(|l| sh.slots.iter().any(|s| &s.name == l))
            .collect();
        if !left.is_empty() {
            sh.fail(
                0,
                0,
                "names listed after disconnecting them",
                format!("still listed after disconnecting: {left:?}"),
            );
        }
        sh.stop.store(true, Ordering::Relaxed);
        stop_watchdog.send(()).expect("the watchdog is running");
    });
    let elapsed = started.elapsed();
    // Every connection is closed and every thread has ended: the 42710
    // losers of connect races, the cancels, the temporary connections, the
    // abandoned connect_starts and the disconnects left no descriptor behind.
    let fds_after = open_fds();
    if fds_after.len() > fds_before.len() {
        let new: Vec<&String> = fds_after
            .iter()
            .filter(|f| !fds_before.contains(f))
            .collect();
        sh.fail(
            0,
            0,
            "descriptors left open",
            format!(
                "{} descriptors open before the run, {} after; new: {new:?}",
                fds_before.len(),
                fds_after.len()
            ),
        );
    }
    // Every public function was called.
    if run_for >= COVERAGE_AFTER {
        let missing: Vec<&str> = FUNCTIONS
            .iter()
            .filter(|(f, op)| !excluded.contains(op) && !total.calls.contains_key(f))
            .map(|(f, _)| *f)
            .collect();
        if !missing.is_empty() {
            sh.fail(
                0,
                0,
                "functions never called",
                format!("{missing:?} were never called"),
            );
        }
    }

    let ops: u64 = total.ops.values().sum();
    println!(
        "stress summary: {ops} operations in {elapsed:.1?} ({:.0}/s)",
        ops as f64 / elapsed.as_secs_f64()
    );
    for (k, v) in &total.ops {
        println!("  op {k:20} {v}");
    }
    for (k, v) in &total.calls {
        println!("  call {k:20} {v}");
    }
    for (k, v) in &total.errors {
        println!("  error {k}        {v}");
    }
    for (k, v) in &total.outcomes {
        println!("  outcome {k}: {v}");
    }
    for (k, v) in &total.messages {
        println!("  error_message {k:?}: {v}");
    }
    let failures = lock(&sh.failures);
    assert!(
        failures.is_empty(),
        "seed {seed:#x} (replay with PGDBLINK_STRESS_SEED={seed:#x}): failures by kind:\n{}",
        failures.report()
    );
    assert!(
        total.outcomes.get("tags verified").copied().unwrap_or(0) > 0,
        "no tagged row was ever read: the test checked nothing"
    );
}
