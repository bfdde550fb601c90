//! Workload 7, the fan-out at scale: N = 10, 150 and 1,000 connections
//! × `SELECT pg_sleep(0.3)` (tiny: N = 4 × 0.05 s), gathered by
//!
//! - raw libpq from C (`rawpq fanout_n`), the anchor: a poll(2) loop over
//!   the pending sockets, `PQconsumeInput` only on the readable ones, then
//!   `PQgetResult` while `!PQisBusy`, until NULL;
//! - pgdblink from C (`benches/c/pgdblink_fanout.c`): `dblink_send_query`,
//!   then a `dblink_wait_ready` loop (when `include/pgdblink.h` declares it)
//!   or a `dblink_wait_any` loop, each ready connection read with
//!   `dblink_get_result` until `DBLINK_STATUS_DONE`;
//! - pgdblink from Rust: `send_query`, then a `wait_any` loop, the same way;
//! - the real dblink in the server: `dblink_send_query` and the
//!   `dblink_is_busy` polling loop of the fan-out workload.
//!
//! The bars, for every pgdblink gather: wall ≤ 1.05 × raw libpq's,
//! CPU ≤ 1.5 × raw libpq's, and ≤ 2 recv() calls per gathered result.
//!
//! Wall and CPU (getrusage RUSAGE_SELF, user + system; dblink: its server
//! backend's schedstat) run from the first send to the last result. Every
//! program connects first (not measured), prints `READY pid=P` and waits
//! for SIGUSR1: the suite sends it at once in the timed runs; in one extra
//! run per N and implementation it first attaches `strace -c -f -p P`
//! (for dblink, P is the server backend running the loop), so that the
//! system-call counts hold the gather and not the connecting. strace slows
//! every call down: those runs are not timed, and a loop whose work per
//! wake-up depends on how many results arrived in the meantime counts
//! differently under it. The timed runs of the client programs therefore
//! also count, with `benches/c/syscount.c` (LD_PRELOAD, a few nanoseconds
//! per call), the same calls at full speed.
//!
//! The server is a private cluster of its own (unless `PGDBLINK_TEST_DSN`
//! names one: then N beyond its `max_connections` - 20 is skipped), started
//! with `max_connections` = N + 50 and `max_files_per_process` = 3 N + 200
//! for the largest N: dblink's backend holds N sockets, and PostgreSQL lets
//! such external descriptors take a third of `max_files_per_process`. The
//! suite first raises its own RLIMIT_NOFILE (inherited by the server and by
//! every child) to the hard limit.

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Read as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::report::{Bar, Ratio, Row, paired_ratio};
use crate::server::{PrivateOptions, Server};
use crate::{Ctx, Sample, ms, parse_result, progress, rawc};

/// The system calls counted (`strace -e trace=...`).
const TRACE: &str = "recvfrom,recvmsg,read,poll,ppoll,epoll_wait,epoll_pwait";

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Imp {
    Raw,
    CReady,
    CAny,
    Rust,
    Dblink,
}

impl Imp {
    fn key(self) -> &'static str {
        match self {
            Imp::Raw => "raw",
            Imp::CReady => "pgdblink C wait_ready",
            Imp::CAny => "pgdblink C wait_any",
            Imp::Rust => "pgdblink Rust wait_any",
            Imp::Dblink => "dblink is_busy loop",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Imp::Raw => "raw libpq (C): poll(2), PQconsumeInput on readable sockets only",
            Imp::CReady => "pgdblink (C): dblink_send_query + `dblink_wait_ready` loop",
            Imp::CAny => {
                "pgdblink (C): dblink_send_query + `dblink_wait_any` loop (one index per call)"
            }
            Imp::Rust => "pgdblink (Rust): send_query + `wait_any` loop",
            Imp::Dblink => "dblink in SQL: dblink_send_query + `dblink_is_busy` polling loop",
        }
    }

    /// The pgdblink gathers, which the bars judge.
    fn judged(self) -> bool {
        matches!(self, Imp::CReady | Imp::CAny | Imp::Rust)
    }
}

/// Raises RLIMIT_NOFILE: the soft limit to the hard one, and the hard one
/// to `need` when it is lower and we are allowed to. Returns the soft limit
/// now in force.
pub fn raise_nofile(need: u64) -> u64 {
    // SAFETY: getrlimit/setrlimit read and write the struct we pass.
    unsafe {
        let mut rl: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) != 0 {
            return 0;
        }
        if rl.rlim_max != libc::RLIM_INFINITY && rl.rlim_max < need {
            let up = libc::rlimit {
                rlim_cur: need,
                rlim_max: need,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &up) == 0 {
                rl = up;
            }
        }
        rl.rlim_cur = rl.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &rl);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl);
        rl.rlim_cur
    }
}

/// Where the runs go: the server, the programs, what strace can do.
struct Setup<'a> {
    srv: &'a Server,
    connstr: String,
    oracle: String,
    pgdblink_c: PathBuf,
    /// The LD_PRELOAD counter, and where the counts go.
    syscount: PathBuf,
    dir: PathBuf,
    /// Why there are no system-call counts, when there are none.
    no_strace: Option<String>,
    /// Client backends that were there before (an external server's).
    baseline: usize,
}

pub fn fanout_n(ctx: &mut Ctx, main_srv: &Server) -> Result<Vec<Row>, String> {
    let max_n = ctx.fanout_ns.iter().copied().max().unwrap_or(0) as u64;
    let nofile = raise_nofile(3 * max_n + 300);
    progress(&format!(
        "fanout_n: RLIMIT_NOFILE of the suite now {nofile}"
    ));
    let (pgdblink_c, has_ready) = rawc::build_pgdblink()?;
    if !has_ready {
        progress(
            "fanout_n: include/pgdblink.h has no dblink_wait_ready yet: that gather is skipped",
        );
    }
    let own;
    let srv = if main_srv.is_external() {
        main_srv
    } else {
        progress(&format!(
            "fanout_n: starting a server with max_connections = {}",
            max_n + 50
        ));
        own = Server::start_private(&PrivateOptions {
            hba: None,
            ssl: false,
            conf: vec![
                format!("max_connections = {}", max_n + 50),
                format!("max_files_per_process = {}", 3 * max_n + 200),
            ],
        })?;
        &own
    };
    let max_conn: usize = srv
        .psql("postgres", "show max_connections")?
        .trim()
        .parse()
        .map_err(|_| "cannot read the server's max_connections".to_owned())?;
    if let Some(limit) = postmaster_nofile(srv) {
        progress(&format!(
            "fanout_n: server max_connections {max_conn}, max_files_per_process {}, its RLIMIT_NOFILE {limit}",
            srv.psql("postgres", "show max_files_per_process")
                .unwrap_or_default()
        ));
    }
    let mut setup = Setup {
        srv,
        connstr: if srv.is_external() {
            ctx.connstr.clone()
        } else {
            srv.tcp_connstr()
        },
        oracle: if srv.is_external() {
            ctx.oracle.clone()
        } else {
            srv.connstr_db("oracle")
        },
        pgdblink_c,
        syscount: rawc::build_syscount()?,
        dir: ctx
            .exe
            .parent()
            .and_then(Path::parent)
            .map_or_else(std::env::temp_dir, Path::to_path_buf)
            .join("bench-fanout_n"),
        no_strace: strace_missing(),
        baseline: 0,
    };
    setup.baseline = client_backends(srv)?;
    std::fs::create_dir_all(&setup.dir).map_err(|e| format!("{}: {e}", setup.dir.display()))?;
    if let Some(why) = &setup.no_strace {
        progress(&format!("fanout_n: no system-call counts: {why}"));
    }
    let mut imps = vec![Imp::Raw];
    if has_ready {
        imps.push(Imp::CReady);
    }
    imps.extend([Imp::CAny, Imp::Rust, Imp::Dblink]);

    let mut rows = Vec::new();
    for n in ctx.fanout_ns.clone() {
        let skip = if n + 20 > max_conn {
            Some(format!(
                "the server's max_connections is {max_conn} < N + 20"
            ))
        } else if (nofile as usize) < n + 64 {
            Some(format!("RLIMIT_NOFILE is {nofile} < N + 64"))
        } else {
            None
        };
        if let Some(why) = skip {
            progress(&format!("fanout_n: N = {n} skipped: {why}"));
            rows.push(Row::new(
                &title(n, "gather wall"),
                &format!("skipped: {why}"),
                "",
                vec![],
            ));
            continue;
        }
        rows.extend(one_n(ctx, &setup, &imps, has_ready, n)?);
    }
    Ok(rows)
}

fn title(n: usize, what: &str) -> String {
    format!("7. fan-out at scale, N = {}: {what}", grouped(n))
}

/// 1000 as "1,000".
fn grouped(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// The timed repetitions and the strace runs for one N, and their rows.
fn one_n(
    ctx: &mut Ctx,
    setup: &Setup,
    imps: &[Imp],
    has_ready: bool,
    n: usize,
) -> Result<Vec<Row>, String> {
    let sql = format!("SELECT pg_sleep({})", ctx.sizes.fanout_n_sleep);
    let mut by: HashMap<Imp, Vec<Sample>> = HashMap::new();
    let mut failed: HashMap<Imp, String> = HashMap::new();
    for rep in 0..ctx.reps {
        // A different order in each repetition, as Ctx::order does.
        let mut order = imps.to_vec();
        order.rotate_left(rep % imps.len());
        for imp in order {
            if failed.contains_key(&imp) {
                continue;
            }
            wait_idle(setup)?;
            match run_one(ctx, setup, imp, n, &sql, None) {
                Ok((s, _)) => {
                    progress(&format!(
                        "fanout_n N = {n} rep {}/{}: {} wall {:.1} ms, CPU {:.2} ms, {} waits, {} recv",
                        rep + 1,
                        ctx.reps,
                        imp.key(),
                        ms(s.f("wall_ns")),
                        ms(s.f("cpu_ns")),
                        s.0.get("waits")
                            .or(s.0.get("rounds"))
                            .map_or("?", String::as_str),
                        s.0.get("sys_recv").map_or("?", String::as_str),
                    ));
                    by.entry(imp).or_default().push(s);
                }
                Err(e) => {
                    progress(&format!("fanout_n N = {n}: {} failed: {e}", imp.key()));
                    failed.insert(imp, first_line(&e));
                }
            }
        }
    }
    if failed.contains_key(&Imp::Raw) {
        return Err(format!(
            "fanout_n N = {n}: the raw libpq anchor failed: {}",
            failed[&Imp::Raw]
        ));
    }
    // One untimed run each under strace -c.
    let mut counts: HashMap<Imp, Result<Counts, String>> = HashMap::new();
    if setup.no_strace.is_none() {
        for &imp in imps {
            if failed.contains_key(&imp) {
                continue;
            }
            wait_idle(setup)?;
            let file = setup
                .dir
                .join(format!("strace.{n}.{}.txt", imp.key().replace(' ', "_")));
            let c = run_one(ctx, setup, imp, n, &sql, Some(&file))
                .and_then(|(_, c)| c.unwrap_or_else(|| Err("no strace output".into())));
            match &c {
                Ok(c) => progress(&format!(
                    "fanout_n N = {n} strace: {}: {} recv, {} EAGAIN, {} poll/epoll, {} read ({})",
                    imp.key(),
                    c.recv(),
                    c.recv_errors(),
                    c.waits(),
                    c.get("read").0,
                    file.display()
                )),
                Err(e) => progress(&format!("fanout_n N = {n} strace: {}: {e}", imp.key())),
            }
            counts.insert(imp, c);
        }
    }
    wait_idle(setup)?;
    Ok(rows_for(
        n, &sql, imps, has_ready, &by, &failed, &counts, setup,
    ))
}

#[allow(clippy::too_many_arguments)]
fn rows_for(
    n: usize,
    sql: &str,
    imps: &[Imp],
    has_ready: bool,
    by: &HashMap<Imp, Vec<Sample>>,
    failed: &HashMap<Imp, String>,
    counts: &HashMap<Imp, Result<Counts, String>>,
    setup: &Setup,
) -> Vec<Row> {
    let col = |imp: Imp, key: &str| -> Vec<f64> {
        by.get(&imp)
            .map(|v| v.iter().map(|s| ms(s.f(key))).collect())
            .unwrap_or_default()
    };
    let mut rows = Vec::new();
    let not_yet =
        "pgdblink (C): `dblink_wait_ready` loop — not in include/pgdblink.h yet (after the fix)";
    for (what, key, limit) in [
        (
            format!(
                "gather wall, {} × `{sql}` (ms, first send to last result)",
                grouped(n)
            ),
            "wall_ns",
            1.05,
        ),
        (
            "gather CPU (ms: the process, getrusage user + sys; dblink: its server backend)"
                .to_owned(),
            "cpu_ns",
            1.5,
        ),
    ] {
        let wl = title(n, &what);
        let raw = col(Imp::Raw, key);
        rows.push(Row::new(&wl, Imp::Raw.label(), "ms", raw.clone()));
        if !has_ready {
            rows.push(Row::new(&wl, not_yet, "", vec![]));
        }
        for &imp in imps.iter().filter(|&&i| i != Imp::Raw) {
            if let Some(e) = failed.get(&imp) {
                rows.push(Row::new(
                    &wl,
                    &format!("{}: failed: {e}", imp.label()),
                    "",
                    vec![],
                ));
                continue;
            }
            let v = col(imp, key);
            let r = paired_ratio(&v, &raw);
            let bar = if imp.judged() {
                Bar::le(&format!("≤ {limit:.2} × raw libpq"), r.median, limit)
            } else {
                Bar::none()
            };
            rows.push(Row::new(&wl, imp.label(), "ms", v).ratio(r, bar));
        }
    }
    let wl_counted = title(
        n,
        "recv() calls per gathered result in the timed runs (LD_PRELOAD counter: recv + recvfrom + recvmsg)",
    );
    let per_result = |imp: Imp, key: &str| -> Vec<f64> {
        by.get(&imp)
            .map(|v| v.iter().map(|s| s.f(key) / n as f64).collect())
            .unwrap_or_default()
    };
    let raw_counted = per_result(Imp::Raw, "sys_recv");
    for &imp in imps.iter().filter(|&&i| i != Imp::Dblink) {
        if failed.contains_key(&imp) {
            continue;
        }
        if imp == Imp::CAny && !has_ready {
            rows.push(Row::new(&wl_counted, not_yet, "", vec![]));
        }
        let v = per_result(imp, "sys_recv");
        let label = format!(
            "{} (EAGAIN: {}; poll/epoll calls: {})",
            imp.label(),
            crate::report::num(crate::report::median(&per_result(imp, "sys_eagain"))),
            crate::report::num(crate::report::median(&per_result(imp, "sys_wait")))
        );
        let mut row = Row::new(&wl_counted, &label, "", v.clone());
        if imp != Imp::Raw {
            row = row.ratio(paired_ratio(&v, &raw_counted), Bar::none());
        }
        rows.push(row);
    }
    let wl_recv = title(
        n,
        "recv() calls per gathered result (strace -c: recvfrom + recvmsg; one untimed run)",
    );
    let wl_wait = title(
        n,
        "poll(2)/epoll_wait calls per gathered result (strace -c: poll + ppoll + epoll_wait + epoll_pwait)",
    );
    if let Some(why) = &setup.no_strace {
        rows.push(Row::new(&wl_recv, &format!("skipped: {why}"), "", vec![]));
        return rows;
    }
    let per = |imp: Imp, f: fn(&Counts) -> f64| -> Option<f64> {
        counts.get(&imp)?.as_ref().ok().map(|c| f(c) / n as f64)
    };
    let raw_recv = per(Imp::Raw, Counts::recv);
    let raw_wait = per(Imp::Raw, Counts::waits);
    for &imp in imps {
        if imp == Imp::CAny && !has_ready {
            rows.push(Row::new(&wl_recv, not_yet, "", vec![]));
        }
        match counts.get(&imp) {
            None => {
                let e = failed.get(&imp).map_or("not run", String::as_str);
                rows.push(Row::new(
                    &wl_recv,
                    &format!("{}: {e}", imp.label()),
                    "",
                    vec![],
                ));
            }
            Some(Err(e)) => {
                rows.push(Row::new(
                    &wl_recv,
                    &format!("{}: no counts: {}", imp.label(), first_line(e)),
                    "",
                    vec![],
                ));
            }
            Some(Ok(c)) => {
                let v = c.recv() / n as f64;
                let label = format!(
                    "{} (of which EAGAIN: {})",
                    imp.label(),
                    crate::report::num(c.recv_errors() / n as f64)
                );
                let mut row = Row::new(&wl_recv, &label, "", vec![v]);
                if imp != Imp::Raw {
                    let r = Ratio::from(raw_recv.map_or(f64::NAN, |raw| v / raw));
                    let bar = if imp.judged() {
                        Bar::le("≤ 2 recv per result", v, 2.0)
                    } else {
                        Bar::none()
                    };
                    row = row.ratio(r, bar);
                }
                rows.push(row);
            }
        }
    }
    for &imp in imps {
        let Some(Ok(c)) = counts.get(&imp) else {
            continue;
        };
        let v = c.waits() / n as f64;
        let reads = c.get("read").0;
        let label = if reads > 0.0 {
            format!(
                "{} (and read(2): {} per result)",
                imp.label(),
                crate::report::num(reads / n as f64)
            )
        } else {
            imp.label().to_owned()
        };
        let mut row = Row::new(&wl_wait, &label, "", vec![v]);
        if imp != Imp::Raw {
            row = row.ratio(raw_wait.map_or(f64::NAN, |raw| v / raw), Bar::none());
        }
        rows.push(row);
    }
    rows
}

fn first_line(e: &str) -> String {
    let line = e.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    line.chars().take(160).collect()
}

// ---------------------------------------------------------------------------
// Running one program
// ---------------------------------------------------------------------------

fn command(ctx: &Ctx, setup: &Setup, imp: Imp, n: usize, sql: &str) -> Command {
    let n = n.to_string();
    let connstr = setup.connstr.as_str();
    let mut cmd;
    match imp {
        Imp::Raw => {
            cmd = Command::new(&ctx.rawpq);
            cmd.args(["fanout_n", connstr, &n, sql]);
        }
        Imp::CReady | Imp::CAny => {
            cmd = Command::new(&setup.pgdblink_c);
            let mode = if imp == Imp::CReady {
                "wait_ready"
            } else {
                "wait_any"
            };
            cmd.args([connstr, &n, sql, mode]);
        }
        Imp::Rust => {
            cmd = Command::new(&ctx.exe);
            cmd.args(["child", "pgdblink", "fanout_n", connstr, &n, sql]);
        }
        Imp::Dblink => {
            cmd = Command::new(&ctx.exe);
            cmd.args([
                "child",
                "dblink",
                "fanout_n",
                &setup.oracle,
                connstr,
                &n,
                sql,
            ]);
        }
    }
    cmd
}

/// Runs one implementation: waits for its `READY pid=P`, attaches strace to
/// P when `strace_out` is given, lets it go (SIGUSR1), reads its RESULT.
fn run_one(
    ctx: &mut Ctx,
    setup: &Setup,
    imp: Imp,
    n: usize,
    sql: &str,
    strace_out: Option<&Path>,
) -> Result<(Sample, Option<Result<Counts, String>>), String> {
    let what = format!("fanout_n {} N = {n}", imp.key());
    let mut cmd = command(ctx, setup, imp, n, sql);
    // The counter in the timed runs of the client programs (dblink's
    // calls are the server backend's: strace only).
    let count_file = (strace_out.is_none() && imp != Imp::Dblink).then(|| {
        setup
            .dir
            .join(format!("count.{n}.{}.txt", imp.key().replace(' ', "_")))
    });
    if let Some(file) = &count_file {
        let _ = std::fs::remove_file(file);
        cmd.env("LD_PRELOAD", &setup.syscount)
            .env("PGDBLINK_BENCH_SYSCOUNT", file);
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {what}: {e}"))?;
    let mut stderr = child.stderr.take().ok_or("no stderr pipe")?;
    let errors = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let mut stdout = BufReader::new(child.stdout.take().ok_or("no stdout pipe")?);
    let mut text = String::new();
    let mut ready = None;
    loop {
        let mut line = String::new();
        if stdout.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        text.push_str(&line);
        if let Some(pid) = line.trim().strip_prefix("READY pid=") {
            ready = pid.parse::<i32>().ok();
            break;
        }
    }
    let mut tracer = None;
    if let Some(pid) = ready {
        if let Some(file) = strace_out {
            tracer = Some(attach(pid, file));
        }
        let child_pid = i32::try_from(child.id()).unwrap_or(0);
        // SAFETY: kill has no memory-safety preconditions; the pid is our
        // child's, which has not been waited for yet.
        unsafe {
            libc::kill(child_pid, libc::SIGUSR1);
        }
    }
    let _ = stdout.read_to_string(&mut text);
    let status = child.wait().map_err(|e| format!("{what}: wait: {e}"))?;
    let errors = errors.join().unwrap_or_default();
    let counts = tracer.map(|t| t.and_then(|(st, file)| finish(st, &file)));
    if !status.success() {
        return Err(format!("{what} failed ({status}):\n{text}{errors}"));
    }
    let mut sample = parse_result(&text)
        .ok_or_else(|| format!("{what} printed no RESULT line:\n{text}{errors}"))?;
    if let Some(file) = &count_file {
        let counted = std::fs::read_to_string(file)
            .map_err(|e| format!("{what}: no system-call counts in {}: {e}", file.display()))?;
        for (k, v) in counted
            .split_whitespace()
            .filter_map(|kv| kv.split_once('='))
        {
            sample.0.insert(format!("sys_{k}"), v.to_owned());
        }
    }
    // Every connection's one result gathered (dblink's loop counts none).
    if sample.f("ops") != n as f64 {
        return Err(format!(
            "{what}: gathered {} results, not {n}",
            sample.s("ops")
        ));
    }
    let libpq = sample.s("libpq").to_owned();
    match imp {
        Imp::Raw => {
            ctx.libpq.insert("raw libpq".into(), libpq);
        }
        Imp::Rust => {
            ctx.libpq.insert("pgdblink".into(), libpq);
        }
        Imp::CReady | Imp::CAny => {
            if let Some(raw) = ctx.libpq.get("raw libpq").filter(|raw| **raw != libpq) {
                return Err(format!(
                    "{what}: pgdblink's staticlib links libpq {libpq} but the raw anchor {raw}"
                ));
            }
        }
        Imp::Dblink => {}
    }
    Ok((sample, counts))
}

// ---------------------------------------------------------------------------
// strace
// ---------------------------------------------------------------------------

/// Why strace cannot count, or None when it can.
fn strace_missing() -> Option<String> {
    let ok = Command::new("strace")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    (!ok).then(|| {
        "strace not installed (scripts/bench.sh installs it: scripts/install-deps.sh --bench)"
            .into()
    })
}

/// `strace -c -f -p pid`, once it has attached.
fn attach(pid: i32, file: &Path) -> Result<(Child, PathBuf), String> {
    let mut st = Command::new("strace")
        .args(["-c", "-f", "-e", &format!("trace={TRACE}"), "-o"])
        .arg(file)
        .arg("-p")
        .arg(pid.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run strace: {e}"))?;
    let mut err = BufReader::new(st.stderr.take().ok_or("no strace stderr pipe")?);
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        if err.read_line(&mut line).unwrap_or(0) == 0 {
            let _ = st.wait();
            return Err(format!("strace could not attach to {pid}: {}", seen.trim()));
        }
        seen.push_str(&line);
        if line.contains("attached") {
            break;
        }
    }
    std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = err.read_to_string(&mut rest);
    });
    Ok((st, file.to_path_buf()))
}

/// Waits for strace to end with its tracee (a server backend ends when its
/// client has gone), interrupting it after 30 s; parses its summary.
fn finish(mut st: Child, file: &Path) -> Result<Counts, String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if st.try_wait().map_err(|e| format!("strace: {e}"))?.is_some() {
            break;
        }
        if Instant::now() > deadline {
            // SAFETY: kill has no memory-safety preconditions; strace is
            // our child and not yet waited for. SIGINT makes it detach
            // and write its summary.
            unsafe {
                libc::kill(i32::try_from(st.id()).unwrap_or(0), libc::SIGINT);
            }
            let _ = st.wait();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    Ok(Counts::parse(&text))
}

/// `strace -c` counts: system call -> (calls, errors).
struct Counts(HashMap<String, (f64, f64)>);

impl Counts {
    /// The summary table: `% time  seconds  usecs/call  calls  [errors]  syscall`.
    fn parse(text: &str) -> Counts {
        let mut m = HashMap::new();
        for line in text.lines() {
            let t: Vec<&str> = line.split_whitespace().collect();
            if t.len() < 5 || t[0].parse::<f64>().is_err() || t[t.len() - 1] == "total" {
                continue;
            }
            let calls = t[3].parse().unwrap_or(0.0);
            let errors = if t.len() >= 6 {
                t[4].parse().unwrap_or(0.0)
            } else {
                0.0
            };
            m.insert(t[t.len() - 1].to_owned(), (calls, errors));
        }
        Counts(m)
    }

    fn get(&self, name: &str) -> (f64, f64) {
        self.0.get(name).copied().unwrap_or((0.0, 0.0))
    }

    fn recv(&self) -> f64 {
        self.get("recvfrom").0 + self.get("recvmsg").0
    }

    fn recv_errors(&self) -> f64 {
        self.get("recvfrom").1 + self.get("recvmsg").1
    }

    fn waits(&self) -> f64 {
        ["poll", "ppoll", "epoll_wait", "epoll_pwait"]
            .iter()
            .map(|s| self.get(s).0)
            .sum()
    }
}

// ---------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------

fn client_backends(srv: &Server) -> Result<usize, String> {
    srv.psql(
        "postgres",
        "select count(*) from pg_stat_activity \
         where backend_type = 'client backend' and pid <> pg_backend_pid()",
    )?
    .trim()
    .parse()
    .map_err(|_| "cannot count the server's client backends".to_owned())
}

/// Waits until the previous run's backends have exited (1,000 of them take
/// a while, and would count against max_connections and the CPUs).
fn wait_idle(setup: &Setup) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let now = client_backends(setup.srv)?;
        if now <= setup.baseline {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "fanout_n: {now} client backends still connected after 120 s"
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The postmaster's "Max open files" soft limit, from /proc.
fn postmaster_nofile(srv: &Server) -> Option<String> {
    let pid = std::fs::read_to_string(srv.data_dir()?.join("postmaster.pid")).ok()?;
    let pid = pid.lines().next()?.trim().to_owned();
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3).map(str::to_owned)
}
