//! A loopback TCP proxy to the test server that can stall, resume and cut
//! its connections at chosen points of the PostgreSQL byte stream.
//!
//! [`Proxy::start`] listens on 127.0.0.1 (an ephemeral port) and relays every
//! accepted connection to `127.0.0.1:<upstream>`, one thread per direction.
//! A [`Plan`] says what to do to a connection ([`What`]: stall one or both
//! directions, or cut) and when ([`When`]): at once, once the server's first
//! ReadyForQuery has been relayed (the end of the startup exchange), or after
//! N more bytes in one direction. A plan is armed on one connection
//! ([`Proxy::arm`]) or on every connection accepted from now on
//! ([`Proxy::on_new`]); it fires once.
//!
//! - A stalled direction stops reading its source, so the bytes stay in the
//!   kernel buffers (the sender feels backpressure) until [`Proxy::resume`].
//!   A stall planned for a new connection at once ([`When::Now`]) is "accept
//!   and never answer"; its bytes are held, not lost.
//! - Resuming a connection whose client has hung up in the meantime cuts it
//!   instead: what it sent while stalled is dropped, never delivered (as if
//!   the path had lost it). Without that, a client that gave up on a
//!   stalled request could still have it acted on later.
//! - A cut closes both sides at once; the proxy also cuts a connection when
//!   either side closes or fails.
//!
//! The server->client stream is parsed as protocol messages (1-byte type,
//! 4-byte big-endian length including itself), starting with the first
//! byte: use `sslmode=disable gssencmode=disable` so that no single-byte
//! answer to an SSLRequest/GSSENCRequest comes first ([`Proxy::connstr`]).
//!
//! [`Proxy::accepted`] counts accepted connections (a cancel request opens its
//! own). Connections are numbered from 0 in the order they were accepted.
//! Dropping the proxy cuts everything and waits (at most 2 s) for its threads
//! to end.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

/// A direction (or both) of a relayed connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    /// Client -> server.
    ToServer,
    /// Server -> client.
    ToClient,
    /// Both directions.
    Both,
}

impl Dir {
    fn covers(self, d: usize) -> bool {
        match self {
            Dir::ToServer => d == TO_SERVER,
            Dir::ToClient => d == TO_CLIENT,
            Dir::Both => true,
        }
    }
}

/// When a [`Plan`] fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    /// At once (for a new connection: before its first byte).
    Now,
    /// Once the server's first ReadyForQuery ('Z') has been relayed.
    AfterStartup,
    /// Once N more bytes have been relayed server -> client.
    AfterServerBytes(usize),
    /// Once N more bytes have been relayed client -> server.
    AfterClientBytes(usize),
}

/// What a [`Plan`] does when it fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum What {
    /// Stop relaying in these directions, holding the bytes.
    Stall(Dir),
    /// Close both sides abruptly.
    Cut,
}

/// What to do to a connection, and when (fires once).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    /// When it fires.
    pub when: When,
    /// What it does.
    pub what: What,
}

impl Plan {
    /// `what` once `when` is reached.
    pub fn new(when: When, what: What) -> Plan {
        Plan { when, what }
    }

    /// Accept and hold: stall both directions from the first byte.
    pub fn never_answer() -> Plan {
        Plan::new(When::Now, What::Stall(Dir::Both))
    }
}

const TO_SERVER: usize = 0;
const TO_CLIENT: usize = 1;
/// How long `Drop` waits for the proxy's threads.
const DROP_WAIT: Duration = Duration::from_secs(2);

/// The proxy; see the module docs.
pub struct Proxy {
    port: u16,
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Default)]
struct State {
    closing: bool,
    /// Armed on every connection accepted from now on.
    on_new: Option<Plan>,
    links: Vec<Link>,
    accepted: usize,
    /// Proxy threads still running (acceptor and pumps).
    threads: usize,
}

/// One relayed connection.
struct Link {
    /// The two sockets (client side, server side), for shutting them down;
    /// `None` once cut.
    sockets: Option<[TcpStream; 2]>,
    plan: Option<Plan>,
    /// Bytes relayed since the plan was armed, per direction.
    since_armed: [usize; 2],
    /// Bytes relayed in all, per direction.
    total: [usize; 2],
    stalled: [bool; 2],
    /// The server's first ReadyForQuery has been relayed.
    startup_done: bool,
    framer: Framer,
}

impl Link {
    fn cut(&mut self) {
        if let Some(sockets) = self.sockets.take() {
            for s in &sockets {
                let _ = s.shutdown(Shutdown::Both);
            }
        }
        self.stalled = [false; 2];
    }

    fn is_cut(&self) -> bool {
        self.sockets.is_none()
    }

    fn arm(&mut self, plan: Option<Plan>) {
        self.plan = plan;
        self.since_armed = [0; 2];
        let fires_now = match plan.map(|p| p.when) {
            Some(When::Now | When::AfterServerBytes(0) | When::AfterClientBytes(0)) => true,
            Some(When::AfterStartup) => self.startup_done,
            _ => false,
        };
        if fires_now {
            self.fire();
        }
    }

    fn fire(&mut self) {
        if let Some(plan) = self.plan.take() {
            match plan.what {
                What::Stall(dir) => {
                    for d in [TO_SERVER, TO_CLIENT] {
                        self.stalled[d] |= dir.covers(d);
                    }
                }
                What::Cut => self.cut(),
            }
        }
    }

    /// How many bytes direction `d` may read before its byte trigger.
    fn read_budget(&self, d: usize) -> Option<usize> {
        match self.plan.map(|p| p.when) {
            Some(When::AfterServerBytes(n)) if d == TO_CLIENT => {
                Some(n.saturating_sub(self.since_armed[d]))
            }
            Some(When::AfterClientBytes(n)) if d == TO_SERVER => {
                Some(n.saturating_sub(self.since_armed[d]))
            }
            _ => None,
        }
    }

    /// Of `bytes` (read in direction `d`), how many may be relayed before
    /// the plan fires, and whether it fires after them. Records them as
    /// relayed.
    fn take(&mut self, d: usize, bytes: &[u8]) -> (usize, bool) {
        let mut n = bytes.len();
        if let Some(budget) = self.read_budget(d) {
            n = n.min(budget);
        }
        let mut startup_ends = false;
        if d == TO_CLIENT && !self.startup_done {
            if let Some(k) = self.framer.advance(&bytes[..n]) {
                n = k;
                startup_ends = true;
            }
        }
        self.since_armed[d] += n;
        self.total[d] += n;
        self.startup_done |= startup_ends;
        let fires = match self.plan.map(|p| p.when) {
            Some(When::AfterStartup) => startup_ends,
            Some(When::AfterServerBytes(_) | When::AfterClientBytes(_)) => {
                self.read_budget(d) == Some(0)
            }
            _ => false,
        };
        (n, fires)
    }
}

/// Finds the end of the first ReadyForQuery in the server's message stream.
#[derive(Default)]
struct Framer {
    header: [u8; 5],
    have: usize,
    body_left: usize,
    in_ready_for_query: bool,
}

impl Framer {
    /// Consumes `bytes` up to the end of the first 'Z' message: `Some(k)`
    /// when it ends after `bytes[..k]`, `None` when all were consumed first.
    fn advance(&mut self, bytes: &[u8]) -> Option<usize> {
        let mut i = 0;
        while i < bytes.len() {
            if self.body_left > 0 {
                let skip = self.body_left.min(bytes.len() - i);
                self.body_left -= skip;
                i += skip;
            } else {
                self.header[self.have] = bytes[i];
                self.have += 1;
                i += 1;
                if self.have == 5 {
                    let len = u32::from_be_bytes([
                        self.header[1],
                        self.header[2],
                        self.header[3],
                        self.header[4],
                    ]);
                    self.body_left = (len as usize).saturating_sub(4);
                    self.in_ready_for_query = self.header[0] == b'Z';
                    self.have = 0;
                }
            }
            if self.in_ready_for_query && self.body_left == 0 && self.have == 0 {
                return Some(i);
            }
        }
        None
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wait<'a>(&self, guard: MutexGuard<'a, State>, limit: Duration) -> MutexGuard<'a, State> {
        self.changed
            .wait_timeout(guard, limit)
            .unwrap_or_else(PoisonError::into_inner)
            .0
    }

    /// Runs `f` on a new thread, counted in `threads`.
    fn spawn(self: &Arc<Inner>, name: &str, f: impl FnOnce(&Inner) + Send + 'static) {
        self.lock().threads += 1;
        let inner = Arc::clone(self);
        let started = thread::Builder::new().name(name.to_owned()).spawn(move || {
            /// Counts the thread out however it ends.
            struct Done<'a>(&'a Inner);
            impl Drop for Done<'_> {
                fn drop(&mut self) {
                    self.0.lock().threads -= 1;
                    self.0.changed.notify_all();
                }
            }
            let done = Done(&inner);
            f(done.0);
        });
        if started.is_err() {
            self.lock().threads -= 1;
        }
    }

    fn accept_loop(self: &Arc<Inner>, listener: TcpListener, upstream: u16) {
        for client in listener.incoming() {
            let mut st = self.lock();
            if st.closing {
                return;
            }
            st.accepted += 1;
            drop(st);
            let Ok(client) = client else { continue };
            let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                continue; // dropping `client` closes it
            };
            let _ = (client.set_nodelay(true), server.set_nodelay(true));
            let (Ok(c2), Ok(s2), Ok(c3), Ok(s3)) = (
                client.try_clone(),
                server.try_clone(),
                client.try_clone(),
                server.try_clone(),
            ) else {
                continue;
            };
            let mut st = self.lock();
            let id = st.links.len();
            let mut link = Link {
                sockets: Some([client, server]),
                plan: None,
                since_armed: [0; 2],
                total: [0; 2],
                stalled: [false; 2],
                startup_done: false,
                framer: Framer::default(),
            };
            link.arm(st.on_new);
            st.links.push(link);
            drop(st);
            self.changed.notify_all();
            self.spawn("proxy-to-server", move |inner| {
                inner.pump(id, TO_SERVER, c2, s2);
            });
            self.spawn("proxy-to-client", move |inner| {
                inner.pump(id, TO_CLIENT, s3, c3);
            });
        }
    }

    /// Relays `from` to `to` (direction `d` of link `id`) as the link's plan
    /// and stall flags say, until the link is cut or the proxy closes.
    fn pump(&self, id: usize, d: usize, mut from: TcpStream, mut to: TcpStream) {
        let mut buf = vec![0u8; 64 * 1024];
        let (mut start, mut end) = (0, 0); // buf[start..end]: read, not yet relayed
        loop {
            let mut st = self.lock();
            while !st.closing && !st.links[id].is_cut() && st.links[id].stalled[d] {
                st = self.wait(st, Duration::from_secs(1));
            }
            if st.closing || st.links[id].is_cut() {
                return;
            }
            if start == end {
                let budget = st.links[id].read_budget(d).unwrap_or(buf.len());
                drop(st);
                // The budget is 0 only while the plan fires (never for long).
                let max = budget.min(buf.len()).max(1);
                match from.read(&mut buf[..max]) {
                    Ok(0) | Err(_) => return self.cut(id),
                    Ok(n) => (start, end) = (0, n),
                }
                continue; // a stall may have begun while reading
            }
            let (n, fires) = st.links[id].take(d, &buf[start..end]);
            drop(st);
            if to.write_all(&buf[start..start + n]).is_err() {
                return self.cut(id);
            }
            start += n;
            if fires {
                self.lock().links[id].fire();
                self.changed.notify_all();
            }
        }
    }

    fn cut(&self, id: usize) {
        self.lock().links[id].cut();
        self.changed.notify_all();
    }
}

impl Proxy {
    /// Starts a proxy on 127.0.0.1 relaying to `127.0.0.1:upstream`.
    pub fn start(upstream: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let port = listener.local_addr().expect("the proxy's address").port();
        let inner = Arc::new(Inner {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
        });
        let acceptor = Arc::clone(&inner);
        inner.spawn("proxy-accept", move |_| {
            acceptor.accept_loop(listener, upstream)
        });
        Proxy { port, inner }
    }

    /// The port the proxy listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `base` (a key=value connstr) pointed at the proxy, without TLS or
    /// GSS encryption.
    pub fn connstr(&self, base: &str) -> String {
        format!(
            "{base} host=127.0.0.1 hostaddr=127.0.0.1 port={} sslmode=disable gssencmode=disable",
            self.port
        )
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.inner.lock().accepted
    }

    /// Arms `plan` on every connection accepted from now on (`None`: relay
    /// them normally).
    pub fn on_new(&self, plan: Option<Plan>) {
        self.inner.lock().on_new = plan;
    }

    /// Arms `plan` on connection `id` (replacing its pending plan); byte
    /// counts start now.
    pub fn arm(&self, id: usize, plan: Plan) {
        self.with_link(id, |link| link.arm(Some(plan)));
    }

    /// Stalls connection `id` in `dir` at once.
    pub fn stall(&self, id: usize, dir: Dir) {
        self.arm(id, Plan::new(When::Now, What::Stall(dir)));
    }

    /// Stalls every connection in `dir` at once.
    pub fn stall_all(&self, dir: Dir) {
        let n = self.inner.lock().links.len();
        (0..n).for_each(|id| self.stall(id, dir));
    }

    /// Resumes connection `id` in both directions (the held bytes flow), or
    /// cuts it if its client has hung up meanwhile.
    pub fn resume(&self, id: usize) {
        self.with_link(id, |link| {
            let hung_up = link
                .sockets
                .as_ref()
                .is_some_and(|[client, _]| peer_hung_up(client));
            if hung_up {
                link.cut();
            } else {
                link.stalled = [false; 2];
            }
        });
    }

    /// Resumes every connection (see [`resume`](Self::resume)).
    pub fn resume_all(&self) {
        let n = self.inner.lock().links.len();
        (0..n).for_each(|id| self.resume(id));
    }

    /// Cuts connection `id`: both sides closed at once.
    pub fn cut(&self, id: usize) {
        self.with_link(id, Link::cut);
    }

    /// Cuts every connection.
    pub fn cut_all(&self) {
        self.inner.lock().links.iter_mut().for_each(Link::cut);
        self.inner.changed.notify_all();
    }

    /// Whether connection `id` is stalled: (client->server, server->client).
    pub fn stalled(&self, id: usize) -> (bool, bool) {
        let s = self.with_link(id, |link| link.stalled);
        (s[TO_SERVER], s[TO_CLIENT])
    }

    /// Bytes relayed on connection `id`: (client->server, server->client).
    pub fn relayed(&self, id: usize) -> (usize, usize) {
        let t = self.with_link(id, |link| link.total);
        (t[TO_SERVER], t[TO_CLIENT])
    }

    /// Runs `f` on connection `id`, waiting (up to 5 s) for the proxy to
    /// have set it up: a client's connect can complete just before.
    fn with_link<R>(&self, id: usize, f: impl FnOnce(&mut Link) -> R) -> R {
        assert!(
            self.wait_until(Duration::from_secs(5), |st| st.links.len() > id),
            "the proxy has no connection {id}"
        );
        let r = f(&mut self.inner.lock().links[id]);
        self.inner.changed.notify_all();
        r
    }

    /// Waits up to `limit` until `accepted() >= n`; whether it happened.
    pub fn wait_accepted(&self, n: usize, limit: Duration) -> bool {
        self.wait_until(limit, |st| st.accepted >= n)
    }

    /// Waits up to `limit` until connection `id` exists and is stalled in
    /// some direction; whether it happened.
    pub fn wait_stalled(&self, id: usize, limit: Duration) -> bool {
        self.wait_until(limit, |st| {
            st.links.get(id).is_some_and(|l| l.stalled.contains(&true))
        })
    }

    fn wait_until(&self, limit: Duration, done: impl Fn(&State) -> bool) -> bool {
        let deadline = Instant::now() + limit;
        let mut st = self.inner.lock();
        loop {
            if done(&st) {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            st = self.inner.wait(st, left);
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let mut st = self.inner.lock();
        st.closing = true;
        st.links.iter_mut().for_each(Link::cut);
        drop(st);
        self.inner.changed.notify_all();
        // Wakes the acceptor, which sees `closing` and ends (closing the listener).
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        let deadline = Instant::now() + DROP_WAIT;
        let mut st = self.inner.lock();
        while st.threads > 0 && Instant::now() < deadline {
            st = self.inner.wait(st, Duration::from_millis(50));
        }
    }
}

/// Whether the peer of `s` has closed its side (POLLRDHUP), even with
/// unread bytes still queued.
fn peer_hung_up(s: &TcpStream) -> bool {
    let mut p = libc::pollfd {
        fd: s.as_raw_fd(),
        events: libc::POLLRDHUP,
        revents: 0,
    };
    // SAFETY: `p` is one initialized pollfd, exclusively borrowed for the
    // call; its descriptor is owned by `s`, open for the call; timeout 0.
    let n = unsafe { libc::poll(&mut p, 1, 0) };
    n > 0 && p.revents & (libc::POLLRDHUP | libc::POLLHUP | libc::POLLERR) != 0
}
