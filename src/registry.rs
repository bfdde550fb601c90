//! The process-wide map of named connections, plus dblink's unnamed slot.
//!
//! Locking: the map lock is held only to look a name up, insert or remove it,
//! never across a network wait. Each connection has its own lock (held while
//! a call uses its `PGconn`) and its cancel handle has another, so a cancel
//! never waits for the reader it is meant to interrupt.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock};

use parking_lot::{Mutex, MutexGuard, RwLock};

use crate::error::{Error, Result, sqlstate};
use crate::pq::{Canceller, Conn};

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
    /// A non-blocking connect (`connect_start`) has not finished yet.
    pub(crate) connecting: bool,
}

/// dblink's cursor bookkeeping of a connection.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CursorState {
    open_cursors: u32,
    new_xact_for_cursor: bool,
}

/// One registered connection.
pub(crate) struct Entry {
    session: Mutex<Session>,
    cancel: Mutex<Option<Canceller>>,
    /// Whether the connection still has a socket, as last seen by a call
    /// that held the session; read by cancel without the session lock.
    socket_open: AtomicBool,
}

impl Entry {
    pub(crate) fn new(conn: Conn) -> Arc<Entry> {
        let cancel = Canceller::new(&conn);
        Entry::with(conn, cancel, false)
    }

    /// An entry for a connection still being established (`connect_start`);
    /// its cancel handle is made when the connect completes.
    pub(crate) fn connecting(conn: Conn) -> Arc<Entry> {
        Entry::with(conn, None, true)
    }

    fn with(conn: Conn, cancel: Option<Canceller>, connecting: bool) -> Arc<Entry> {
        Arc::new(Entry {
            session: Mutex::new(Session {
                conn: Some(conn),
                open_cursors: 0,
                new_xact_for_cursor: false,
                connecting,
            }),
            cancel: Mutex::new(cancel),
            socket_open: AtomicBool::new(true),
        })
    }

    /// Records whether the connection still has a socket (after a call).
    pub(crate) fn note_socket(&self, session: &Session) {
        let open = session.conn.as_ref().is_some_and(|c| c.socket() >= 0);
        self.socket_open.store(open, Ordering::Release);
    }

    /// Whether the connection had a socket after the last call on it.
    pub(crate) fn socket_open(&self) -> bool {
        self.socket_open.load(Ordering::Acquire)
    }

    /// Locks the session; waits for any call in progress on this connection.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Session> {
        self.session.lock()
    }

    /// Locks the cancel handle only (never the session).
    pub(crate) fn lock_cancel(&self) -> MutexGuard<'_, Option<Canceller>> {
        self.cancel.lock()
    }

    /// Replaces the cancel handle (after a reset, the backend key changes).
    pub(crate) fn renew_cancel(&self, conn: &Conn) {
        self.socket_open
            .store(conn.socket() >= 0, Ordering::Release);
        *self.cancel.lock() = Canceller::new(conn);
    }

    /// Takes the connection out for closing (`None` when already closed),
    /// with its cursor bookkeeping.
    pub(crate) fn close(&self) -> (Option<Conn>, CursorState) {
        let mut s = self.session.lock();
        let state = CursorState {
            open_cursors: std::mem::take(&mut s.open_cursors),
            new_xact_for_cursor: std::mem::take(&mut s.new_xact_for_cursor),
        };
        (s.conn.take(), state)
    }

    /// Adopts cursor bookkeeping (dblink's unnamed slot keeps it).
    fn adopt(&self, state: CursorState) {
        let mut s = self.session.lock();
        s.open_cursors = state.open_cursors;
        s.new_xact_for_cursor = state.new_xact_for_cursor;
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
fn key(name: &str) -> &str {
    if name.len() <= MAX_NAME_BYTES {
        return name;
    }
    let mut end = MAX_NAME_BYTES;
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}

/// The name dblink would register instead of `name`, when it truncates it.
pub(crate) fn truncated(name: &str) -> Option<&str> {
    let k = key(name);
    (k.len() != name.len()).then_some(k)
}

/// The connection registered under `name` (`None`: the unnamed one).
pub(crate) fn lookup(name: Option<&str>) -> Result<Arc<Entry>> {
    let found = match name {
        Some(n) => REGISTRY.named.read().get(key(n)).cloned(),
        None => REGISTRY.unnamed.lock().clone(),
    };
    found.ok_or_else(|| Error::conn_not_available(name))
}

/// Whether `name` is registered (dblink's "is this a name or a connstr").
pub(crate) fn contains(name: &str) -> bool {
    REGISTRY.named.read().contains_key(key(name))
}

/// Registers a new connection. A named one must be new (42710 `duplicate
/// connection name`); the unnamed slot is replaced, and the previous
/// connection closed (outside the slot's lock).
pub(crate) fn insert(name: Option<&str>, entry: Arc<Entry>) -> Result<()> {
    match name {
        Some(n) => {
            let mut map = REGISTRY.named.write();
            if map.contains_key(key(n)) {
                return Err(Error::new(
                    sqlstate::DUPLICATE_OBJECT,
                    "duplicate connection name",
                ));
            }
            map.insert(key(n).to_owned(), entry);
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
    let (conn, state) = entry.close();
    drop(conn);
    *REGISTRY.unnamed_cursors.lock() = state;
    state
}

/// Unregisters and closes the connection `name` (after a call in progress
/// on it returns).
pub(crate) fn remove(name: Option<&str>) -> Result<()> {
    match name {
        Some(n) => {
            let removed = REGISTRY.named.write().remove(key(n));
            let entry = removed.ok_or_else(|| Error::conn_not_available(name))?;
            drop(entry.close());
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
            let mut map = REGISTRY.named.write();
            match map.get(key(n)) {
                Some(e) if Arc::ptr_eq(e, entry) => map.remove(key(n)),
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
    drop(entry.close());
}

/// Unregisters and closes every connection, named and unnamed.
pub(crate) fn remove_all() {
    let named: Vec<Arc<Entry>> = REGISTRY.named.write().drain().map(|(_, e)| e).collect();
    named.iter().for_each(|e| drop(e.close()));
    let unnamed = REGISTRY.unnamed.lock().take();
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
