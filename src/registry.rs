//! The process-wide map of named connections, plus dblink's unnamed slot,
//! and the concurrency model of one connection.
//!
//! # Locks, and the order they are taken in
//!
//! 1. The **name map** (`RwLock`) and the **unnamed slot** (`Mutex`): held
//!    only to look a name up, insert or remove it. Nothing else is locked
//!    while one of them is held, and nothing waits while holding one.
//! 2. A connection's **session** lock ([`Entry::lock`]): held by a call for
//!    the whole time it uses the `PGconn`, network waits included. A call
//!    with a timeout waits for it only until its deadline
//!    ([`Entry::lock_until`]); a call without one waits as long as the call
//!    in progress does. While holding it, a call may take (3) and (4), and
//!    nothing else.
//! 3. The **cancel slot** (`Mutex<Option<Arc<..>>>`): held only to clone or
//!    replace the cancel handle, never across a wait. The **cancel request**
//!    lock inside the handle is held across the cancel's network exchange,
//!    bounded by the cancel's timeout, and is taken with no other lock held:
//!    the cancel path never takes the session lock, so it cannot wait for
//!    the reader it is meant to interrupt, nor deadlock with connect_poll or
//!    reset (which hold the session and replace the handle).
//! 4. The **wake socket** (`RwLock<Option<OwnedFd>>`): our own duplicate of
//!    the connection's socket. wait_any/wait_all hold it shared across their
//!    poll (with no session lock held: they never take (2) while holding
//!    (4)); closing and reset hold it exclusively to replace it, after
//!    shutting the socket down so that every poller has already woken.
//!
//! Connection state read without the session lock is atomic: whether the
//! connection is closed, still connecting, or had a socket after its last
//! call, and its epoch.
//!
//! # Waking waiters
//!
//! Every wait on a connection's socket, inside a call (under the session
//! lock) or in wait_any (under the wake socket's shared lock), is woken by
//! [`Entry::wake`]: it bumps the epoch and `shutdown(2)`s the socket through
//! our duplicate, so every poller returns at once and every later read or
//! write fails. A woken call sees the epoch changed and reports 08003 (the
//! connection was closed) or 08006 (it was reset), instead of libpq's text.
//! disconnect, disconnect_all, reset and the replacement of the unnamed
//! connection take the session lock at once when it is free (so that libpq
//! still sends its Terminate message), else wake the call holding it and
//! then take it (now promptly free); then they close. A descriptor is only ever polled while we own it: the wake
//! socket is closed only under its exclusive lock.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::raw::c_int;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};

use parking_lot::{Mutex, MutexGuard, RwLock, RwLockReadGuard};

use crate::error::{Error, Result, sqlstate};
use crate::pq::{self, Canceller, Conn, Deadline};

/// The name map's hash (FxHash's mixing): every call hashes its connection
/// name, and SipHash cost a quarter of the wrapper's own per-call work. Names
/// come from the host program, not from the network, so flooding resistance
/// is not needed.
#[derive(Default)]
struct NameHasher(u64);

impl Hasher for NameHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let word = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
            self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// dblink truncates connection names as identifiers: NAMEDATALEN - 1 bytes.
const MAX_NAME_BYTES: usize = 63;

/// A connection's state that changes together with its `PGconn`.
pub(crate) struct Session {
    /// `None` once disconnected (other threads may still hold the entry).
    pub(crate) conn: Option<Conn>,
    /// dblink's `openCursorCount`: cursors opened by `open` and not closed.
    pub(crate) open_cursors: u32,
    /// dblink's `newXactForCursor`: `open` began the remote transaction.
    pub(crate) new_xact_for_cursor: bool,
}

/// dblink's cursor bookkeeping of a connection.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CursorState {
    open_cursors: u32,
    new_xact_for_cursor: bool,
}

/// A cancel handle, behind the lock held across its network exchange.
pub(crate) type CancelHandle = Arc<Mutex<Canceller>>;

/// One registered connection.
pub(crate) struct Entry {
    session: Mutex<Session>,
    cancel: Mutex<Option<CancelHandle>>,
    /// Our duplicate of the connection's socket (see the module docs).
    wake: RwLock<Option<OwnedFd>>,
    /// Bumped whenever the connection is closed or reset under a waiter.
    epoch: AtomicU64,
    closed: AtomicBool,
    /// Resets waiting for the session or running: calls that get the
    /// session meanwhile fail (08006) instead of using the old connection.
    resetting: AtomicUsize,
    /// A non-blocking connect (`connect_start`) has not finished yet.
    connecting: AtomicBool,
    /// Whether the connection still has a socket, as last seen by a call
    /// that held the session; read by cancel without the session lock.
    socket_open: AtomicBool,
    /// The fork generation of the process that made it.
    born: u64,
}

impl Entry {
    /// An entry for an established connection.
    pub(crate) fn new(conn: Conn) -> Arc<Entry> {
        let entry = Entry::with(conn, false);
        entry.arm(&entry.lock());
        entry
    }

    /// An entry for a connection still being established (`connect_start`);
    /// it is armed (cancel handle, wake socket) when the connect completes.
    pub(crate) fn connecting(conn: Conn) -> Arc<Entry> {
        Entry::with(conn, true)
    }

    fn with(conn: Conn, connecting: bool) -> Arc<Entry> {
        Arc::new(Entry {
            session: Mutex::new(Session {
                conn: Some(conn),
                open_cursors: 0,
                new_xact_for_cursor: false,
            }),
            cancel: Mutex::new(None),
            wake: RwLock::new(None),
            epoch: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            resetting: AtomicUsize::new(0),
            connecting: AtomicBool::new(connecting),
            socket_open: AtomicBool::new(true),
            born: pq::process_generation(),
        })
    }

    /// Makes an established connection's cancel handle and wake socket
    /// (after connect, connect_poll's completion, or reset). Call with the
    /// session held.
    pub(crate) fn arm(&self, session: &Session) {
        let Some(conn) = session.conn.as_ref() else {
            return;
        };
        self.socket_open
            .store(conn.socket() >= 0, Ordering::Release);
        let dup = conn.dup_socket();
        let old = std::mem::replace(&mut *self.wake.write(), dup);
        drop(old);
        let handle = Canceller::new(conn).map(|c| Arc::new(Mutex::new(c)));
        *self.cancel.lock() = handle;
        self.connecting.store(false, Ordering::Release);
    }

    /// Makes our duplicate follow the socket a reconnect is about to wait
    /// on (`dup`, made by the connection itself).
    pub(crate) fn watch_socket(&self, dup: Option<OwnedFd>) {
        let old = std::mem::replace(&mut *self.wake.write(), dup);
        drop(old);
    }

    /// Records whether the connection still has a socket (after a call);
    /// when libpq dropped it, ours is shut down and closed too.
    pub(crate) fn note_socket(&self, session: &Session) {
        let open = session.conn.as_ref().is_some_and(|c| c.socket() >= 0);
        if self.socket_open.swap(open, Ordering::AcqRel) && !open {
            self.retire_wake_socket();
        }
    }

    /// Whether the connection had a socket after the last call on it.
    pub(crate) fn socket_open(&self) -> bool {
        self.socket_open.load(Ordering::Acquire)
    }

    /// Whether a `connect_start` on it has not completed.
    pub(crate) fn is_connecting(&self) -> bool {
        self.connecting.load(Ordering::Acquire)
    }

    /// Whether a reset of it is pending or running.
    pub(crate) fn is_resetting(&self) -> bool {
        self.resetting.load(Ordering::Acquire) > 0
    }

    /// Marks a reset as pending until the guard drops.
    pub(crate) fn resetting(&self) -> Resetting<'_> {
        self.resetting.fetch_add(1, Ordering::AcqRel);
        Resetting(self)
    }

    /// Whether it was closed (disconnected, or replaced).
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// The current epoch: a call remembers it, and a change while it waits
    /// means it was woken by a close or reset.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Locks the session; waits for any call in progress on this connection.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Session> {
        self.session.lock()
    }

    /// Locks the session, waiting at most until `deadline` (`None`: as long
    /// as it takes); `None` when the deadline passed first.
    pub(crate) fn lock_until(&self, deadline: Deadline) -> Option<MutexGuard<'_, Session>> {
        match deadline {
            None => Some(self.session.lock()),
            Some(d) => self.session.try_lock_until(d),
        }
    }

    /// The cancel handle, if the connection has one (taken without the
    /// session lock).
    pub(crate) fn cancel_handle(&self) -> Option<CancelHandle> {
        self.cancel.lock().clone()
    }

    /// Our descriptor of the socket, held shared for a poll (wait_any).
    pub(crate) fn wake_socket(&self) -> RwLockReadGuard<'_, Option<OwnedFd>> {
        self.wake.read()
    }

    /// The raw number of the descriptor a wake-socket guard holds, -1 for none.
    pub(crate) fn raw(guard: &Option<OwnedFd>) -> c_int {
        guard.as_ref().map_or(-1, |fd| fd.as_raw_fd())
    }

    /// Wakes every thread waiting on this connection's socket (see the
    /// module docs). Takes no session lock. In a process that inherited the
    /// connection through fork, the shared socket is left alone.
    pub(crate) fn wake(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        if let Some(fd) = self.wake.read().as_ref() {
            if !self.inherited() {
                pq::shutdown_socket(fd);
            }
        }
    }

    /// Shuts our duplicate down (waking its pollers) and closes it (after
    /// libpq closed or replaced the socket; the session is held).
    pub(crate) fn retire_wake_socket(&self) {
        if let Some(fd) = self.wake.read().as_ref() {
            if !self.inherited() {
                pq::shutdown_socket(fd);
            }
        }
        let old = self.wake.write().take();
        drop(old);
    }

    /// Whether this process inherited the connection through fork.
    fn inherited(&self) -> bool {
        self.born != pq::process_generation()
    }

    /// Locks the session for closing or resetting it: at once when no call
    /// is in progress (so that libpq can still say goodbye to the server
    /// with a Terminate message), else after waking that call.
    pub(crate) fn lock_waking(&self) -> MutexGuard<'_, Session> {
        if let Some(s) = self.session.try_lock() {
            return s;
        }
        self.wake();
        self.session.lock()
    }

    /// Closes the connection (`PQfinish`, with the session held), then our
    /// duplicate of its socket; returns its cursor bookkeeping.
    pub(crate) fn close(&self) -> CursorState {
        self.closed.store(true, Ordering::Release);
        let mut s = self.lock_waking();
        let state = CursorState {
            open_cursors: std::mem::take(&mut s.open_cursors),
            new_xact_for_cursor: std::mem::take(&mut s.new_xact_for_cursor),
        };
        drop(s.conn.take());
        self.socket_open.store(false, Ordering::Release);
        self.retire_wake_socket();
        *self.cancel.lock() = None;
        state
    }

    /// Adopts cursor bookkeeping (dblink's unnamed slot keeps it).
    fn adopt(&self, state: CursorState) {
        let mut s = self.session.lock();
        s.open_cursors = state.open_cursors;
        s.new_xact_for_cursor = state.new_xact_for_cursor;
    }
}

/// A pending reset of an entry (see [`Entry::resetting`]).
pub(crate) struct Resetting<'a>(&'a Entry);

impl Drop for Resetting<'_> {
    fn drop(&mut self) {
        self.0.resetting.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The registry: named connections and the unnamed slot, each separately
/// locked.
struct Registry {
    named: RwLock<HashMap<String, Arc<Entry>, BuildHasherDefault<NameHasher>>>,
    unnamed: Mutex<Option<Arc<Entry>>>,
    /// dblink keeps the unnamed connection's cursor count and "dblink began
    /// the transaction" flag in a static slot that reconnecting and
    /// disconnecting leave alone; this is that slot while no unnamed
    /// connection is open.
    unnamed_cursors: Mutex<CursorState>,
}

static REGISTRY: LazyLock<Registry> = LazyLock::new(|| Registry {
    named: RwLock::new(HashMap::with_hasher(BuildHasherDefault::new())),
    unnamed: Mutex::new(None),
    unnamed_cursors: Mutex::new(CursorState {
        open_cursors: 0,
        new_xact_for_cursor: false,
    }),
});

/// dblink's key for a name: truncated to 63 bytes on a character boundary.
fn truncate(name: &str) -> &str {
    if name.len() <= MAX_NAME_BYTES {
        return name;
    }
    let mut end = MAX_NAME_BYTES;
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}

/// The key of a name: 22023 for a name with a NUL byte (no C caller could
/// name it, and it could not be listed), else its truncation.
fn key(name: &str) -> Result<&str> {
    if name.as_bytes().contains(&0) {
        return Err(Error::interior_nul("connection name"));
    }
    Ok(truncate(name))
}

/// The name dblink would register instead of `name`, when it truncates it.
pub(crate) fn truncated(name: &str) -> Option<&str> {
    let k = truncate(name);
    (k.len() != name.len()).then_some(k)
}

/// The connection registered under `name` (`None`: the unnamed one).
pub(crate) fn lookup(name: Option<&str>) -> Result<Arc<Entry>> {
    let found = match name {
        Some(n) => REGISTRY.named.read().get(key(n)?).cloned(),
        None => REGISTRY.unnamed.lock().clone(),
    };
    found.ok_or_else(|| Error::conn_not_available(name))
}

/// Whether `name` is registered (dblink's "is this a name or a connstr").
pub(crate) fn contains(name: &str) -> bool {
    key(name).is_ok_and(|k| REGISTRY.named.read().contains_key(k))
}

/// Registers a new connection. A named one must be new (42710 `duplicate
/// connection name`); the unnamed slot is replaced, and the previous
/// connection closed (outside the slot's lock).
pub(crate) fn insert(name: Option<&str>, entry: Arc<Entry>) -> Result<()> {
    match name {
        Some(n) => {
            let k = key(n)?;
            let mut map = REGISTRY.named.write();
            if map.contains_key(k) {
                return Err(Error::new(
                    sqlstate::DUPLICATE_OBJECT,
                    "duplicate connection name",
                ));
            }
            map.insert(k.to_owned(), entry);
            Ok(())
        }
        None => {
            let previous = REGISTRY.unnamed.lock().replace(Arc::clone(&entry));
            let state = match &previous {
                Some(p) => close_unnamed(p),
                None => *REGISTRY.unnamed_cursors.lock(),
            };
            entry.adopt(state);
            Ok(())
        }
    }
}

/// Closes a connection that left the unnamed slot, keeping dblink's cursor
/// bookkeeping for the slot's next connection.
fn close_unnamed(entry: &Entry) -> CursorState {
    let state = entry.close();
    *REGISTRY.unnamed_cursors.lock() = state;
    state
}

/// Unregisters and closes the connection `name` (after a call in progress
/// on it returns).
pub(crate) fn remove(name: Option<&str>) -> Result<()> {
    match name {
        Some(n) => {
            let k = key(n)?;
            let removed = REGISTRY.named.write().remove(k);
            let entry = removed.ok_or_else(|| Error::conn_not_available(name))?;
            entry.close();
        }
        None => {
            let removed = REGISTRY.unnamed.lock().take();
            let entry = removed.ok_or_else(|| Error::conn_not_available(name))?;
            close_unnamed(&entry);
        }
    }
    Ok(())
}

/// Unregisters `entry` if it is still the one registered under `name`, and
/// closes it (a failed `connect_start`).
pub(crate) fn remove_entry(name: Option<&str>, entry: &Arc<Entry>) {
    let removed = match name {
        Some(n) => {
            let Ok(k) = key(n) else {
                return;
            };
            let mut map = REGISTRY.named.write();
            match map.get(k) {
                Some(e) if Arc::ptr_eq(e, entry) => map.remove(k),
                _ => None,
            }
        }
        None => {
            let mut slot = REGISTRY.unnamed.lock();
            match slot.as_ref() {
                Some(e) if Arc::ptr_eq(e, entry) => slot.take(),
                _ => None,
            }
        }
    };
    drop(removed);
    entry.close();
}

/// Unregisters and closes `entry` if it is still the one registered under
/// `name` (a handle's disconnect); 08003 when it is not.
pub(crate) fn remove_this(name: &str, entry: &Arc<Entry>) -> Result<()> {
    let k = key(name)?;
    let removed = {
        let mut map = REGISTRY.named.write();
        match map.get(k) {
            Some(e) if Arc::ptr_eq(e, entry) => map.remove(k),
            _ => None,
        }
    };
    let removed = removed.ok_or_else(|| Error::conn_not_available(Some(name)))?;
    removed.close();
    Ok(())
}

/// Unregisters and closes every connection, named and unnamed. Each close
/// wakes the call in progress on its connection, if any, so none waits long.
pub(crate) fn remove_all() {
    let named: Vec<Arc<Entry>> = REGISTRY.named.write().drain().map(|(_, e)| e).collect();
    let unnamed = REGISTRY.unnamed.lock().take();
    named.iter().for_each(|e| {
        e.close();
    });
    if let Some(e) = unnamed {
        close_unnamed(&e);
    }
}

/// The registered names, sorted (the unnamed connection is not listed).
pub(crate) fn names() -> Vec<String> {
    let mut names: Vec<String> = REGISTRY.named.read().keys().cloned().collect();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::os::unix::net::UnixStream;
    use std::time::{Duration, Instant};

    /// An entry around a connection that failed at once (a socket directory
    /// that does not exist): a real `PGconn`, no server, no network.
    fn offline_entry() -> Arc<Entry> {
        let connstr = c"host=/nonexistent/pgdblink-unit port=1 connect_timeout=1";
        let params = pq::ConnParams::parse(connstr).expect("a valid connstr");
        let conn = Conn::connectdb(&params).expect("libpq allocates the handle");
        Entry::connecting(conn)
    }

    #[test]
    fn a_timed_lock_wait_gives_up_at_its_deadline_while_the_session_is_held() {
        let entry = offline_entry();
        let held = entry.lock();
        let (e2, start) = (Arc::clone(&entry), Instant::now());
        let waiter = std::thread::spawn(move || {
            let deadline = Some(Instant::now() + Duration::from_millis(100));
            e2.lock_until(deadline).is_none()
        });
        assert!(
            waiter.join().expect("the waiter"),
            "the held session was taken"
        );
        assert!(start.elapsed() < Duration::from_secs(5));
        drop(held);
        let deadline = Some(Instant::now() + Duration::from_millis(100));
        assert!(
            entry.lock_until(deadline).is_some(),
            "a free session is taken at once"
        );
        assert!(
            entry.lock_until(None).is_some(),
            "no deadline: the session is taken"
        );
    }

    #[test]
    fn closing_wakes_a_call_polling_the_socket_and_waits_for_it() {
        // The model: close marks the entry closed, bumps the epoch and shuts
        // our duplicate of the socket down, so a call waiting on it wakes,
        // sees the epoch changed and lets the session go; close then takes it.
        let entry = offline_entry();
        let (ours, _peer) = UnixStream::pair().expect("socketpair");
        entry.watch_socket(Some(OwnedFd::from(ours)));
        let epoch = entry.epoch();
        let (e2, (tx, rx)) = (Arc::clone(&entry), std::sync::mpsc::channel());
        let call = std::thread::spawn(move || {
            let session = e2.lock();
            tx.send(()).expect("the test waits for this");
            // A call's wait on the socket, whose peer never writes: only a
            // wake-up ends it (the deadline only keeps a broken model from
            // hanging the test).
            let fd = Entry::raw(&e2.wake_socket());
            let deadline = Some(Instant::now() + Duration::from_secs(20));
            let woke = pq::wait_sockets(&[(fd, pq::Interest::Read)], deadline);
            let changed = e2.epoch() != epoch;
            drop(session);
            (woke, changed)
        });
        rx.recv().expect("the call holds the session");
        let start = Instant::now();
        let _ = entry.close();
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "close waited too long"
        );
        let (woke, changed) = call.join().expect("the call");
        assert_eq!(woke, Some(vec![0]), "the poll woke with the socket ready");
        assert!(changed, "the woken call sees a new epoch");
        assert!(entry.is_closed() && !entry.socket_open());
        assert_eq!(
            Entry::raw(&entry.wake_socket()),
            -1,
            "our duplicate is closed"
        );
    }

    #[test]
    fn names_are_truncated_to_63_bytes_on_a_character_boundary() {
        let short = "a".repeat(63);
        assert_eq!(truncate(&short), short);
        assert_eq!(truncated(&short), None);
        let long = "b".repeat(70);
        assert_eq!(truncate(&long).len(), 63);
        assert_eq!(truncated(&long), Some(&long[..63]));
        // A two-byte character across the 63rd byte is dropped whole.
        let s = format!("{}é", "c".repeat(62));
        assert_eq!(s.len(), 64);
        assert_eq!(truncate(&s), "c".repeat(62));
    }

    #[test]
    fn a_name_with_nul_is_refused() {
        let e = key("a\0b").expect_err("refused");
        assert_eq!(e.sqlstate, sqlstate::INVALID_PARAMETER_VALUE);
        assert!(key("ab").is_ok());
        assert!(!contains("a\0b"));
    }

    #[test]
    fn the_name_hash_mixes_every_byte() {
        let hash = |s: &str| {
            let mut h = NameHasher::default();
            h.write(s.as_bytes());
            h.finish()
        };
        assert_ne!(hash("shard_1"), hash("shard_2"));
        assert_ne!(hash("abcdefgh1"), hash("abcdefgh2"));
        assert_eq!(hash("x"), hash("x"));
    }
}
