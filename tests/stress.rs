//! Concurrency stress: 16 threads run random operations on 8 shared
//! connection names for `PGDBLINK_STRESS_SECS` seconds (default 5; the soak,
//! `scripts/soak.sh`, uses 60), with a watchdog that aborts the process with
//! a report of what every thread was doing when no operation completes for
//! 30 s or the run exceeds its duration + 60 s.
//!
//! The operation sequences come from a seeded xorshift PRNG: the seed is
//! printed, and `PGDBLINK_STRESS_SEED=<seed>` replays the same per-thread
//! sequences (the interleaving of the threads is up to the scheduler).
//!
//! # The thread-safety promise this test checks
//!
//! Every function may be called from any thread at any time, on the same
//! name or on different names, with no coordination by the caller:
//!
//! * No call crashes or deadlocks. A call waits only for the calls in
//!   progress (or queued before it) on the **same** name; calls on
//!   different names never wait for each other; `connect` of a named
//!   connection and `get_connections` never wait for a call in progress
//!   (connecting the unnamed one closes the previous unnamed connection,
//!   which waits for its call in progress), and `cancel_query` only for
//!   another `cancel_query` on the same name.
//! * Calls that use a connection (`send_query`, `send_query_params`,
//!   `is_busy`, `get_result`, `error_message`, ...) are serialized per
//!   name: each one runs whole while holding that connection's lock, so two
//!   threads never interleave inside one libpq call sequence.
//! * The results of a query are delivered exactly once, in order, to
//!   whichever thread calls `get_result` on that name next — not
//!   necessarily the thread that sent it. A result read from name N always
//!   belongs to a query that was sent on N's current connection and has not
//!   been read yet: never a row of a query sent on another name, never a row
//!   twice, never a row of a query sent on a connection that `disconnect`
//!   has closed since (a reader that started before the disconnect may still
//!   get it).
//! * `send_query` on a name whose previous query is unfinished (another
//!   thread sent it and has not read its final empty set yet) waits for the
//!   connection lock, then returns `false` (dblink's 0) with the NOTICE
//!   `could not send query: ... another command is already in progress`
//!   (libpq's error buffer, so earlier texts of the same query cycle may
//!   precede it, as in dblink); that query is not sent. A send that
//!   returned `true` was sent; one that returned `false` or an error was
//!   not.
//! * `cancel_query` does not wait for the connection lock: it can interrupt
//!   a `get_result` blocked in another thread (which then returns 57014).
//!   A cancel that reaches the server after the query it aimed at finished
//!   is ignored, or cancels the next query on that connection (57014 there).
//! * `disconnect(N)` waits for a call in progress on N, then closes it; a
//!   call on N that starts after it returns `08003 connection "N" not
//!   available` until `connect(N)` succeeds. Of two threads connecting the
//!   same name, one succeeds and the other gets 42710 `duplicate connection
//!   name` (its new connection is closed).
//! * `get_connections` is a sorted snapshot without duplicates.
//! * `error_message(N)` is the last libpq message of N's connection, which
//!   another thread's call may have set.
//!
//! The checks: every call returns one of the outcomes above (errors only
//! 08003, 42710, 22012 from `select 1/0`, 57014 from cancels); every row
//! carries a tag (`n<name>t<thread>s<seq>p<part>`) that the test recorded,
//! before the send, for that name — and not yet read, and not orphaned by a
//! disconnect that completed before the reading call started; a send that
//! returned false comes with the NOTICE above; no connection ever breaks;
//! and at the end, after disconnecting the 8 names, `get_connections` lists
//! none of them and no file descriptor is left open.

mod support;

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, mpsc};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pgdblink::{DblinkResult, Error, Status};
use support::{shared, unique_name};

const THREADS: usize = 16;
const NAMES: usize = 8;
/// No operation completed for this long: a deadlock (or a hang).
const STALL_LIMIT: Duration = Duration::from_secs(30);
/// The run may exceed its duration by this much.
const OVERRUN_LIMIT: Duration = Duration::from_secs(60);
/// libpq's reason for refusing a send while a query is unfinished.
const BUSY: &str = "another command is already in progress";

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

// ---------------------------------------------------------------------------
// Operations and statistics
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Connect,
    Disconnect,
    Send,
    IsBusy,
    GetResult,
    Cancel,
    ErrorMessage,
    GetConnections,
}

impl Op {
    const ALL: [Op; 8] = [
        Op::Connect,
        Op::Disconnect,
        Op::Send,
        Op::IsBusy,
        Op::GetResult,
        Op::Cancel,
        Op::ErrorMessage,
        Op::GetConnections,
    ];

    /// Relative frequency, in percent.
    fn weight(self) -> u64 {
        match self {
            Op::Connect => 8,
            Op::Disconnect => 3,
            Op::Send => 27,
            Op::IsBusy => 11,
            Op::GetResult => 30,
            Op::Cancel => 4,
            Op::ErrorMessage => 9,
            Op::GetConnections => 8,
        }
    }

    fn pick(rng: &mut Rng) -> Op {
        let total: u64 = Op::ALL.iter().map(|o| o.weight()).sum();
        let mut r = rng.below(total);
        for op in Op::ALL {
            if r < op.weight() {
                return op;
            }
            r -= op.weight();
        }
        Op::GetResult
    }

    fn label(self) -> &'static str {
        match self {
            Op::Connect => "connect",
            Op::Disconnect => "disconnect",
            Op::Send => "send",
            Op::IsBusy => "is_busy",
            Op::GetResult => "get_result",
            Op::Cancel => "cancel",
            Op::ErrorMessage => "error_message",
            Op::GetConnections => "get_connections",
        }
    }
}

#[derive(Default)]
struct Stats {
    ops: BTreeMap<&'static str, u64>,
    /// Errors (returned `Err`, or `Status::Error` results) per SQLSTATE.
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
// The book of sent queries
// ---------------------------------------------------------------------------

/// A row's tag: which name, thread, send and part (statement) it comes from.
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
    /// Recorded before the send; not read yet; the connection is still open.
    outstanding: HashSet<Tag>,
    /// Not read when a disconnect closed their connection: the epoch the
    /// name had then (a reader that started in that epoch may still get it).
    orphaned: HashMap<Tag, u64>,
    /// Already delivered once.
    read: HashSet<Tag>,
}

/// One shared name: its book, the lock that keeps "record + send" and
/// "disconnect + orphan" atomic with respect to each other, and its epoch
/// (how many disconnects have completed).
struct Slot {
    name: String,
    book: Mutex<Book>,
    lifecycle: Mutex<()>,
    epoch: AtomicU64,
}

/// State shared by the workers and the watchdog.
struct Shared {
    seed: u64,
    connstrs: [String; 2],
    slots: Vec<Slot>,
    /// Completed operations, for the watchdog.
    progress: AtomicU64,
    /// What each worker is doing right now, and since when.
    doing: Vec<Mutex<(String, Instant)>>,
    failures: Mutex<Vec<String>>,
    stop: AtomicBool,
}

impl Shared {
    fn fail(&self, thread: usize, seq: u64, what: String) {
        let mut f = lock(&self.failures);
        if f.len() < 50 {
            f.push(format!("thread {thread} op #{seq}: {what}"));
        }
    }
}

// ---------------------------------------------------------------------------
// Notices, per thread (the handler runs on the calling thread)
// ---------------------------------------------------------------------------

thread_local! {
    static NOTICES: RefCell<Vec<(Option<String>, Error)>> = const { RefCell::new(Vec::new()) };
}

fn install_notice_handler() {
    pgdblink::set_notice_handler(Some(Arc::new(|name: Option<&str>, e: &Error| {
        NOTICES.with(|n| n.borrow_mut().push((name.map(str::to_owned), e.clone())));
    })));
}

fn take_notices() -> Vec<(Option<String>, Error)> {
    NOTICES.with(|n| std::mem::take(&mut *n.borrow_mut()))
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

impl Worker<'_> {
    fn fail(&self, what: String) {
        self.sh.fail(self.id, self.seq, what);
    }

    /// Errors every operation on a shared name may meet.
    fn check_error(&mut self, op: &str, name: &str, e: &Error, allowed: &[&str]) {
        self.stats.error(e);
        if !allowed.contains(&e.sqlstate.as_str()) {
            self.fail(format!("{op}({name}): unexpected error {e:?}"));
        } else if e.sqlstate == "08003"
            && e.message != format!("connection \"{name}\" not available")
        {
            self.fail(format!("{op}({name}): 08003 with the wrong text: {e:?}"));
        }
    }

    fn run(&mut self, deadline: Instant) {
        while Instant::now() < deadline && !self.sh.stop.load(Ordering::Relaxed) {
            self.seq += 1;
            let op = Op::pick(&mut self.rng);
            let n = self.rng.below(NAMES as u64) as usize;
            *lock(&self.sh.doing[self.id]) = (
                format!("op #{} {}({})", self.seq, op.label(), self.sh.slots[n].name),
                Instant::now(),
            );
            *self.stats.ops.entry(op.label()).or_default() += 1;
            take_notices();
            match op {
                Op::Connect => self.connect(n),
                Op::Disconnect => self.disconnect(n),
                Op::Send => self.send(n),
                Op::IsBusy => self.is_busy(n),
                Op::GetResult => self.get_result(n),
                Op::Cancel => self.cancel(n),
                Op::ErrorMessage => self.error_message(n),
                Op::GetConnections => self.get_connections(),
            }
            self.sh.progress.fetch_add(1, Ordering::Relaxed);
        }
        *lock(&self.sh.doing[self.id]) = ("finished".to_owned(), Instant::now());
    }

    fn connect(&mut self, n: usize) {
        let slot = &self.sh.slots[n];
        let connstr = &self.sh.connstrs[self.rng.below(2) as usize];
        match pgdblink::connect(Some(&slot.name), connstr) {
            Ok(()) => self.stats.outcome("connect: ok"),
            Err(e) => {
                self.check_error("connect", &slot.name, &e, &["42710"]);
                if e.sqlstate == "42710" && e.message != "duplicate connection name" {
                    self.fail(format!("connect({}): {e:?}", slot.name));
                }
            }
        }
    }

    fn disconnect(&mut self, n: usize) {
        let slot = &self.sh.slots[n];
        let _life = lock(&slot.lifecycle);
        match pgdblink::disconnect(Some(&slot.name)) {
            Ok(()) => {
                let epoch = slot.epoch.load(Ordering::SeqCst);
                let mut book = lock(&slot.book);
                let gone: Vec<Tag> = book.outstanding.drain().collect();
                book.orphaned.extend(gone.into_iter().map(|t| (t, epoch)));
                slot.epoch.store(epoch + 1, Ordering::SeqCst);
                self.stats.outcome("disconnect: ok");
            }
            Err(e) => self.check_error("disconnect", &slot.name, &e, &["08003"]),
        }
    }

    fn send(&mut self, n: usize) {
        let slot = &self.sh.slots[n];
        let tag = |part| Tag {
            name: n,
            thread: self.id,
            seq: self.seq,
            part,
        };
        let kind = self.rng.below(100);
        let (sql, params, tags): (String, Option<String>, Vec<Tag>) = match kind {
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
            70..85 => (
                format!(
                    "select '{}'::text; select '{}'::text",
                    tag(1).text(),
                    tag(2).text()
                ),
                None,
                vec![tag(1), tag(2)],
            ),
            _ => (
                "select $1::text".to_owned(),
                Some(tag(0).text()),
                vec![tag(0)],
            ),
        };
        let _life = lock(&slot.lifecycle);
        lock(&slot.book).outstanding.extend(tags.iter().copied());
        let sent = match &params {
            None => pgdblink::send_query(Some(&slot.name), &sql),
            Some(p) => pgdblink::send_query_params(Some(&slot.name), &sql, &[Some(p.as_str())]),
        };
        let notices = take_notices();
        let sent = match sent {
            Ok(true) => {
                self.stats.outcome("send: 1");
                if !notices.is_empty() {
                    self.fail(format!("send({}) = 1 with notices {notices:?}", slot.name));
                }
                true
            }
            Ok(false) => {
                self.stats.outcome("send: 0 (another command in progress)");
                // libpq appends to the connection's error buffer until the
                // next query is sent, so earlier texts (e.g. `ERROR:  division
                // by zero`, earlier refusals) may precede the last line, as
                // in dblink.
                let ok = matches!(notices.as_slice(),
                    [(Some(nm), e)] if nm == &slot.name
                        && e.sqlstate == "00000"
                        && e.message.starts_with("could not send query: ")
                        && e.message.ends_with(BUSY));
                if !ok {
                    self.fail(format!(
                        "send({}) = 0 with notices {notices:?}, expected one NOTICE \
                         `could not send query: ...` ending with {BUSY:?}",
                        slot.name
                    ));
                }
                false
            }
            Err(e) => {
                self.check_error("send", &slot.name, &e, &["08003"]);
                false
            }
        };
        if !sent {
            let mut book = lock(&slot.book);
            for t in &tags {
                if !book.outstanding.remove(t) {
                    self.fail(format!(
                        "send({}, {sql:?}) reported failure, yet {} was already read",
                        slot.name,
                        t.text()
                    ));
                }
            }
        }
    }

    fn is_busy(&mut self, n: usize) {
        let name = &self.sh.slots[n].name;
        match pgdblink::is_busy(Some(name)) {
            Ok(b) => self.stats.outcome(format!("is_busy: {}", u8::from(b))),
            Err(e) => self.check_error("is_busy", &name.clone(), &e, &["08003"]),
        }
    }

    fn get_result(&mut self, n: usize) {
        let slot = &self.sh.slots[n];
        let fail_on_error = self.rng.chance(50);
        let epoch = slot.epoch.load(Ordering::SeqCst);
        let res = pgdblink::get_result(Some(&slot.name), fail_on_error);
        let notices = take_notices();
        match res {
            Ok(r) => self.check_result(n, epoch, fail_on_error, &r, &notices),
            Err(e) => {
                if !notices.is_empty() {
                    self.fail(format!(
                        "get_result({}) raised with notices {notices:?}",
                        slot.name
                    ));
                }
                let allowed: &[&str] = if fail_on_error {
                    &["08003", "22012", "57014"]
                } else {
                    &["08003"]
                };
                self.check_error("get_result", &slot.name, &e, allowed);
                self.check_remote_error_text(&slot.name, &e);
            }
        }
    }

    /// The words of the two remote errors the queries can raise.
    fn check_remote_error_text(&self, name: &str, e: &Error) {
        let expected = match e.sqlstate.as_str() {
            "22012" => "division by zero",
            "57014" => "canceling statement due to user request",
            _ => return,
        };
        let context = format!("while executing query on dblink connection named \"{name}\"");
        if e.message != expected || e.context.as_deref() != Some(context.as_str()) {
            self.fail(format!("get_result({name}): remote error {e:?}"));
        }
    }

    fn check_result(
        &mut self,
        n: usize,
        epoch: u64,
        fail_on_error: bool,
        r: &DblinkResult,
        notices: &[(Option<String>, Error)],
    ) {
        let slot = &self.sh.slots[n];
        match r.status() {
            Status::Done => self.stats.outcome("get_result: done"),
            Status::Command => {
                self.fail(format!("get_result({}): a command status {r:?}", slot.name))
            }
            Status::Error => {
                self.stats.outcome("get_result: error result");
                let Some(e) = r.error() else {
                    self.fail(format!("get_result({}): Error without error", slot.name));
                    return;
                };
                self.stats.error(e);
                if fail_on_error || !["22012", "57014"].contains(&e.sqlstate.as_str()) {
                    self.fail(format!(
                        "get_result({}, fail_on_error={fail_on_error}): {e:?}",
                        slot.name
                    ));
                }
                self.check_remote_error_text(&slot.name, e);
                let ok = matches!(notices, [(Some(nm), ne)] if nm == &slot.name && ne == e);
                if !ok {
                    self.fail(format!(
                        "get_result({}): error result {e:?} came with notices {notices:?}",
                        slot.name
                    ));
                }
                return;
            }
            Status::Tuples => {
                self.stats.outcome("get_result: rows");
                let rows = r.rows();
                let [row] = rows.as_slice() else {
                    self.fail(format!("get_result({}): not one row: {rows:?}", slot.name));
                    return;
                };
                let [Some(text)] = row.as_slice() else {
                    self.fail(format!("get_result({}): not one text: {rows:?}", slot.name));
                    return;
                };
                self.check_tag(n, epoch, text);
            }
        }
        if !notices.is_empty() {
            self.fail(format!(
                "get_result({}): {r:?} with notices {notices:?}",
                slot.name
            ));
        }
    }

    /// The row's tag was sent on this name, is read for the first time, and
    /// was not orphaned by a disconnect that completed before this read began.
    fn check_tag(&mut self, n: usize, epoch: u64, text: &str) {
        let slot = &self.sh.slots[n];
        let Some(tag) = Tag::parse(text) else {
            self.fail(format!(
                "get_result({}): a row that is no tag: {text:?}",
                slot.name
            ));
            return;
        };
        if tag.name != n {
            self.fail(format!(
                "get_result({}) returned {text}, a row of a query sent on {}",
                slot.name,
                self.sh.slots.get(tag.name).map_or("?", |s| s.name.as_str())
            ));
            return;
        }
        let mut book = lock(&slot.book);
        if book.outstanding.remove(&tag) {
            book.read.insert(tag);
            self.stats.outcome("tags verified");
        } else if let Some(orphaned_in) = book.orphaned.remove(&tag) {
            if epoch > orphaned_in {
                self.fail(format!(
                    "get_result({}) returned {text}, sent on a connection that a disconnect \
                     closed before this get_result began (epoch {orphaned_in} < {epoch})",
                    slot.name
                ));
            }
            book.read.insert(tag);
            self.stats
                .outcome("tags verified (read while disconnecting)");
        } else if book.read.contains(&tag) {
            self.fail(format!(
                "get_result({}) returned {text} a second time",
                slot.name
            ));
        } else {
            self.fail(format!(
                "get_result({}) returned {text}, which no successful send sent",
                slot.name
            ));
        }
    }

    fn cancel(&mut self, n: usize) {
        let name = self.sh.slots[n].name.clone();
        match pgdblink::cancel_query(Some(&name)) {
            Ok(text) if text == "OK" => self.stats.outcome("cancel: OK"),
            Ok(text) => {
                self.stats.outcome(format!("cancel: {text}"));
                self.fail(format!("cancel_query({name}) = {text:?}"));
            }
            Err(e) => self.check_error("cancel_query", &name, &e, &["08003"]),
        }
    }

    fn error_message(&mut self, n: usize) {
        let name = self.sh.slots[n].name.clone();
        match pgdblink::error_message(Some(&name)) {
            Ok(text) => {
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
                if broken.iter().any(|b| text.contains(b)) {
                    self.fail(format!(
                        "error_message({name}) = {text:?}: a broken connection"
                    ));
                }
                *self.stats.messages.entry(first).or_default() += 1;
            }
            Err(e) => self.check_error("error_message", &name, &e, &["08003"]),
        }
    }

    fn get_connections(&mut self) {
        let Some(list) = pgdblink::get_connections() else {
            self.stats.outcome("get_connections: NULL");
            return;
        };
        let mut sorted = list.clone();
        sorted.sort();
        sorted.dedup();
        if sorted != list {
            self.fail(format!(
                "get_connections not sorted or has duplicates: {list:?}"
            ));
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
/// call) after writing what every worker was doing straight to stderr, past
/// the test harness's output capture.
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
            // try_lock: a worker never holds its slot across a call, but the
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
    println!(
        "stress: seed {seed:#x} (replay: PGDBLINK_STRESS_SEED={seed:#x}), {THREADS} threads, \
         {NAMES} names, {run_for:?}"
    );
    install_notice_handler();
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
        slots: (0..NAMES)
            .map(|i| Slot {
                name: unique_name(&format!("stress{i}")),
                book: Mutex::new(Book::default()),
                lifecycle: Mutex::new(()),
                epoch: AtomicU64::new(0),
            })
            .collect(),
        progress: AtomicU64::new(0),
        doing: (0..THREADS)
            .map(|_| Mutex::new(("not started".to_owned(), Instant::now())))
            .collect(),
        failures: Mutex::new(Vec::new()),
        stop: AtomicBool::new(false),
    };
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
                Err(_) => sh.fail(id, 0, "the worker panicked".to_owned()),
            }
        }
        // Still under the watchdog: close everything.
        *lock(&sh.doing[0]) = ("final disconnects".to_owned(), Instant::now());
        for slot in &sh.slots {
            match pgdblink::disconnect(Some(&slot.name)) {
                Ok(()) => {}
                Err(e) if e.sqlstate == "08003" => {}
                Err(e) => sh.fail(0, 0, format!("final disconnect({}): {e:?}", slot.name)),
            }
        }
        let left: Vec<String> = pgdblink::get_connections()
            .unwrap_or_default()
            .into_iter()
            .filter(|l| sh.slots.iter().any(|s| &s.name == l))
            .collect();
        if !left.is_empty() {
            sh.fail(0, 0, format!("still listed after disconnecting: {left:?}"));
        }
        sh.stop.store(true, Ordering::Relaxed);
        stop_watchdog.send(()).expect("the watchdog is running");
    });
    pgdblink::set_notice_handler(None);
    let elapsed = started.elapsed();
    // Every connection is closed and every thread has ended: the 42710
    // losers of connect races, the cancels and the disconnects left no
    // descriptor behind.
    let fds_after = open_fds();
    if fds_after.len() > fds_before.len() {
        let new: Vec<&String> = fds_after
            .iter()
            .filter(|f| !fds_before.contains(f))
            .collect();
        sh.fail(
            0,
            0,
            format!(
                "{} descriptors open before the run, {} after; new: {new:?}",
                fds_before.len(),
                fds_after.len()
            ),
        );
    }

    let ops: u64 = total.ops.values().sum();
    println!(
        "stress summary: {ops} operations in {elapsed:.1?} ({:.0}/s)",
        ops as f64 / elapsed.as_secs_f64()
    );
    for (k, v) in &total.ops {
        println!("  op {k:16} {v}");
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
        "seed {seed:#x} (replay with PGDBLINK_STRESS_SEED={seed:#x}): {} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        total.outcomes.get("tags verified").copied().unwrap_or(0) > 0,
        "no tagged row was ever read: the test checked nothing"
    );
}
