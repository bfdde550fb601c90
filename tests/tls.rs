//! pgdblink's own waits over TLS: no call stalls while the result it waits
//! for is already received.
//!
//! pgdblink runs libpq in non-blocking mode and waits with poll(2) on the
//! socket. Over TLS, OpenSSL can hold decrypted bytes that poll(2) does not
//! see: libpq reads a TLS record into OpenSSL whole, but takes out only as
//! much as fits in its input buffer (at least 8 kB of room). If those bytes
//! complete the result and nothing more comes, a wait on the socket lasts
//! until the server sends something else, or until its timeout. libpq's own
//! blocking waits check `SSL_pending` first; libpq 18's reads drain OpenSSL
//! before returning, older ones (the system libpq 15 of the system-libpq
//! build) do not. pgdblink checks too (`src/pq/tls.rs`): before every wait
//! to read, bytes OpenSSL holds are read instead.
//!
//! A stock PostgreSQL server before 17 never sends a TLS record larger than
//! its 8 kB send buffer, so against it nothing can stay behind. Servers and
//! proxies that send full 16 kB records can. So every test runs twice:
//! against the private TLS server directly (`Target::Server`), and through
//! [`Relay`], a TLS-terminating relay in front of the same server that sends
//! each burst of the server's output with its last 16 kB as one TLS record:
//! the shape that leaves the end of a result (CommandComplete,
//! ReadyForQuery) in OpenSSL when libpq has less than 16 kB of room. With
//! the system libpq 15 and without pgdblink's check, ten of these tests
//! stalled through the relay (`.ci/run` runs them in system-libpq mode).
//!
//! A stall shows up as a timed call hitting its (generous) timeout, or an
//! untimed call not returning within its thread's deadline: the assertions
//! say the data came, long before those bounds.

mod support;

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use openssl::ssl::{SslAcceptor, SslMethod, SslStream};
use pgdblink::{DblinkResult, Status};
use support::{Server, unique_name};

const ROLE: &str = "tls_user";
const PASSWORD: &str = "tls-P4ss-wd";

/// How long a timed call may take before it counts as stalled. Everything
/// asked for here is on its way at once: a few hundred ms at most.
const GENEROUS: Duration = Duration::from_secs(20);
/// The bound within which a wait on results that are complete (queries of
/// 0.1 s) must report them.
const PROMPT: Duration = Duration::from_secs(5);

fn server() -> &'static Server {
    static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();
    match SERVER.get_or_init(|| support::tls::start(&[], &[(ROLE, PASSWORD)])) {
        Ok(server) => server,
        Err(e) => panic!("could not start the private TLS test server:\n{e}"),
    }
}

/// Where a connection goes.
#[derive(Debug, Clone, Copy)]
enum Target {
    /// The TLS server itself.
    Server,
    /// The TLS server behind [`Relay`] (big TLS records).
    Relay,
}

const TARGETS: [Target; 2] = [Target::Server, Target::Relay];

impl Target {
    fn connstr(self) -> String {
        let port = match self {
            Target::Server => server().port(),
            Target::Relay => relay().port,
        };
        support::tls::tcp(
            port,
            ROLE,
            &format!("password={PASSWORD} sslmode=require gssencmode=disable"),
        )
    }

    /// A new named connection over TLS.
    fn connect(self) -> String {
        let name = unique_name("tls");
        pgdblink::connect(Some(&name), &self.connstr())
            .unwrap_or_else(|e| panic!("{self:?}: connect over TLS: {e}"));
        if let Target::Server = self {
            let ssl = pgdblink::dblink(
                Some(&name),
                "select ssl from pg_stat_ssl where pid = pg_backend_pid()",
                true,
            )
            .expect("pg_stat_ssl");
            assert_eq!(ssl.get(0, 0), Some("t"), "the connection does not use TLS");
        }
        name
    }
}

/// The next result within [`GENEROUS`]; a timeout (a stalled wait) fails
/// the test, saying where.
fn next(name: &str, what: &str) -> DblinkResult {
    let started = Instant::now();
    match pgdblink::get_result_timeout(Some(name), true, GENEROUS) {
        Ok(r) => r,
        Err(e) => panic!(
            "{what}: get_result_timeout gave no result after {:?} although the \
             server has sent it (a wait stalled with the data already received?): {e}",
            started.elapsed()
        ),
    }
}

/// The query's end (`Done`) within [`GENEROUS`].
fn done(name: &str, what: &str) {
    let r = next(name, what);
    assert_eq!(r.status(), Status::Done, "{what}: {r:?}");
}

/// Runs `f` in a thread and returns its value, failing when it takes longer
/// than [`GENEROUS`] (an untimed call stalled; the thread is left behind).
fn within<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(GENEROUS) {
        Ok(v) => v,
        Err(_) => panic!("{what}: no answer within {GENEROUS:?} (a wait stalled?)"),
    }
}

fn send(name: &str, sql: &str) {
    assert!(
        pgdblink::send_query(Some(name), sql).expect("send_query"),
        "send_query refused: {sql}"
    );
}

// ---------------------------------------------------------------------------
// The relay
// ---------------------------------------------------------------------------

/// A TLS-terminating relay in front of the private server: it answers the
/// client's SSLRequest and TLS handshake itself (a self-signed certificate
/// of its own), and forwards the plaintext to the server over its unix
/// socket (trusted there). What the server sends is gathered into bursts
/// (read until 20 ms of quiet), and each burst goes out with its last 16 kB
/// as one TLS record (the largest there is).
struct Relay {
    port: u16,
}

fn relay() -> &'static Relay {
    static RELAY: OnceLock<Relay> = OnceLock::new();
    RELAY.get_or_init(|| {
        let socket = server()
            .socket_dir()
            .expect("the private server has a unix socket")
            .join(format!(".s.PGSQL.{}", server().port()));
        let acceptor = acceptor();
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the relay");
        let port = listener.local_addr().expect("relay address").port();
        thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let (acceptor, socket) = (acceptor.clone(), socket.clone());
                thread::spawn(move || {
                    let _ = relay_one(client, &socket, &acceptor);
                });
            }
        });
        Relay { port }
    })
}

/// The largest TLS record payload.
const RECORD: usize = 16 * 1024;
/// The SSLRequest: length 8, code 1234/5679.
const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

fn relay_one(mut client: TcpStream, socket: &PathBuf, acceptor: &SslAcceptor) -> io::Result<()> {
    let mut request = [0u8; 8];
    client.read_exact(&mut request)?;
    let mut upstream = UnixStream::connect(socket)?;
    if request != SSL_REQUEST {
        // Not TLS: a plaintext CancelRequest (libpq before 17), passed on as
        // it is, both ways, until either side closes.
        upstream.write_all(&request)?;
        let (mut up_read, mut client_write) = (upstream.try_clone()?, client.try_clone()?);
        thread::spawn(move || {
            let _ = io::copy(&mut up_read, &mut client_write);
            // The server closed: so does the relay (the client waits for it).
            let _ = client_write.shutdown(std::net::Shutdown::Both);
        });
        io::copy(&mut client, &mut upstream)?;
        return Ok(());
    }
    client.write_all(b"S")?;
    let mut tls = acceptor
        .accept(client)
        .map_err(|e| io::Error::other(e.to_string()))?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let (from_client, from_server) = if tls.ssl().pending() > 0 {
            (true, false)
        } else {
            let ready = poll_read(&[tls.get_ref().as_raw_fd(), upstream.as_raw_fd()], -1);
            (ready[0], ready[1])
        };
        if from_client {
            let n = tls.read(&mut buf).map_err(io::Error::other)?;
            if n == 0 {
                return Ok(());
            }
            upstream.write_all(&buf[..n])?;
        }
        if from_server && !forward_burst(&mut upstream, &mut tls, &mut buf)? {
            // The server closed (after a Terminate or a CancelRequest): a
            // TLS close, as the server itself would send.
            let _ = tls.shutdown();
            return Ok(());
        }
    }
}

/// Reads one burst of the server's output (until 20 ms of quiet, at most
/// 1 MB) and sends it with its last [`RECORD`] bytes as one TLS record.
/// False at the server's end of file.
fn forward_burst(
    upstream: &mut UnixStream,
    tls: &mut SslStream<TcpStream>,
    buf: &mut [u8],
) -> io::Result<bool> {
    let mut burst = Vec::new();
    loop {
        let n = upstream.read(buf)?;
        if n == 0 {
            break;
        }
        burst.extend_from_slice(&buf[..n]);
        if burst.len() >= 1 << 20 || !poll_read(&[upstream.as_raw_fd()], 20)[0] {
            break;
        }
    }
    let split = burst.len().saturating_sub(RECORD);
    tls.write_all(&burst[..split])?;
    tls.write_all(&burst[split..])?;
    tls.flush()?;
    Ok(!burst.is_empty())
}

/// Which of `fds` are readable (or at end of file, or in error) within
/// `timeout_ms` (-1: no limit).
fn poll_read(fds: &[RawFd], timeout_ms: i32) -> Vec<bool> {
    let mut pollfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    // SAFETY: `pollfds` is an exclusively borrowed array of `len` pollfds;
    // poll writes only their revents.
    let n = unsafe {
        libc::poll(
            pollfds.as_mut_ptr(),
            pollfds.len() as libc::nfds_t,
            timeout_ms,
        )
    };
    if n < 0 {
        return vec![false; fds.len()];
    }
    pollfds.iter().map(|p| p.revents != 0).collect()
}

/// The relay's TLS acceptor, with a fresh self-signed certificate.
fn acceptor() -> SslAcceptor {
    use openssl::asn1::Asn1Time;
    use openssl::bn::BigNum;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::hash::MessageDigest;
    use openssl::nid::Nid;
    use openssl::pkey::PKey;
    use openssl::x509::{X509Builder, X509NameBuilder};

    let made = (|| -> Result<SslAcceptor, openssl::error::ErrorStack> {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
        let key = PKey::from_ec_key(EcKey::generate(&group)?)?;
        let mut name = X509NameBuilder::new()?;
        name.append_entry_by_text("CN", "localhost")?;
        let name = name.build();
        let mut cert = X509Builder::new()?;
        cert.set_version(2)?;
        let serial = BigNum::from_u32(1)?.to_asn1_integer()?;
        cert.set_serial_number(&serial)?;
        cert.set_subject_name(&name)?;
        cert.set_issuer_name(&name)?;
        cert.set_pubkey(&key)?;
        let (from, until) = (Asn1Time::days_from_now(0)?, Asn1Time::days_from_now(7)?);
        cert.set_not_before(&from)?;
        cert.set_not_after(&until)?;
        cert.sign(&key, MessageDigest::sha256())?;
        let mut acceptor = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls())?;
        acceptor.set_private_key(&key)?;
        acceptor.set_certificate(&cert.build())?;
        acceptor.check_private_key()?;
        Ok(acceptor.build())
    })();
    made.unwrap_or_else(|e| panic!("the relay's TLS setup: {e}"))
}

// ---------------------------------------------------------------------------
// get_result / get_result_timeout
// ---------------------------------------------------------------------------

/// Results of many sizes (so that their ends fall everywhere in a TLS
/// record and in libpq's buffer), each read with get_result_timeout: the
/// rows, then Done, each long before the timeout.
#[test]
fn results_of_every_size_come_back_over_tls() {
    for target in TARGETS {
        let name = target.connect();
        for n in (1..4000).step_by(97) {
            let what = format!("{target:?}: {n} rows");
            send(
                &name,
                &format!("select g, repeat('y', g % 37) from generate_series(1, {n}) g"),
            );
            let r = next(&name, &what);
            assert_eq!((r.status(), r.ntuples()), (Status::Tuples, n), "{what}");
            let last = n.to_string();
            assert_eq!(r.get(n - 1, 0), Some(last.as_str()), "{what}");
            done(&name, &what);
        }
        pgdblink::disconnect(Some(&name)).expect("disconnect");
    }
}

/// Many small results of one query string (one per statement), then Done,
/// through get_result (untimed, in a thread with a deadline) and
/// get_result_timeout.
#[test]
fn many_small_results_of_one_query_over_tls() {
    for target in TARGETS {
        let name = target.connect();
        let sql: String = (1..=400)
            .map(|i| format!("select {i} as n, repeat('z', {}) as pad;", i * 7 % 300))
            .collect();
        for timed in [true, false] {
            let what = format!("{target:?}: 400 statements, timed: {timed}");
            send(&name, &sql);
            let moved = name.clone();
            let got: Vec<String> = within(&what, move || {
                let mut got = Vec::new();
                loop {
                    let r = if timed {
                        pgdblink::get_result_timeout(Some(&moved), true, GENEROUS)
                    } else {
                        pgdblink::get_result(Some(&moved), true)
                    }
                    .expect("a result");
                    if r.status() == Status::Done {
                        return got;
                    }
                    got.push(r.get(0, 0).unwrap_or_default().to_owned());
                }
            });
            let want: Vec<String> = (1..=400).map(|i| i.to_string()).collect();
            assert_eq!(got, want, "{what}");
        }
        pgdblink::disconnect(Some(&name)).expect("disconnect");
    }
}

/// One large value (10 MB) and one large result (200 000 rows), through
/// get_result_timeout and dblink().
#[test]
fn large_results_over_tls() {
    for target in TARGETS {
        let name = target.connect();
        let what = format!("{target:?}: repeat('x', 10 000 000)");
        send(&name, "select repeat('x', 10000000) as big, 'end' as tail");
        let r = next(&name, &what);
        assert_eq!(r.get(0, 0).map(str::len), Some(10_000_000), "{what}");
        assert_eq!(r.get(0, 1), Some("end"), "{what}");
        done(&name, &what);

        let what = format!("{target:?}: 200 000 rows");
        send(&name, "select g from generate_series(1, 200000) g");
        let r = next(&name, &what);
        assert_eq!(r.ntuples(), 200_000, "{what}");
        assert_eq!(r.get(199_999, 0), Some("200000"), "{what}");
        done(&name, &what);

        let moved = name.clone();
        let (big, rows) = within(&format!("{target:?}: dblink()"), move || {
            let big = pgdblink::dblink(Some(&moved), "select repeat('x', 10000000)", true)
                .expect("dblink, one large value");
            let rows = pgdblink::dblink(
                Some(&moved),
                "select g, md5(g::text) from generate_series(1, 200000) g",
                true,
            )
            .expect("dblink, many rows");
            (big, rows)
        });
        assert_eq!(big.get(0, 0).map(str::len), Some(10_000_000), "{target:?}");
        assert_eq!(rows.ntuples(), 200_000, "{target:?}");
        assert_eq!(rows.get(199_999, 0), Some("200000"), "{target:?}");
        pgdblink::disconnect(Some(&name)).expect("disconnect");
    }
}

/// dblink() with results of many sizes, in a thread with a deadline (it
/// has no timeout of its own).
#[test]
fn dblink_results_of_every_size_over_tls() {
    for target in TARGETS {
        let name = target.connect();
        let moved = name.clone();
        let counts = within(&format!("{target:?}: dblink() sweep"), move || {
            (1..4000)
                .step_by(89)
                .map(|n| {
                    let sql =
                        format!("select g, repeat('q', g % 41) from generate_series(1, {n}) g");
                    let r = pgdblink::dblink(Some(&moved), &sql, true).expect("dblink");
                    (n, r.ntuples())
                })
                .collect::<Vec<_>>()
        });
        for (n, got) in counts {
            assert_eq!(got, n, "{target:?}: dblink() of {n} rows");
        }
        pgdblink::disconnect(Some(&name)).expect("disconnect");
    }
}

/// A cursor read with fetch in batches of many sizes (a thread with a
/// deadline: fetch has no timeout).
#[test]
fn fetch_over_tls() {
    for target in TARGETS {
        let name = target.connect();
        let moved = name.clone();
        let total = within(&format!("{target:?}: fetch"), move || {
            let sql = "select g, repeat('f', g % 53) from generate_series(1, 60000) g";
            assert_eq!(
                pgdblink::open(Some(&moved), "c", sql, true).expect("open"),
                "OK"
            );
            let mut total = 0;
            let mut howmany = 1;
            loop {
                let r = pgdblink::fetch(Some(&moved), "c", howmany, true).expect("fetch");
                if r.ntuples() == 0 {
                    break;
                }
                total += r.ntuples();
                howmany = howmany * 3 + 7;
            }
            assert_eq!(
                pgdblink::close(Some(&moved), "c", true).expect("close"),
                "OK"
            );
            total
        });
        assert_eq!(total, 60_000, "{target:?}");
        pgdblink::disconnect(Some(&name)).expect("disconnect");
    }
}

/// Chunked (single-row before libpq 17) results: many rows in chunks of
/// several sizes, and large rows one at a time, each chunk within the
/// timeout, the rows in order.
#[test]
fn chunked_results_over_tls() {
    for target in TARGETS {
        let name = target.connect();
        for (rows, width, chunk) in [
            (100_000, 1, 1000),
            (3000, 100, 1),
            (40, 70_000, 1),
            (300, 5000, 7),
        ] {
            let what = format!("{target:?}: {rows} rows of {width} bytes in chunks of {chunk}");
            let sql = format!("select g, repeat('c', {width}) from generate_series(1, {rows}) g");
            assert!(
                pgdblink::send_query_chunked(Some(&name), &sql, chunk).expect("send chunked"),
                "{what}"
            );
            let mut seen = 0usize;
            loop {
                let r = next(&name, &what);
                match r.status() {
                    Status::Done => break,
                    Status::Tuples => {
                        for i in 0..r.ntuples() {
                            seen += 1;
                            let want = seen.to_string();
                            assert_eq!(r.get(i, 0), Some(want.as_str()), "{what}");
                            assert_eq!(r.get(i, 1).map(str::len), Some(width), "{what}");
                        }
                    }
                    other => panic!("{what}: {other:?}"),
                }
            }
            assert_eq!(seen, rows, "{what}");
        }
        pgdblink::disconnect(Some(&name)).expect("disconnect");
    }
}

/// Chunks that are complete while the server is still busy: the rows
/// before a pg_sleep(30) must come long before it ends. (Against the server
/// itself, only what a stock server sends before sleeping can be asked
/// for: a NOTICE makes it flush.)
#[test]
fn chunks_before_a_pause_come_at_once_over_tls() {
    for target in TARGETS {
        let name = target.connect();
        pgdblink::exec(
            Some(&name),
            "create or replace function pg_temp.flush_then_sleep(s float8) returns text \
             language plpgsql as $$ begin raise notice 'flush'; perform pg_sleep(s); \
             return 'slept'; end $$",
            true,
        )
        .expect("create the function");
        for width in [100, 9000, 20_000, 70_000] {
            let what = format!("{target:?}: rows of {width} bytes before a pause");
            let sql = format!(
                "select repeat('p', {width}) from generate_series(1, 20) \
                 union all select pg_temp.flush_then_sleep(30)"
            );
            assert!(
                pgdblink::send_query_chunked(Some(&name), &sql, 1).expect("send chunked"),
                "{what}"
            );
            let started = Instant::now();
            for i in 0..20 {
                let r = next(&name, &format!("{what}: row {i}"));
                assert_eq!(r.status(), Status::Tuples, "{what}");
                assert_eq!(r.get(0, 0).map(str::len), Some(width), "{what}");
            }
            assert!(
                started.elapsed() < GENEROUS,
                "{what}: the rows came only after {:?}",
                started.elapsed()
            );
            assert_eq!(
                pgdblink::cancel_query(Some(&name)).expect("cancel"),
                "OK",
                "{what}"
            );
            loop {
                let r = pgdblink::get_result_timeout(Some(&name), false, GENEROUS)
                    .expect("the cancelled query ends");
                if r.status() == Status::Done {
                    break;
                }
            }
        }
        pgdblink::disconnect(Some(&name)).expect("disconnect");
    }
}

// ---------------------------------------------------------------------------
// wait_any / wait_all, the event-loop API, notifications
// ---------------------------------------------------------------------------

/// Four connections per target with complete results of different sizes
/// (queries of 0.1 s: one pg_sleep, then the rows): wait_all reports them all within [`PROMPT`], and
/// then every get_result is at hand.
#[test]
fn wait_all_reports_complete_results_over_tls() {
    for target in TARGETS {
        let names: Vec<String> = (0..4).map(|_| target.connect()).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        for round in 0..8 {
            for (i, name) in names.iter().enumerate() {
                let n = 1 + round * 517 + i * 211;
                send(
                    name,
                    &format!(
                        "with s as materialized (select pg_sleep(0.1)) \
                         select g, repeat('w', g % 29) from s, generate_series(1, {n}) g"
                    ),
                );
            }
            let what = format!("{target:?}: round {round}");
            let started = Instant::now();
            let all = pgdblink::wait_all(&refs, Some(GENEROUS)).expect("wait_all");
            let took = started.elapsed();
            assert!(
                all,
                "{what}: wait_all timed out after {took:?} on complete results"
            );
            assert!(took < PROMPT, "{what}: wait_all took {took:?}");
            for (i, name) in names.iter().enumerate() {
                let n = 1 + round * 517 + i * 211;
                let r = next(name, &what);
                assert_eq!(r.ntuples(), n, "{what}: {name}");
                done(name, &what);
            }
        }
        for name in &names {
            pgdblink::disconnect(Some(name)).expect("disconnect");
        }
    }
}

/// wait_any over connections whose results complete one after the other:
/// each is reported within [`PROMPT`] of being complete, and only
/// reported connections are read.
#[test]
fn wait_any_reports_each_complete_result_over_tls() {
    for target in TARGETS {
        let names: Vec<String> = (0..4).map(|_| target.connect()).collect();
        for round in 0..4 {
            for (i, name) in names.iter().enumerate() {
                let n = 1 + round * 997 + i * 313;
                send(
                    name,
                    &format!(
                        "with s as materialized (select pg_sleep({})) \
                         select g, repeat('a', g % 31) from s, generate_series(1, {n}) g",
                        0.1 * (i + 1) as f64
                    ),
                );
            }
            let what = format!("{target:?}: round {round}");
            let started = Instant::now();
            let mut pending: Vec<usize> = (0..names.len()).collect();
            while !pending.is_empty() {
                let refs: Vec<&str> = pending.iter().map(|&i| names[i].as_str()).collect();
                let waited = Instant::now();
                let ready = pgdblink::wait_any(&refs, Some(GENEROUS)).expect("wait_any");
                let took = waited.elapsed();
                assert!(
                    !ready.is_empty(),
                    "{what}: wait_any timed out after {took:?} with {refs:?} pending"
                );
                assert!(took < PROMPT, "{what}: wait_any took {took:?}");
                for &k in ready.iter().rev() {
                    let i = pending.remove(k);
                    let n = 1 + round * 997 + i * 313;
                    let r = next(&names[i], &what);
                    assert_eq!(r.ntuples(), n, "{what}: {}", names[i]);
                    done(&names[i], &what);
                }
            }
            assert!(
                started.elapsed() < PROMPT * 2,
                "{what}: {:?}",
                started.elapsed()
            );
        }
        for name in &names {
            pgdblink::disconnect(Some(name)).expect("disconnect");
        }
    }
}

/// The documented event-loop pattern (socket readable, then consume_input,
/// then is_busy) over TLS: once the server has sent the result, either the
/// socket turns readable or is_busy is already false.
#[test]
fn socket_consume_input_is_busy_loop_over_tls() {
    for target in TARGETS {
        let name = target.connect();
        let fd = pgdblink::socket(Some(&name)).expect("socket");
        for n in (1..4000).step_by(211) {
            let what = format!("{target:?}: {n} rows");
            send(
                &name,
                &format!("select g, repeat('e', g % 43) from generate_series(1, {n}) g"),
            );
            let started = Instant::now();
            while pgdblink::is_busy(Some(&name)).expect("is_busy") {
                let left = GENEROUS.saturating_sub(started.elapsed());
                let ms = i32::try_from(left.as_millis()).unwrap_or(i32::MAX);
                assert!(
                    poll_read(&[fd], ms)[0],
                    "{what}: the socket stayed quiet for {:?} while is_busy said true \
                     (the rest of the result is held by OpenSSL?)",
                    started.elapsed()
                );
                assert!(
                    pgdblink::consume_input(Some(&name)).expect("consume_input"),
                    "{what}"
                );
            }
            let r = pgdblink::get_result_timeout(Some(&name), true, Duration::from_millis(1))
                .unwrap_or_else(|e| panic!("{what}: is_busy was false, yet: {e}"));
            assert_eq!(r.ntuples(), n, "{what}");
            done(&name, &what);
        }
        pgdblink::disconnect(Some(&name)).expect("disconnect");
    }
}

/// Notifications that arrive with a result: another session notifies (large
/// payloads) while the query sleeps; wait_all reports the result promptly,
/// and get_notify then has every notification.
#[test]
fn notifications_with_a_result_over_tls() {
    let sender = unique_name("tls_notify_sender");
    pgdblink::connect(Some(&sender), &server().connstr()).expect("the notifying session");
    for target in TARGETS {
        let name = target.connect();
        let channel = unique_name("tls_chan");
        pgdblink::exec(Some(&name), &format!("listen {channel}"), true).expect("listen");
        for count in [1usize, 3, 7] {
            let what = format!("{target:?}: {count} notifications");
            send(&name, "select pg_sleep(0.3)");
            for k in 0..count {
                let payload = format!("{k}{}", "n".repeat(7000));
                pgdblink::exec(
                    Some(&sender),
                    &format!("notify {channel}, '{payload}'"),
                    true,
                )
                .expect("notify");
            }
            let started = Instant::now();
            assert!(
                pgdblink::wait_all(&[name.as_str()], Some(GENEROUS)).expect("wait_all"),
                "{what}: wait_all timed out after {:?}",
                started.elapsed()
            );
            assert!(
                started.elapsed() < PROMPT,
                "{what}: {:?}",
                started.elapsed()
            );
            let r = next(&name, &what);
            assert_eq!(r.status(), Status::Tuples, "{what}");
            done(&name, &what);
            let mut got = Vec::new();
            let deadline = Instant::now() + GENEROUS;
            while got.len() < count && Instant::now() < deadline {
                got.extend(pgdblink::get_notify(Some(&name)).expect("get_notify"));
                if got.len() < count {
                    thread::sleep(Duration::from_millis(20));
                }
            }
            let payloads: Vec<String> = got.iter().map(|n| n.extra.clone()).collect();
            let want: Vec<String> = (0..count)
                .map(|k| format!("{k}{}", "n".repeat(7000)))
                .collect();
            assert_eq!(payloads.len(), count, "{what}");
            assert_eq!(payloads, want, "{what}");
            assert!(got.iter().all(|n| n.notify_name == channel), "{what}");
        }
        pgdblink::disconnect(Some(&name)).expect("disconnect");
    }
    pgdblink::disconnect(Some(&sender)).expect("disconnect");
}

/// COPY TO STDOUT over TLS, of sizes that end everywhere in a record.
#[test]
fn copy_out_over_tls() {
    for target in TARGETS {
        let name = target.connect();
        let moved = name.clone();
        let results = within(&format!("{target:?}: copy_out"), move || {
            (1..3000)
                .step_by(151)
                .map(|n| {
                    let sql = format!(
                        "copy (select g, repeat('k', g % 47) from generate_series(1, {n}) g) to stdout"
                    );
                    let mut out = pgdblink::copy_out(Some(&moved), &sql).expect("copy_out");
                    let mut text = String::new();
                    out.read_to_string(&mut text).expect("COPY data");
                    (n, text.lines().count(), out.finish().expect("copy end"))
                })
                .collect::<Vec<_>>()
        });
        for (n, lines, status) in results {
            assert_eq!(lines, n, "{target:?}");
            assert_eq!(status, format!("COPY {n}"), "{target:?}");
        }
        pgdblink::disconnect(Some(&name)).expect("disconnect");
    }
}
