//! The measured side: each workload runs in a child process of its own (the
//! bench binary re-executed as `suite child <impl> <workload> <args>...`), so
//! that its peak RSS is its own and no state leaks between implementations.
//! A child prints one line `RESULT key=value ...` on stdout, like
//! `benches/c/rawpq.c` does.

use std::fmt::Write as _;
use std::fs;
use std::sync::{Arc, Barrier};
use std::time::Instant;

use pgdblink::{DblinkResult, Status};

type Res<T> = Result<T, String>;

/// One child measurement, printed as `RESULT key=value ...`.
#[derive(Default)]
struct Report {
    wall_ns: u128,
    cpu_ns: u128,
    ops: u64,
    check: u64,
    extra: Vec<(&'static str, String)>,
}

impl Report {
    fn print(&self) {
        let mut line = format!(
            "RESULT wall_ns={} cpu_ns={} maxrss_kb={} ops={} check={} libpq={}",
            self.wall_ns,
            self.cpu_ns,
            maxrss_kb(),
            self.ops,
            self.check,
            raw_libpq_version()
        );
        for (k, v) in &self.extra {
            let _ = write!(line, " {k}={v}");
        }
        println!("{line}");
    }
}

/// `PQlibVersion()` of the libpq linked in, unmodified (as the C anchor
/// prints it), to check that both sides link the same libpq.
fn raw_libpq_version() -> i32 {
    // SAFETY: PQlibVersion takes no arguments and returns a constant.
    unsafe { pq_sys::PQlibVersion() }
}

/// Peak resident set size of this process, in KiB (`ru_maxrss`).
fn maxrss_kb() -> i64 {
    // SAFETY: getrusage only writes the zero-initialised struct we pass.
    unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        ru.ru_maxrss
    }
}

fn clock_ns(clock: libc::clockid_t) -> u128 {
    // SAFETY: clock_gettime only writes the zero-initialised struct we pass.
    let ts = unsafe {
        let mut ts: libc::timespec = std::mem::zeroed();
        libc::clock_gettime(clock, &mut ts);
        ts
    };
    u128::try_from(ts.tv_sec).unwrap_or(0) * 1_000_000_000 + u128::try_from(ts.tv_nsec).unwrap_or(0)
}

/// CPU time of the calling thread.
fn thread_cpu_ns() -> u128 {
    clock_ns(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// CPU time of the whole process (every thread).
fn process_cpu_ns() -> u128 {
    clock_ns(libc::CLOCK_PROCESS_CPUTIME_ID)
}

/// Wall and thread-CPU time of one measured section.
struct Section {
    wall: Instant,
    cpu: u128,
}

impl Section {
    fn start() -> Section {
        Section {
            wall: Instant::now(),
            cpu: thread_cpu_ns(),
        }
    }

    fn stop(self, ops: u64, check: u64) -> Report {
        Report {
            wall_ns: self.wall.elapsed().as_nanos(),
            cpu_ns: thread_cpu_ns() - self.cpu,
            ops,
            check,
            extra: Vec::new(),
        }
    }
}

fn arg<'a>(args: &'a [String], i: usize, what: &str) -> Res<&'a str> {
    args.get(i)
        .map(String::as_str)
        .ok_or_else(|| format!("missing argument {i} ({what})"))
}

fn num<T: std::str::FromStr>(args: &[String], i: usize, what: &str) -> Res<T> {
    arg(args, i, what)?
        .parse()
        .map_err(|_| format!("argument {i} ({what}) is not a number"))
}

fn pg(e: pgdblink::Error) -> String {
    format!("pgdblink: {} {}", e.sqlstate, e.message)
}

/// Entry point of `suite child <impl> <workload> <args>...`.
pub fn main(args: &[String]) -> Res<()> {
    let imp = arg(args, 0, "implementation")?;
    let workload = arg(args, 1, "workload")?;
    let rest = &args[2..];
    if workload == "fanout_n" {
        // Before any thread starts (threads inherit the signal mask).
        let at = if imp == "dblink" { 2 } else { 1 };
        fanout_setup(num(rest, at, "connections")?);
    }
    let report = match (imp, workload) {
        ("pgdblink", "latency") => pgd_latency(arg(rest, 0, "connstr")?, num(rest, 1, "n")?)?,
        ("handle", "latency") => handle_latency(arg(rest, 0, "connstr")?, num(rest, 1, "n")?)?,
        ("handle", "insert") => handle_insert(arg(rest, 0, "connstr")?, num(rest, 1, "n")?)?,
        ("pgdblink", "fanout") => pgd_fanout(
            arg(rest, 0, "connstr")?,
            num(rest, 1, "connections")?,
            arg(rest, 2, "sql")?,
        )?,
        ("pgdblink", "fanout_n") => pgd_fanout_n(
            arg(rest, 0, "connstr")?,
            num(rest, 1, "connections")?,
            arg(rest, 2, "sql")?,
        )?,
        ("pgdblink", "bulk") => pgd_bulk(
            arg(rest, 0, "connstr")?,
            arg(rest, 1, "sql")?,
            num(rest, 2, "chunk")?,
        )?,
        ("pgdblink", "connect") => pgd_connect(
            arg(rest, 0, "connstr")?,
            num(rest, 1, "n")?,
            arg(rest, 2, "mode")?,
        )?,
        ("pgdblink", "contention") => pgd_contention(
            arg(rest, 0, "connstr")?,
            num(rest, 1, "threads")?,
            num(rest, 2, "n")?,
        )?,
        ("pgdblink", "copy") => pgd_copy(
            arg(rest, 0, "source connstr")?,
            arg(rest, 1, "target connstr")?,
            arg(rest, 2, "copy to sql")?,
            arg(rest, 3, "copy from sql")?,
            arg(rest, 4, "prepare sql")?,
        )?,
        ("pgdblink", "pipeline") => pgd_pipeline(
            arg(rest, 0, "connstr")?,
            num(rest, 1, "n")?,
            num(rest, 2, "batch")?,
            arg(rest, 3, "mode")?,
        )?,
        ("rust-postgres", "latency") => rp_latency(arg(rest, 0, "connstr")?, num(rest, 1, "n")?)?,
        ("rust-postgres", "bulk") => rp_bulk(
            arg(rest, 0, "connstr")?,
            arg(rest, 1, "sql")?,
            num(rest, 2, "chunk")?,
        )?,
        ("rust-postgres", "connect") => rp_connect(arg(rest, 0, "connstr")?, num(rest, 1, "n")?)?,
        ("dblink", "fanout") => dblink_fanout(
            arg(rest, 0, "control connstr")?,
            arg(rest, 1, "target connstr")?,
            num(rest, 2, "connections")?,
            arg(rest, 3, "sql")?,
            arg(rest, 4, "mode")?,
            false,
        )?,
        ("dblink", "copy") => dblink_copy(
            arg(rest, 0, "target connstr")?,
            arg(rest, 1, "insert sql")?,
            arg(rest, 2, "prepare sql")?,
        )?,
        ("dblink", "fanout_n") => dblink_fanout(
            arg(rest, 0, "control connstr")?,
            arg(rest, 1, "target connstr")?,
            num(rest, 2, "connections")?,
            arg(rest, 3, "sql")?,
            "spin",
            true,
        )?,
        _ => return Err(format!("unknown child workload {imp} {workload}")),
    };
    report.print();
    Ok(())
}

// ---------------------------------------------------------------------------
// pgdblink
// ---------------------------------------------------------------------------

/// Reads every cell as `&str` (what a Rust caller gets), returning the sum of
/// their lengths (compared across implementations: same work done).
fn read_cells(res: &DblinkResult) -> u64 {
    let mut sum = 0u64;
    for r in 0..res.ntuples() {
        for c in 0..res.nfields() {
            if let Some(v) = res.get(r, c) {
                sum += v.len() as u64;
            }
        }
    }
    sum
}

/// send_query + get_result until Done; returns (rows, check).
fn pgd_round_trip(name: &str, sql: &str) -> Res<(u64, u64)> {
    if !pgdblink::send_query(Some(name), sql).map_err(pg)? {
        return Err(format!(
            "send_query failed: {:?}",
            pgdblink::error_message(Some(name))
        ));
    }
    drain(name)
}

/// get_result until Done; returns (rows, check).
fn drain(name: &str) -> Res<(u64, u64)> {
    let (mut rows, mut check) = (0u64, 0u64);
    loop {
        let res = pgdblink::get_result(Some(name), true).map_err(pg)?;
        match res.status() {
            Status::Done => return Ok((rows, check)),
            _ => {
                rows += res.ntuples() as u64;
                check += read_cells(&res);
            }
        }
    }
}

fn pgd_latency(connstr: &str, n: u64) -> Res<Report> {
    let name = "bench_latency";
    pgdblink::connect(Some(name), connstr).map_err(pg)?;
    for _ in 0..100 {
        pgd_round_trip(name, "SELECT 1")?;
    }
    let s = Section::start();
    let mut check = 0;
    for _ in 0..n {
        check += pgd_round_trip(name, "SELECT 1")?.1;
    }
    let report = s.stop(n, check);
    pgdblink::disconnect(Some(name)).map_err(pg)?;
    Ok(report)
}

/// The latency workload through the handle API (`pgdblink::Connection`).
fn handle_latency(connstr: &str, n: u64) -> Res<Report> {
    let conn = pgdblink::Connection::open("bench_handle_latency", connstr).map_err(pg)?;
    let round_trip = |conn: &pgdblink::Connection| -> Res<u64> {
        conn.send_query("SELECT 1").map_err(pg)?;
        let mut check = 0;
        loop {
            let res = conn.get_result(true).map_err(pg)?;
            if res.status() == Status::Done {
                return Ok(check);
            }
            check += read_cells(&res);
        }
    };
    for _ in 0..100 {
        round_trip(&conn)?;
    }
    let s = Section::start();
    let mut check = 0;
    for _ in 0..n {
        check += round_trip(&conn)?;
    }
    let report = s.stop(n, check);
    conn.disconnect().map_err(pg)?;
    Ok(report)
}

/// N parameterised INSERTs through the handle API (the counterpart of
/// `rawpq insert`: the same statement, text parameters, one round trip each).
fn handle_insert(connstr: &str, n: u64) -> Res<Report> {
    let conn = pgdblink::Connection::open("bench_handle_insert", connstr).map_err(pg)?;
    conn.exec("create temp table bench_ins(a int, b text)", true)
        .map_err(pg)?;
    let mut num = String::new();
    let s = Section::start();
    let mut check = 0;
    for i in 0..n + 100 {
        use std::fmt::Write as _;
        num.clear();
        let _ = write!(num, "{i}");
        conn.send_query_params(
            "insert into bench_ins values ($1, $2)",
            &[Some(&num), Some("some text")],
        )
        .map_err(pg)?;
        loop {
            let res = conn.get_result(true).map_err(pg)?;
            if res.status() == Status::Done {
                break;
            }
            check += res.get(0, 0).map_or(0, |v| v.len() as u64);
        }
    }
    let report = s.stop(n, check);
    conn.disconnect().map_err(pg)?;
    Ok(report)
}

fn pgd_fanout(connstr: &str, nconn: usize, sql: &str) -> Res<Report> {
    let names: Vec<String> = (0..nconn).map(|i| format!("bench_fan_{i}")).collect();
    let targets: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), connstr)).collect();
    for outcome in pgdblink::connect_all(&targets, None) {
        outcome.map_err(pg)?;
    }
    // One query's time alone, on one of the same connections.
    let single = Instant::now();
    pgd_round_trip(&names[0], sql)?;
    let single_ns = single.elapsed().as_nanos();

    let s = Section::start();
    for name in &names {
        if !pgdblink::send_query(Some(name), sql).map_err(pg)? {
            return Err(format!("send_query on {name} failed"));
        }
    }
    let mut pending: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut check = 0;
    let mut wakeups = 0u64;
    while !pending.is_empty() {
        let ready = pgdblink::wait_any(&pending, None).map_err(pg)?;
        wakeups += 1;
        for &i in ready.iter().rev() {
            let res = pgdblink::get_result(Some(pending[i]), true).map_err(pg)?;
            if res.status() == Status::Done {
                pending.remove(i);
            } else {
                check += read_cells(&res);
            }
        }
    }
    let mut report = s.stop(nconn as u64, check);
    report.extra.push(("single_ns", single_ns.to_string()));
    report.extra.push(("wakeups", wakeups.to_string()));
    pgdblink::disconnect_all();
    Ok(report)
}

/// The fan-out at scale (benches/suite/fanout_n.rs): `connect_all`, then,
/// from the first send to the last result, `send_query` on every
/// connection and a `wait_any` loop, each ready connection read with
/// `get_result` until `Done`. CPU is the process's (getrusage).
fn pgd_fanout_n(connstr: &str, nconn: usize, sql: &str) -> Res<Report> {
    let names: Vec<String> = (0..nconn).map(|i| format!("bench_fan_{i}")).collect();
    let targets: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), connstr)).collect();
    for outcome in pgdblink::connect_all(&targets, None) {
        outcome.map_err(pg)?;
    }
    ready_wait(std::process::id());
    let (t0, cpu0) = (Instant::now(), rusage_cpu_ns());
    for name in &names {
        if !pgdblink::send_query(Some(name), sql).map_err(pg)? {
            return Err(format!("send_query on {name} failed"));
        }
    }
    let mut pending: Vec<&str> = names.iter().map(String::as_str).collect();
    let (mut results, mut rows, mut waits) = (0u64, 0u64, 0u64);
    while !pending.is_empty() {
        let ready = pgdblink::wait_any(&pending, None).map_err(pg)?;
        waits += 1;
        // Descending, so that swap_remove only moves connections not ready.
        for &i in ready.iter().rev() {
            let (n, _cells) = drain(pending[i])?;
            results += 1;
            rows += n;
            pending.swap_remove(i);
        }
    }
    let report = Report {
        wall_ns: t0.elapsed().as_nanos(),
        cpu_ns: rusage_cpu_ns() - cpu0,
        ops: results,
        check: rows,
        extra: vec![("waits", waits.to_string())],
    };
    pgdblink::disconnect_all();
    Ok(report)
}

/// For the fan-out at scale: raises RLIMIT_NOFILE (as the suite does), and
/// blocks SIGUSR1 for [`ready_wait`] (as benches/c/fanout_wait.h does).
fn fanout_setup(nconn: u64) {
    crate::fanout_n::raise_nofile(nconn + 64);
    // SAFETY: the sigset is initialised by sigemptyset before use.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGUSR1);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

/// Prints `READY pid=<pid>` (the process the suite may attach `strace -c`
/// to) and waits for the suite's SIGUSR1.
fn ready_wait(pid: u32) {
    use std::io::Write as _;
    println!("READY pid={pid}");
    let _ = std::io::stdout().flush();
    // SAFETY: the sigset is initialised by sigemptyset before use; sigwait
    // writes the signal number into `sig`.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGUSR1);
        let mut sig = 0;
        libc::sigwait(&set, &mut sig);
    }
}

/// CPU time of the whole process, user + system (getrusage RUSAGE_SELF),
/// as the C programs measure it.
fn rusage_cpu_ns() -> u128 {
    // SAFETY: getrusage only writes the zero-initialised struct we pass.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        ru
    };
    let us = |t: libc::timeval| {
        u128::try_from(t.tv_sec).unwrap_or(0) * 1_000_000 + u128::try_from(t.tv_usec).unwrap_or(0)
    };
    (us(ru.ru_utime) + us(ru.ru_stime)) * 1000
}

fn pgd_bulk(connstr: &str, sql: &str, chunk: usize) -> Res<Report> {
    let name = "bench_bulk";
    pgdblink::connect(Some(name), connstr).map_err(pg)?;
    let s = Section::start();
    let sent = if chunk == 0 {
        pgdblink::send_query(Some(name), sql)
    } else {
        pgdblink::send_query_chunked(Some(name), sql, chunk)
    }
    .map_err(pg)?;
    if !sent {
        return Err("send failed".into());
    }
    let (rows, check) = drain(name)?;
    let report = s.stop(rows, check);
    pgdblink::disconnect(Some(name)).map_err(pg)?;
    Ok(report)
}

fn pgd_connect(connstr: &str, n: usize, mode: &str) -> Res<Report> {
    let names: Vec<String> = (0..n).map(|i| format!("bench_conn_{i}")).collect();
    // The postmaster forks every backend: its CPU time is server work too.
    let postmaster: Option<i32> = std::env::var(POSTMASTER_PID_ENV)
        .ok()
        .and_then(|p| p.parse().ok());
    let pm0 = postmaster.and_then(|p| proc_cpu_ns(p).ok());
    let busy0 = machine_busy_ns();
    let s = Section::start();
    match mode {
        "sequential" => {
            for name in &names {
                pgdblink::connect(Some(name), connstr).map_err(pg)?;
            }
        }
        "connect_all" => {
            let targets: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), connstr)).collect();
            for outcome in pgdblink::connect_all(&targets, None) {
                outcome.map_err(pg)?;
            }
        }
        other => return Err(format!("unknown connect mode {other}")),
    }
    let mut report = s.stop(n as u64, 0);
    if let (Some(b0), Some(b1)) = (busy0, machine_busy_ns()) {
        report
            .extra
            .push(("machine_busy_ns", (b1 - b0).to_string()));
    }
    if let (Some(p), Some(pm0)) = (postmaster, pm0) {
        if let Ok(pm1) = proc_cpu_ns(p) {
            report
                .extra
                .push(("postmaster_cpu_ns", (pm1 - pm0).to_string()));
        }
    }
    // The server's side of it: CPU time the new backends spent starting up
    // (read while they are still connected; a server on another machine, or
    // one whose /proc we cannot read, reports nothing).
    let mut server_cpu = 0u128;
    for name in &names {
        let pid = pgd_value(name, "select pg_backend_pid()")?;
        match pid.parse().map_err(|_| String::new()).and_then(proc_cpu_ns) {
            Ok(ns) => server_cpu += ns,
            Err(_) => {
                server_cpu = 0;
                break;
            }
        }
    }
    if server_cpu > 0 {
        report.extra.push(("server_cpu_ns", server_cpu.to_string()));
    }
    pgdblink::disconnect_all();
    Ok(report)
}

/// Environment variable through which the suite passes the server's
/// postmaster PID to the connect workload.
pub const POSTMASTER_PID_ENV: &str = "PGDBLINK_BENCH_POSTMASTER_PID";

/// CPU time used by the whole machine (every CPU, every process) since boot,
/// from /proc/stat (clock ticks, so only meaningful over 100 ms or more).
fn machine_busy_ns() -> Option<u128> {
    let stat = fs::read_to_string("/proc/stat").ok()?;
    let cpu = stat.lines().next()?.strip_prefix("cpu ")?;
    let v: Vec<u128> = cpu
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal ...
    let busy: u128 = v.iter().take(8).sum::<u128>() - v.get(3)? - v.get(4)?;
    // SAFETY: sysconf has no memory-safety preconditions.
    let hz = u128::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) }).unwrap_or(100);
    Some(busy * 1_000_000_000 / hz.max(1))
}

/// The first cell of a one-row query.
fn pgd_value(name: &str, sql: &str) -> Res<String> {
    if !pgdblink::send_query(Some(name), sql).map_err(pg)? {
        return Err(format!("send_query on {name} failed"));
    }
    let res = pgdblink::get_result(Some(name), true).map_err(pg)?;
    let v = res.get(0, 0).unwrap_or_default().to_owned();
    drain(name)?;
    Ok(v)
}

fn pgd_contention(connstr: &str, threads: usize, n: u64) -> Res<Report> {
    let start = Arc::new(Barrier::new(threads + 1));
    let mut handles = Vec::new();
    for t in 0..threads {
        let start = Arc::clone(&start);
        let connstr = connstr.to_owned();
        handles.push(std::thread::spawn(move || -> Res<u64> {
            let name = format!("bench_thread_{t}");
            let setup = pgdblink::connect(Some(&name), &connstr)
                .map_err(pg)
                .and_then(|()| {
                    (0..100).try_for_each(|_| pgd_round_trip(&name, "SELECT 1").map(drop))
                });
            start.wait();
            setup?;
            let mut check = 0;
            for _ in 0..n {
                check += pgd_round_trip(&name, "SELECT 1")?.1;
            }
            Ok(check)
        }));
    }
    start.wait();
    let t0 = Instant::now();
    let cpu0 = process_cpu_ns();
    let mut check = 0;
    for h in handles {
        check += h.join().map_err(|_| "worker panicked".to_owned())??;
    }
    let report = Report {
        wall_ns: t0.elapsed().as_nanos(),
        cpu_ns: process_cpu_ns() - cpu0,
        ops: threads as u64 * n,
        check,
        extra: Vec::new(),
    };
    pgdblink::disconnect_all();
    Ok(report)
}

/// `copy_between` from a COPY TO STDOUT on `src` into a COPY FROM STDIN on
/// `dst` (the counterpart of `rawpq copy`); `prep` runs on `dst` first,
/// untimed (the suite truncates the target there). check = rows copied.
fn pgd_copy(src: &str, dst: &str, to_sql: &str, from_sql: &str, prep: &str) -> Res<Report> {
    let (a, b) = ("bench_copy_src", "bench_copy_dst");
    pgdblink::connect(Some(a), src).map_err(pg)?;
    pgdblink::connect(Some(b), dst).map_err(pg)?;
    pgdblink::exec(Some(b), prep, true).map_err(pg)?;
    let s = Section::start();
    let rows = pgdblink::copy_between(Some(a), to_sql, Some(b), from_sql).map_err(pg)?;
    let report = s.stop(rows, rows);
    pgdblink::disconnect_all();
    Ok(report)
}

/// The rows of a command status such as `INSERT 0 1` (its last number).
fn status_rows(status: &str) -> u64 {
    status
        .rsplit(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// `n` parameterised INSERTs into a temp table (the counterpart of `rawpq
/// pipeline`): `mode` `batch`, `exec_batch` over `batch` parameter rows at
/// a time (the rows' text made inside the timed part, as the C anchor's
/// snprintf is); `sequential`, `send_query_params` and `get_result` until
/// `Done`, one insert at a time. check = rows inserted.
fn pgd_pipeline(connstr: &str, n: u64, batch: u64, mode: &str) -> Res<Report> {
    let name = "bench_pipeline";
    let sql = "insert into bench_ins values ($1::int, $2)";
    pgdblink::connect(Some(name), connstr).map_err(pg)?;
    pgdblink::exec(
        Some(name),
        "create temp table bench_ins(a int, b text)",
        true,
    )
    .map_err(pg)?;
    let s = Section::start();
    let mut check = 0u64;
    match mode {
        "batch" => {
            let batch = batch.max(1);
            let mut nums: Vec<String> = Vec::new();
            let mut start = 0;
            while start < n {
                let end = (start + batch).min(n);
                nums.clear();
                nums.extend((start..end).map(|i| i.to_string()));
                let rows: Vec<[Option<&str>; 2]> = nums
                    .iter()
                    .map(|v| [Some(v.as_str()), Some("some text")])
                    .collect();
                let refs: Vec<&[Option<&str>]> = rows.iter().map(|r| &r[..]).collect();
                check += pgdblink::exec_batch(Some(name), sql, &refs).map_err(pg)?;
                start = end;
            }
        }
        "sequential" => {
            let mut num = String::new();
            for i in 0..n {
                num.clear();
                let _ = write!(num, "{i}");
                if !pgdblink::send_query_params(Some(name), sql, &[Some(&num), Some("some text")])
                    .map_err(pg)?
                {
                    return Err("send_query_params failed".into());
                }
                loop {
                    let res = pgdblink::get_result(Some(name), true).map_err(pg)?;
                    if res.status() == Status::Done {
                        break;
                    }
                    check += res.get(0, 0).map_or(0, status_rows);
                }
            }
        }
        other => return Err(format!("unknown pipeline mode {other}")),
    }
    let report = s.stop(n, check);
    pgdblink::disconnect(Some(name)).map_err(pg)?;
    Ok(report)
}

// ---------------------------------------------------------------------------
// rust-postgres (the sync `postgres` crate)
// ---------------------------------------------------------------------------

fn rp_connect_one(connstr: &str) -> Res<postgres::Client> {
    postgres::Client::connect(connstr, postgres::NoTls).map_err(|e| format!("postgres: {e}"))
}

/// `simple_query` (the same simple-protocol exchange as PQsendQuery),
/// every cell read as `&str`; returns (rows, check).
fn rp_simple(client: &mut postgres::Client, sql: &str) -> Res<(u64, u64)> {
    let (mut rows, mut check) = (0u64, 0u64);
    for msg in client
        .simple_query(sql)
        .map_err(|e| format!("postgres: {e}"))?
    {
        if let postgres::SimpleQueryMessage::Row(row) = msg {
            rows += 1;
            for c in 0..row.len() {
                if let Some(v) = row.get(c) {
                    check += v.len() as u64;
                }
            }
        }
    }
    Ok((rows, check))
}

fn rp_latency(connstr: &str, n: u64) -> Res<Report> {
    let mut client = rp_connect_one(connstr)?;
    for _ in 0..100 {
        rp_simple(&mut client, "SELECT 1")?;
    }
    let s = Section::start();
    let mut check = 0;
    for _ in 0..n {
        check += rp_simple(&mut client, "SELECT 1")?.1;
    }
    Ok(s.stop(n, check))
}

/// chunk == 0: `simple_query` (whole result in memory, like PQgetResult);
/// chunk > 0: `query_raw`, rust-postgres' row stream (it has no chunk size:
/// rows are decoded as they arrive).
fn rp_bulk(connstr: &str, sql: &str, chunk: usize) -> Res<Report> {
    use postgres::fallible_iterator::FallibleIterator as _;
    let mut client = rp_connect_one(connstr)?;
    let s = Section::start();
    let (rows, check) = if chunk == 0 {
        rp_simple(&mut client, sql)?
    } else {
        let (mut rows, mut check) = (0u64, 0u64);
        let mut it = client
            .query_raw(sql, std::iter::empty::<&dyn postgres::types::ToSql>())
            .map_err(|e| format!("postgres: {e}"))?;
        while let Some(row) = it.next().map_err(|e| format!("postgres: {e}"))? {
            rows += 1;
            for c in 0..row.len() {
                let v: Option<&str> = row.try_get(c).map_err(|e| format!("postgres: {e}"))?;
                check += v.map_or(0, |v| v.len() as u64);
            }
        }
        (rows, check)
    };
    Ok(s.stop(rows, check))
}

fn rp_connect(connstr: &str, n: usize) -> Res<Report> {
    let s = Section::start();
    let clients = (0..n)
        .map(|_| rp_connect_one(connstr))
        .collect::<Res<Vec<_>>>()?;
    let report = s.stop(n as u64, 0);
    drop(clients);
    Ok(report)
}

// ---------------------------------------------------------------------------
// The real dblink, inside the server
// ---------------------------------------------------------------------------

/// The gathering loops dblink users write in SQL today. `mode`:
/// `get_result` (block on each connection in turn), `spin` (dblink_is_busy
/// over all connections until none is busy), `sleep` (the same with
/// pg_sleep(0.01) between rounds).
const FANOUT_FN: &str = r#"
create or replace function pg_temp.bench_fanout(n int, q text, mode text) returns bigint
language plpgsql as $$
declare
  i int;
  busy int;
  rounds bigint := 0;
  r text;
begin
  for i in 1..n loop
    perform dblink_send_query('bench_f' || i, q);
  end loop;
  if mode <> 'get_result' then
    loop
      busy := 0;
      for i in 1..n loop
        busy := busy + dblink_is_busy('bench_f' || i);
      end loop;
      rounds := rounds + 1;
      exit when busy = 0;
      if mode = 'sleep' then
        perform pg_sleep(0.01);
      end if;
    end loop;
  end if;
  for i in 1..n loop
    select x into r from dblink_get_result('bench_f' || i) as t(x text);
    perform x from dblink_get_result('bench_f' || i) as t(x text);
  end loop;
  return rounds;
end
$$;
"#;

/// CPU time of process `pid` (e.g. a server backend) in nanoseconds:
/// /proc/<pid>/schedstat (exact), else utime + stime from /proc/<pid>/stat
/// (clock ticks).
fn proc_cpu_ns(pid: i32) -> Res<u128> {
    if let Some(ns) = fs::read_to_string(format!("/proc/{pid}/schedstat"))
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u128>().ok())
    {
        return Ok(ns);
    }
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| format!("cannot read /proc/{pid}/stat (a server backend): {e}"))?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let after = stat
        .rsplit_once(')')
        .map(|(_, a)| a)
        .ok_or("malformed /proc stat")?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of stat; `after` starts at field 3.
    let ticks: u128 = fields
        .get(11..13)
        .ok_or("short /proc stat")?
        .iter()
        .map(|f| f.parse::<u128>().unwrap_or(0))
        .sum();
    // SAFETY: sysconf has no memory-safety preconditions.
    let hz = u128::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) }).unwrap_or(100);
    Ok(ticks * 1_000_000_000 / hz.max(1))
}

/// `handshake`: print `READY pid=<the backend's pid>` once connected and wait
/// for SIGUSR1 before the measured part (the fan-out at scale, where the
/// suite may attach `strace -c` to the backend that runs the loop).
fn dblink_fanout(
    control: &str,
    target: &str,
    nconn: i32,
    sql: &str,
    mode: &str,
    handshake: bool,
) -> Res<Report> {
    let e = |e: postgres::Error| format!("postgres (dblink session): {e}");
    let mut client = rp_connect_one(control)?;
    client.batch_execute(FANOUT_FN).map_err(e)?;
    client
        .execute(
            "select count(dblink_connect('bench_f' || i, $1)) from generate_series(1, $2) i",
            &[&target, &nconn],
        )
        .map_err(e)?;
    let pid: i32 = client
        .query_one("select pg_backend_pid()", &[])
        .map_err(e)?
        .get(0);
    if handshake {
        ready_wait(u32::try_from(pid).unwrap_or(0));
    }
    // The backend's CPU time, when its /proc is readable (not for a server
    // on another machine: then the table shows no CPU for dblink).
    let cpu0 = proc_cpu_ns(pid).ok();
    let t0 = Instant::now();
    let rounds: i64 = client
        .query_one(
            "select pg_temp.bench_fanout($1, $2, $3)",
            &[&nconn, &sql, &mode],
        )
        .map_err(e)?
        .get(0);
    let wall_ns = t0.elapsed().as_nanos();
    let cpu_ns = cpu0.and_then(|c0| Some(proc_cpu_ns(pid).ok()? - c0));
    let mut extra = vec![("rounds", rounds.to_string())];
    if cpu_ns.is_none() {
        extra.push(("cpu_ns", "nan".into())); // overrides the 0 (last key wins)
    }
    Ok(Report {
        wall_ns,
        cpu_ns: cpu_ns.unwrap_or(0),
        ops: u64::try_from(nconn).unwrap_or(0),
        check: 0,
        extra,
    })
}

/// The real dblink moving a table: `sql`, an `INSERT INTO ... SELECT * FROM
/// dblink(...)` run in the target database, where the server's dblink reads
/// the source (into a tuplestore) and the INSERT writes it. `prep` runs
/// first, untimed. check = rows inserted. The client does nothing but wait:
/// its RSS and CPU say nothing about dblink (the work is in the backend).
fn dblink_copy(target: &str, sql: &str, prep: &str) -> Res<Report> {
    let e = |e: postgres::Error| format!("postgres (dblink session): {e}");
    let mut client = rp_connect_one(target)?;
    client.batch_execute(prep).map_err(e)?;
    let t0 = Instant::now();
    let rows = client.execute(sql, &[]).map_err(e)?;
    Ok(Report {
        wall_ns: t0.elapsed().as_nanos(),
        cpu_ns: 0,
        ops: rows,
        check: rows,
        extra: Vec::new(),
    })
}
