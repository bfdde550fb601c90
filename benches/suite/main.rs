//! pgdblink's benchmark suite: every workload through pgdblink and through
//! its anchors (raw libpq from C, the `postgres` crate, the real dblink in
//! the server), in the same run, against the same throwaway server; prints
//! medians, min–max, the ratio pgdblink / anchor and the issue's bars.
//!
//! ```text
//! scripts/bench.sh                 # the full suite (about 5 minutes on 2 CPUs)
//! scripts/bench.sh --tiny          # each workload once at a tiny size (CI)
//! cargo bench --bench suite -- [--tiny] [--reps N] [--only w1,w2] [--out FILE]
//! scripts/bench.sh --only fanout_n [--fanout-n 10,150,1000]
//! ```
//! Workloads (for `--only`): latency, callgrind, fanout, bulk, stream,
//! connect, contention, fanout_n, copy, pipeline. See benches/BENCHMARKS.md
//! for results.

use pgdblink_testkit as server;

mod child;
mod fanout_n;
mod rawc;
mod report;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use report::{Bar, Row, median, paired_ratio};

const WORKLOADS: &[&str] = &[
    "latency",
    "callgrind",
    "fanout",
    "bulk",
    "stream",
    "connect",
    "contention",
    "fanout_n",
    "copy",
    "pipeline",
];

/// Workload sizes: the issue's, or tiny ones that only prove the code runs.
struct Sizes {
    latency_n: u64,
    callgrind_n: (u64, u64),
    fanout_conns: usize,
    fanout_sleep: &'static str,
    bulk_rows: u64,
    stream_small: u64,
    stream_big: u64,
    chunk_rows: usize,
    connect_n: usize,
    threads: usize,
    thread_n: u64,
    /// The fan-out at scale: connection counts, and the `pg_sleep` seconds.
    fanout_ns: &'static [usize],
    fanout_n_sleep: &'static str,
    /// Moving data: rows copied from database A into B; the once-only
    /// larger copy_between (peak RSS: flat memory), if any.
    copy_rows: u64,
    copy_big: Option<u64>,
    /// Parameterised inserts, and the pipeline's batch (rows per sync point).
    pipeline_n: u64,
    pipeline_batch: u64,
}

const FULL: Sizes = Sizes {
    latency_n: 20_000,
    callgrind_n: (1_000, 3_000),
    fanout_conns: 32,
    fanout_sleep: "0.2",
    bulk_rows: 1_000_000,
    stream_small: 1_000_000,
    stream_big: 10_000_000,
    chunk_rows: 1_000,
    connect_n: 50,
    threads: 8,
    thread_n: 20_000,
    fanout_ns: &[10, 150, 1_000],
    fanout_n_sleep: "0.3",
    copy_rows: 1_000_000,
    copy_big: Some(10_000_000),
    pipeline_n: 10_000,
    pipeline_batch: 1_000,
};

const TINY: Sizes = Sizes {
    latency_n: 200,
    callgrind_n: (20, 60),
    fanout_conns: 4,
    fanout_sleep: "0.02",
    bulk_rows: 2_000,
    stream_small: 1_000,
    stream_big: 10_000,
    chunk_rows: 100,
    connect_n: 3,
    threads: 2,
    thread_n: 100,
    fanout_ns: &[4],
    fanout_n_sleep: "0.05",
    copy_rows: 10_000,
    copy_big: None,
    pipeline_n: 500,
    pipeline_batch: 100,
};

struct Opts {
    tiny: bool,
    reps: usize,
    only: Vec<String>,
    out: Option<PathBuf>,
    /// `--fanout-n`: other connection counts for fanout_n.
    fanout_ns: Option<Vec<usize>>,
}

fn parse_opts(args: &[String]) -> Result<Opts, String> {
    let mut o = Opts {
        tiny: false,
        reps: 0,
        only: Vec::new(),
        out: None,
        fanout_ns: None,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--tiny" => o.tiny = true,
            "--reps" => {
                o.reps = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|&n| n > 0)
                    .ok_or("--reps needs a positive number")?;
            }
            "--only" => {
                let list = it.next().ok_or("--only needs a comma-separated list")?;
                for w in list.split(',') {
                    if !WORKLOADS.contains(&w) {
                        return Err(format!("unknown workload {w:?}; known: {WORKLOADS:?}"));
                    }
                    o.only.push(w.to_owned());
                }
            }
            "--out" => o.out = Some(it.next().ok_or("--out needs a file")?.into()),
            "--fanout-n" => {
                let list = it
                    .next()
                    .ok_or("--fanout-n needs a list, e.g. 10,150,1000")?;
                let ns = list
                    .split(',')
                    .map(|n| n.trim().parse().ok().filter(|&n: &usize| n > 0))
                    .collect::<Option<Vec<usize>>>()
                    .ok_or("--fanout-n needs positive numbers, e.g. 10,150,1000")?;
                o.fanout_ns = Some(ns);
            }
            "--bench" => {} // passed by `cargo bench`
            "-h" | "--help" => {
                return Err(
                    "usage: suite [--tiny] [--reps N] [--only w1,w2,...] [--out FILE] [--fanout-n 10,150,1000]"
                        .into(),
                );
            }
            other => return Err(format!("unknown argument {other:?} (see --help)")),
        }
    }
    if o.reps == 0 {
        o.reps = if o.tiny { 1 } else { 5 };
    }
    Ok(o)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("child") {
        return match child::main(&args[1..]) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("bench child: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let opts = match parse_opts(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match run(&opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("benchmark failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// One child's `RESULT key=value ...` line.
struct Sample(HashMap<String, String>);

impl Sample {
    fn f(&self, key: &str) -> f64 {
        self.0
            .get(key)
            .and_then(|v| v.parse().ok())
            .unwrap_or(f64::NAN)
    }

    fn s(&self, key: &str) -> &str {
        self.0.get(key).map_or("", String::as_str)
    }
}

/// What every workload needs: where the programs and the server are.
struct Ctx<'a> {
    exe: PathBuf,
    rawpq: PathBuf,
    /// TCP 127.0.0.1 connection string of the throwaway server (both sides).
    connstr: String,
    /// A session on database `oracle`, where the real dblink is installed.
    oracle: String,
    sizes: &'a Sizes,
    reps: usize,
    tiny: bool,
    /// fanout_n's connection counts (`--fanout-n`, else the sizes').
    fanout_ns: Vec<usize>,
    /// The server's postmaster PID, when it runs on this machine.
    postmaster: Option<i32>,
    /// libpq versions seen (implementation -> PQlibVersion).
    libpq: HashMap<String, String>,
}

impl Ctx<'_> {
    fn rust(&mut self, imp: &str, workload: &str, args: &[&str]) -> Result<Sample, String> {
        let mut cmd = Command::new(&self.exe);
        if let Some(pid) = self.postmaster {
            cmd.env(child::POSTMASTER_PID_ENV, pid.to_string());
        }
        cmd.arg("child").arg(imp).arg(workload).args(args);
        let s = run_child(cmd, &format!("{imp} {workload}"))?;
        if imp == "pgdblink" {
            self.libpq
                .insert("pgdblink".into(), s.s("libpq").to_owned());
        }
        Ok(s)
    }

    fn c(&mut self, workload: &str, args: &[&str]) -> Result<Sample, String> {
        let mut cmd = Command::new(&self.rawpq);
        cmd.arg(workload).args(args);
        let s = run_child(cmd, &format!("raw libpq {workload}"))?;
        self.libpq
            .insert("raw libpq".into(), s.s("libpq").to_owned());
        Ok(s)
    }

    /// The implementations in a different order in each repetition, so that
    /// none always runs first (on a warmer or colder machine).
    fn order<'b>(&self, rep: usize, imps: &[&'b str]) -> Vec<&'b str> {
        let mut v = imps.to_vec();
        v.rotate_left(rep % imps.len().max(1));
        v
    }
}

fn run_child(mut cmd: Command, what: &str) -> Result<Sample, String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {what}: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "{what} failed ({}):\n{stdout}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    parse_result(&stdout).ok_or_else(|| format!("{what} printed no RESULT line:\n{stdout}"))
}

/// The `RESULT key=value ...` line of a child's output.
fn parse_result(stdout: &str) -> Option<Sample> {
    let line = stdout.lines().find_map(|l| l.strip_prefix("RESULT "))?;
    Some(Sample(
        line.split_whitespace()
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
    ))
}

fn progress(msg: &str) {
    eprintln!("[bench] {msg}");
}

/// Fails when implementations read different data (a broken comparison).
fn same_check(what: &str, samples: &[(&str, &Sample)]) -> Result<(), String> {
    let first = samples.first().map_or("", |(_, s)| s.s("check"));
    for (imp, s) in samples {
        if s.s("check") != first {
            return Err(format!(
                "{what}: {imp} read different data (check {} vs {first})",
                s.s("check")
            ));
        }
    }
    Ok(())
}

fn run(opts: &Opts) -> Result<(), String> {
    let sizes = if opts.tiny { &TINY } else { &FULL };
    let selected = |w: &str| opts.only.is_empty() || opts.only.iter().any(|o| o == w);
    let started = Instant::now();
    let load_before = loadavg();

    progress("building the raw libpq anchor (benches/c/rawpq.c)");
    let (rawpq, libpq_note) = rawc::build()?;
    progress("starting a throwaway PostgreSQL server");
    let srv = server::Server::start()?;
    let server_version = srv
        .psql("postgres", "select version()")
        .unwrap_or_else(|e| format!("(unknown: {e})"));
    let mut ctx = Ctx {
        exe: std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?,
        rawpq,
        connstr: srv.tcp_connstr(),
        oracle: srv.connstr_db("oracle"),
        sizes,
        reps: opts.reps,
        tiny: opts.tiny,
        fanout_ns: opts
            .fanout_ns
            .clone()
            .unwrap_or_else(|| sizes.fanout_ns.to_vec()),
        postmaster: srv.data_dir().and_then(|d| {
            std::fs::read_to_string(d.join("postmaster.pid"))
                .ok()?
                .lines()
                .next()?
                .trim()
                .parse()
                .ok()
        }),
        libpq: HashMap::new(),
    };

    let mut rows = Vec::new();
    for &w in WORKLOADS {
        if !selected(w) {
            continue;
        }
        let t = Instant::now();
        progress(&format!("== {w}"));
        let mut got = match w {
            "latency" => latency(&mut ctx)?,
            "callgrind" => callgrind(&mut ctx)?,
            "fanout" => fanout(&mut ctx)?,
            "bulk" => bulk(&mut ctx)?,
            "stream" => stream(&mut ctx)?,
            "connect" => connect(&mut ctx)?,
            "contention" => contention(&mut ctx)?,
            "fanout_n" => fanout_n::fanout_n(&mut ctx, &srv)?,
            "copy" => copy(&mut ctx, &srv)?,
            "pipeline" => pipeline(&mut ctx)?,
            _ => unreachable!("workload names come from WORKLOADS"),
        };
        progress(&format!("{w} took {:.1} s", t.elapsed().as_secs_f64()));
        rows.append(&mut got);
    }

    let mut out = String::new();
    out.push_str(&header(&ctx, &server_version, &libpq_note, opts));
    out.push_str(&format!(
        "- load average (1/5/15 min) before: {load_before}, after: {}\n",
        loadavg()
    ));
    out.push('\n');
    out.push_str(&report::table(&rows, opts.tiny));
    let bars: Vec<bool> = rows.iter().filter_map(|r| r.bar.met).collect();
    if !opts.tiny {
        let met = bars.iter().filter(|&&m| m).count();
        out.push_str(&format!(
            "\nBars met: {met} of {}. Total time {:.0} s.\n",
            bars.len(),
            started.elapsed().as_secs_f64()
        ));
    } else {
        out.push_str(&format!(
            "\nTiny run (sizes too small to judge bars): every workload ran once in {:.0} s.\n",
            started.elapsed().as_secs_f64()
        ));
    }
    print!("{out}");
    if let Some(path) = &opts.out {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        std::fs::write(path, &out).map_err(|e| format!("{}: {e}", path.display()))?;
        progress(&format!("table written to {}", path.display()));
    }
    let (a, b) = (ctx.libpq.get("pgdblink"), ctx.libpq.get("raw libpq"));
    if let (Some(a), Some(b)) = (a, b) {
        if a != b {
            return Err(format!(
                "pgdblink links libpq {a} but the C anchor linked {b}: the comparison is unfair"
            ));
        }
    }
    Ok(())
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn first_line_of(path: &str, key: &str) -> Option<String> {
    std::fs::read_to_string(path).ok().and_then(|s| {
        s.lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_owned())
    })
}

fn header(ctx: &Ctx, server_version: &str, libpq_note: &str, opts: &Opts) -> String {
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    let model = first_line_of("/proc/cpuinfo", "model name").unwrap_or_else(|| "?".into());
    let mem = first_line_of("/proc/meminfo", "MemTotal").unwrap_or_else(|| "?".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "?".into());
    let date = Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let commit = Command::new("git")
        .args([
            "-C",
            env!("CARGO_MANIFEST_DIR"),
            "describe",
            "--always",
            "--dirty",
        ])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map_or_else(
            || "?".into(),
            |o| String::from_utf8_lossy(&o.stdout).trim().to_owned(),
        );
    let libpq = ctx
        .libpq
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "- pgdblink benchmark run: {date}, commit {commit}\n\
         - machine: {cpus} CPUs ({model}), {mem} memory, Linux {kernel}\n\
         - server: {server_version}, over TCP 127.0.0.1\n\
         - libpq (PQlibVersion): {libpq}; C anchor linked with {libpq_note}\n\
         - repetitions: {reps}{tiny} (latency and bulk: 2 × {reps} - 1, streaming: at most 3); ratios are medians of per-repetition ratios\n",
        reps = opts.reps,
        tiny = if opts.tiny { " (tiny sizes)" } else { "" },
    )
}

fn us_per_op(s: &Sample) -> f64 {
    s.f("wall_ns") / s.f("ops") / 1e3
}

fn cpu_us_per_op(s: &Sample) -> f64 {
    s.f("cpu_ns") / s.f("ops") / 1e3
}

fn ns_cpu_per_op(s: &Sample) -> f64 {
    s.f("cpu_ns") / s.f("ops")
}

fn k_per_s(s: &Sample) -> f64 {
    s.f("ops") / (s.f("wall_ns") / 1e9) / 1e3
}

fn ms(ns: f64) -> f64 {
    ns / 1e6
}

fn mib(s: &Sample) -> f64 {
    s.f("maxrss_kb") / 1024.0
}

fn thousands(n: u64) -> String {
    report::num(n as f64)
}

// ---------------------------------------------------------------------------
// 1. Latency
// ---------------------------------------------------------------------------

fn latency(ctx: &mut Ctx) -> Result<Vec<Row>, String> {
    let n = ctx.sizes.latency_n.to_string();
    // Under a second per run, and the wall-time ratios sit close to 1 on a
    // noisy machine: more repetitions than the other workloads.
    let reps = if ctx.tiny { ctx.reps } else { ctx.reps * 2 - 1 };
    let mut by: HashMap<&str, Vec<Sample>> = HashMap::new();
    for rep in 0..reps {
        for imp in ctx.order(rep, &["pgdblink", "raw", "rust-postgres"]) {
            let s = match imp {
                "raw" => ctx.c("latency", &[&ctx.connstr.clone(), &n])?,
                _ => ctx.rust(imp, "latency", &[&ctx.connstr.clone(), &n])?,
            };
            progress(&format!(
                "latency rep {}/{reps}: {imp} {:.2} µs per round trip",
                rep + 1,
                us_per_op(&s)
            ));
            by.entry(imp).or_default().push(s);
        }
        same_check(
            "latency",
            &[
                ("pgdblink", &by["pgdblink"][rep]),
                ("raw", &by["raw"][rep]),
                ("rust-postgres", &by["rust-postgres"][rep]),
            ],
        )?;
    }
    let wl = format!(
        "1. latency: {} × `SELECT 1` (µs per round trip, lower is better)",
        thousands(ctx.sizes.latency_n)
    );
    let wl_cpu = "1. latency: client CPU µs per round trip (the calling thread)";
    let col = |imp: &str, f: fn(&Sample) -> f64| by[imp].iter().map(f).collect::<Vec<f64>>();
    let pgd = col("pgdblink", us_per_op);
    let raw = col("raw", us_per_op);
    let rp = col("rust-postgres", us_per_op);
    let (r_raw, r_rp) = (paired_ratio(&pgd, &raw), paired_ratio(&pgd, &rp));
    let pgd_cpu = col("pgdblink", cpu_us_per_op);
    let raw_cpu = col("raw", cpu_us_per_op);
    let rp_cpu = col("rust-postgres", cpu_us_per_op);
    Ok(vec![
        Row::new(&wl, "pgdblink: send_query + get_result", "µs", pgd),
        Row::new(&wl, "raw libpq (C)", "µs", raw)
            .ratio(r_raw, Bar::le("≤ 1.05 × raw libpq", r_raw.median, 1.05)),
        Row::new(&wl, "rust-postgres `simple_query`", "µs", rp)
            .ratio(r_rp, Bar::le("≤ 1.00 × rust-postgres", r_rp.median, 1.0)),
        Row::new(wl_cpu, "pgdblink", "µs", pgd_cpu.clone()),
        Row::new(wl_cpu, "raw libpq (C)", "µs", raw_cpu.clone())
            .ratio(paired_ratio(&pgd_cpu, &raw_cpu), Bar::none()),
        Row::new(wl_cpu, "rust-postgres", "µs", rp_cpu.clone())
            .ratio(paired_ratio(&pgd_cpu, &rp_cpu), Bar::none()),
    ])
}

// ---------------------------------------------------------------------------
// 1b. Instructions per round trip (callgrind)
// ---------------------------------------------------------------------------

fn callgrind_total(file: &Path) -> Result<f64, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    text.lines()
        .find_map(|l| {
            l.strip_prefix("summary:")
                .or_else(|| l.strip_prefix("totals:"))
        })
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("no summary in {}", file.display()))
}

/// Instructions executed by the client process for `n` round trips of
/// `workload` (latency: `SELECT 1`; insert: a parameterised INSERT).
fn callgrind_run(ctx: &Ctx, imp: &str, workload: &str, n: u64, dir: &Path) -> Result<f64, String> {
    let file = dir.join(format!("callgrind.{imp}.{workload}.{n}.out"));
    let mut cmd = Command::new("valgrind");
    cmd.arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", file.display()));
    match imp {
        "raw" => {
            cmd.arg(&ctx.rawpq).arg(workload);
        }
        "c" => {
            let (exe, _) = rawc::build_pgdblink()?;
            cmd.arg(exe).arg(workload);
        }
        _ => {
            cmd.arg(&ctx.exe).args(["child", imp, workload]);
        }
    }
    cmd.args([&ctx.connstr, &n.to_string()]);
    run_child(cmd, &format!("callgrind {imp} {workload} {n}"))?;
    callgrind_total(&file)
}

fn callgrind(ctx: &mut Ctx) -> Result<Vec<Row>, String> {
    let wl = "1. latency: instructions per round trip (callgrind, client process)";
    let have = Command::new("valgrind")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !have {
        progress("valgrind not found: skipping the instruction counts");
        return Ok(vec![Row::new(
            wl,
            "skipped: valgrind not installed",
            "",
            vec![],
        )]);
    }
    let dir = ctx
        .exe
        .parent()
        .and_then(Path::parent)
        .map_or_else(std::env::temp_dir, Path::to_path_buf)
        .join("bench-callgrind");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let (n1, n2) = ctx.sizes.callgrind_n;
    let mut per = HashMap::new();
    for (imp, workload) in [
        ("raw", "latency"),
        ("handle", "latency"),
        ("pgdblink", "latency"),
        ("c", "latency"),
        ("raw", "insert"),
        ("handle", "insert"),
    ] {
        // The difference of two runs removes start-up, connect and warm-up.
        let a = callgrind_run(ctx, imp, workload, n1, &dir)?;
        let b = callgrind_run(ctx, imp, workload, n2, &dir)?;
        let v = (b - a) / (n2 - n1) as f64;
        progress(&format!(
            "callgrind: {imp} {workload} {v:.0} instructions per round trip"
        ));
        per.insert((imp, workload), v);
    }
    let raw = per[&("raw", "latency")];
    let ratio = |imp: &str| per[&(imp, "latency")] / raw;
    let ins = per[&("handle", "insert")] / per[&("raw", "insert")];
    progress(&format!(
        "callgrind: handle {:.3}, by name {:.3}, C by name {:.3}, insert {:.3} x raw (outputs in {})",
        ratio("handle"),
        ratio("pgdblink"),
        ratio("c"),
        ins,
        dir.display()
    ));
    let wl_ins = "1. parameterised INSERT: instructions per statement (callgrind, client process)";
    Ok(vec![
        Row::new(wl, "raw libpq (C)", "instr", vec![raw]),
        Row::new(
            wl,
            "pgdblink handle API (Connection)",
            "instr",
            vec![per[&("handle", "latency")]],
        )
        .ratio(
            ratio("handle"),
            Bar::le("≤ 1.10 × raw", ratio("handle"), 1.10),
        ),
        Row::new(
            wl,
            "pgdblink named Rust API",
            "instr",
            vec![per[&("pgdblink", "latency")]],
        )
        .ratio(
            ratio("pgdblink"),
            Bar::le("≤ 1.20 × raw", ratio("pgdblink"), 1.20),
        ),
        Row::new(
            wl,
            "pgdblink C ABI by name",
            "instr",
            vec![per[&("c", "latency")]],
        )
        .ratio(ratio("c"), Bar::le("≤ 1.35 × raw", ratio("c"), 1.35)),
        Row::new(
            wl_ins,
            "raw libpq (C): PQsendQueryParams",
            "instr",
            vec![per[&("raw", "insert")]],
        ),
        Row::new(
            wl_ins,
            "pgdblink handle API: send_query_params",
            "instr",
            vec![per[&("handle", "insert")]],
        )
        .ratio(ins, Bar::le("≤ 1.25 × raw", ins, 1.25)),
    ])
}

// ---------------------------------------------------------------------------
// 2. Fan-out
// ---------------------------------------------------------------------------

fn fanout(ctx: &mut Ctx) -> Result<Vec<Row>, String> {
    let nconn = ctx.sizes.fanout_conns.to_string();
    let sql = format!("SELECT pg_sleep({})", ctx.sizes.fanout_sleep);
    let imps = [
        "pgdblink",
        "raw",
        "dblink:get_result",
        "dblink:spin",
        "dblink:sleep",
    ];
    let mut by: HashMap<&str, Vec<Sample>> = HashMap::new();
    for rep in 0..ctx.reps {
        for imp in ctx.order(rep, &imps) {
            let (connstr, oracle) = (ctx.connstr.clone(), ctx.oracle.clone());
            let s = match imp {
                "pgdblink" => ctx.rust("pgdblink", "fanout", &[&connstr, &nconn, &sql])?,
                "raw" => ctx.c("fanout", &[&connstr, &nconn, &sql])?,
                _ => {
                    let mode = imp.trim_start_matches("dblink:");
                    ctx.rust("dblink", "fanout", &[&oracle, &connstr, &nconn, &sql, mode])?
                }
            };
            progress(&format!(
                "fanout rep {}/{}: {imp} wall {:.1} ms, CPU {:.2} ms",
                rep + 1,
                ctx.reps,
                ms(s.f("wall_ns")),
                ms(s.f("cpu_ns"))
            ));
            by.entry(imp).or_default().push(s);
        }
    }
    let wl = format!("2. fan-out: {nconn} connections × `{sql}` (wall ms, lower is better)");
    let wl_cpu = "2. fan-out: CPU ms of the gathering thread (dblink: its server backend)";
    let col = |imp: &str, key: &str| by[imp].iter().map(|s| ms(s.f(key))).collect::<Vec<f64>>();
    let pgd = col("pgdblink", "wall_ns");
    let single = col("pgdblink", "single_ns");
    let r_single = paired_ratio(&pgd, &single);
    let mut rows = vec![
        Row::new(
            &wl,
            "pgdblink: send_query × N, `wait_any` gather",
            "ms",
            pgd.clone(),
        ),
        Row::new(
            &wl,
            "one query alone (pgdblink, 1 connection)",
            "ms",
            single,
        )
        .ratio(
            r_single,
            Bar::le("fan-out ≤ 1.25 × one query", r_single.median, 1.25),
        ),
    ];
    let labels = [
        ("raw", "raw libpq (C): poll(2) gather"),
        (
            "dblink:get_result",
            "dblink in SQL: dblink_get_result in turn",
        ),
        ("dblink:spin", "dblink in SQL: dblink_is_busy polling loop"),
        (
            "dblink:sleep",
            "dblink in SQL: dblink_is_busy loop + pg_sleep(0.01)",
        ),
    ];
    for (imp, label) in labels {
        let v = col(imp, "wall_ns");
        let r = paired_ratio(&pgd, &v);
        rows.push(Row::new(&wl, label, "ms", v).ratio(r, Bar::none()));
    }
    let pgd_cpu = col("pgdblink", "cpu_ns");
    rows.push(Row::new(
        wl_cpu,
        "pgdblink (wait_any)",
        "ms",
        pgd_cpu.clone(),
    ));
    for (imp, label) in labels {
        let v = col(imp, "cpu_ns");
        rows.push(Row::new(wl_cpu, label, "ms", v));
    }
    let wakeups: Vec<f64> = by["pgdblink"].iter().map(|s| s.f("wakeups")).collect();
    let rounds: Vec<f64> = by["dblink:spin"].iter().map(|s| s.f("rounds")).collect();
    progress(&format!(
        "fanout: pgdblink wait_any returned {} times (median); dblink's spin loop polled {} rounds",
        median(&wakeups),
        median(&rounds)
    ));
    Ok(rows)
}

// ---------------------------------------------------------------------------
// 3. Bulk and 4. streaming
// ---------------------------------------------------------------------------

/// Three text columns of 6–7, 7–8 and 12–15 bytes; cheap for the server, so
/// that the client side (what differs) dominates.
fn bulk_sql(rows: u64) -> String {
    format!(
        "SELECT i::text AS a, (i * 7)::text AS b, 'row-' || i::text || '-x' AS c \
         FROM generate_series(1, {rows}) AS i"
    )
}

fn bulk(ctx: &mut Ctx) -> Result<Vec<Row>, String> {
    let sql = bulk_sql(ctx.sizes.bulk_rows);
    // About a second per run, and wall time is server-bound and noisy: more
    // repetitions than the other workloads.
    let reps = if ctx.tiny { ctx.reps } else { ctx.reps * 2 - 1 };
    let mut by: HashMap<&str, Vec<Sample>> = HashMap::new();
    for rep in 0..reps {
        for imp in ctx.order(rep, &["pgdblink", "raw", "rust-postgres"]) {
            let connstr = ctx.connstr.clone();
            let s = match imp {
                "raw" => ctx.c("bulk", &[&connstr, &sql, "0"])?,
                _ => ctx.rust(imp, "bulk", &[&connstr, &sql, "0"])?,
            };
            progress(&format!(
                "bulk rep {}/{reps}: {imp} {:.0} k rows/s, peak RSS {:.1} MiB",
                rep + 1,
                k_per_s(&s),
                mib(&s)
            ));
            by.entry(imp).or_default().push(s);
        }
        same_check(
            "bulk",
            &[
                ("pgdblink", &by["pgdblink"][rep]),
                ("raw", &by["raw"][rep]),
                ("rust-postgres", &by["rust-postgres"][rep]),
            ],
        )?;
    }
    let rows_s = thousands(ctx.sizes.bulk_rows);
    let wl = format!(
        "3. bulk: {rows_s} rows × 3 text columns, every cell read (k rows/s, higher is better)"
    );
    let wl_rss = format!("3. bulk: {rows_s} rows, peak RSS of the process (MiB)");
    let col = |imp: &str, f: fn(&Sample) -> f64| by[imp].iter().map(f).collect::<Vec<f64>>();
    let (pgd, raw, rp) = (
        col("pgdblink", k_per_s),
        col("raw", k_per_s),
        col("rust-postgres", k_per_s),
    );
    let (r_raw, r_rp) = (paired_ratio(&pgd, &raw), paired_ratio(&pgd, &rp));
    let (pgd_m, raw_m, rp_m) = (
        col("pgdblink", mib),
        col("raw", mib),
        col("rust-postgres", mib),
    );
    let wl_cpu = format!("3. bulk: {rows_s} rows, client CPU ns per row (the calling thread)");
    let (pgd_c, raw_c, rp_c) = (
        col("pgdblink", ns_cpu_per_op),
        col("raw", ns_cpu_per_op),
        col("rust-postgres", ns_cpu_per_op),
    );
    Ok(vec![
        Row::new(
            &wl,
            "pgdblink: send_query + get_result, `get` per cell",
            "k/s",
            pgd,
        ),
        Row::new(&wl, "raw libpq (C)", "k/s", raw)
            .ratio(r_raw, Bar::ge("≥ 0.90 × raw libpq", r_raw.median, 0.9)),
        Row::new(&wl, "rust-postgres `simple_query`", "k/s", rp)
            .ratio(r_rp, Bar::ge("≥ 1.00 × rust-postgres", r_rp.median, 1.0)),
        Row::new(&wl_rss, "pgdblink", "MiB", pgd_m.clone()),
        Row::new(&wl_rss, "raw libpq (C)", "MiB", raw_m.clone())
            .ratio(paired_ratio(&pgd_m, &raw_m), Bar::none()),
        Row::new(&wl_rss, "rust-postgres", "MiB", rp_m.clone())
            .ratio(paired_ratio(&pgd_m, &rp_m), Bar::none()),
        Row::new(&wl_cpu, "pgdblink", "ns", pgd_c.clone()),
        Row::new(&wl_cpu, "raw libpq (C)", "ns", raw_c.clone())
            .ratio(paired_ratio(&pgd_c, &raw_c), Bar::none()),
        Row::new(&wl_cpu, "rust-postgres", "ns", rp_c.clone())
            .ratio(paired_ratio(&pgd_c, &rp_c), Bar::none()),
    ])
}

fn stream(ctx: &mut Ctx) -> Result<Vec<Row>, String> {
    let (small, big, chunk) = (
        ctx.sizes.stream_small,
        ctx.sizes.stream_big,
        ctx.sizes.chunk_rows.to_string(),
    );
    let (sql_small, sql_big) = (bulk_sql(small), bulk_sql(big));
    // The 10x run takes seconds per implementation: fewer repetitions.
    let reps = if ctx.tiny { 1 } else { ctx.reps.min(3) };
    let imps = [
        "pgdblink-big",
        "pgdblink-small",
        "raw-big",
        "raw-small",
        "rust-postgres-big",
    ];
    let mut by: HashMap<&str, Vec<Sample>> = HashMap::new();
    for rep in 0..reps {
        for imp in ctx.order(rep, &imps) {
            let connstr = ctx.connstr.clone();
            let sql = if imp.ends_with("big") {
                &sql_big
            } else {
                &sql_small
            };
            let s = match imp {
                "raw-big" | "raw-small" => ctx.c("bulk", &[&connstr, sql, &chunk])?,
                "rust-postgres-big" => {
                    ctx.rust("rust-postgres", "bulk", &[&connstr, sql, &chunk])?
                }
                _ => ctx.rust("pgdblink", "bulk", &[&connstr, sql, &chunk])?,
            };
            progress(&format!(
                "stream rep {}/{reps}: {imp} {:.0} k rows/s, peak RSS {:.1} MiB",
                rep + 1,
                k_per_s(&s),
                mib(&s)
            ));
            by.entry(imp).or_default().push(s);
        }
        same_check(
            "stream",
            &[
                ("pgdblink", &by["pgdblink-big"][rep]),
                ("raw", &by["raw-big"][rep]),
                ("rust-postgres", &by["rust-postgres-big"][rep]),
            ],
        )?;
        same_check(
            "stream (small)",
            &[
                ("pgdblink", &by["pgdblink-small"][rep]),
                ("raw", &by["raw-small"][rep]),
            ],
        )?;
    }
    let (big_s, small_s) = (thousands(big), thousands(small));
    let wl = format!("4. streaming, chunks of {chunk} rows: peak RSS of the process (MiB)");
    let wl_tp = format!("4. streaming: {big_s} rows, every cell read (k rows/s)");
    let col = |imp: &str, f: fn(&Sample) -> f64| by[imp].iter().map(f).collect::<Vec<f64>>();
    let pgd_big = col("pgdblink-big", mib);
    let pgd_small = col("pgdblink-small", mib);
    let worst = pgd_big.iter().copied().fold(0.0, f64::max);
    let growth = paired_ratio(&pgd_big, &pgd_small);
    let raw_big = col("raw-big", mib);
    let raw_small = col("raw-small", mib);
    let rp_big = col("rust-postgres-big", mib);
    let tp = |imp: &str| col(imp, k_per_s);
    let (pgd_tp, raw_tp, rp_tp) = (tp("pgdblink-big"), tp("raw-big"), tp("rust-postgres-big"));
    let cpu = |imp: &str| col(imp, ns_cpu_per_op);
    let (pgd_c, raw_c, rp_c) = (
        cpu("pgdblink-big"),
        cpu("raw-big"),
        cpu("rust-postgres-big"),
    );
    let wl_cpu = format!("4. streaming: {big_s} rows, client CPU ns per row");
    Ok(vec![
        Row::new(
            &wl,
            &format!("pgdblink `send_query_chunked`, {big_s} rows"),
            "MiB",
            pgd_big.clone(),
        )
        .ratio(
            worst / 64.0,
            Bar::le("< 64 MiB (ratio: worst / 64)", worst, 64.0),
        ),
        Row::new(
            &wl,
            &format!("pgdblink `send_query_chunked`, {small_s} rows"),
            "MiB",
            pgd_small,
        )
        .ratio(
            growth,
            Bar::le(
                &format!("{big_s} / {small_s} rows ≤ 1.10"),
                growth.median,
                1.10,
            ),
        ),
        Row::new(
            &wl,
            &format!("raw libpq (C) chunked rows mode, {big_s} rows"),
            "MiB",
            raw_big.clone(),
        )
        .ratio(paired_ratio(&pgd_big, &raw_big), Bar::none()),
        Row::new(
            &wl,
            &format!("raw libpq (C) chunked rows mode, {small_s} rows"),
            "MiB",
            raw_small,
        ),
        Row::new(
            &wl,
            &format!("rust-postgres `query_raw` row stream, {big_s} rows"),
            "MiB",
            rp_big.clone(),
        )
        .ratio(paired_ratio(&pgd_big, &rp_big), Bar::none()),
        Row::new(&wl_tp, "pgdblink", "k/s", pgd_tp.clone()),
        Row::new(&wl_tp, "raw libpq (C)", "k/s", raw_tp.clone())
            .ratio(paired_ratio(&pgd_tp, &raw_tp), Bar::none()),
        Row::new(&wl_tp, "rust-postgres", "k/s", rp_tp.clone())
            .ratio(paired_ratio(&pgd_tp, &rp_tp), Bar::none()),
        Row::new(&wl_cpu, "pgdblink", "ns", pgd_c.clone()),
        Row::new(&wl_cpu, "raw libpq (C)", "ns", raw_c.clone())
            .ratio(paired_ratio(&pgd_c, &raw_c), Bar::none()),
        Row::new(&wl_cpu, "rust-postgres", "ns", rp_c.clone())
            .ratio(paired_ratio(&pgd_c, &rp_c), Bar::none()),
    ])
}

// ---------------------------------------------------------------------------
// 5. Connect
// ---------------------------------------------------------------------------

fn connect(ctx: &mut Ctx) -> Result<Vec<Row>, String> {
    let n = ctx.sizes.connect_n.to_string();
    let imps = ["pgdblink-seq", "pgdblink-all", "raw", "rust-postgres"];
    let mut by: HashMap<&str, Vec<Sample>> = HashMap::new();
    for rep in 0..ctx.reps {
        for imp in ctx.order(rep, &imps) {
            // Let the backends of the previous run exit (they use server CPU).
            std::thread::sleep(Duration::from_millis(if ctx.tiny { 50 } else { 300 }));
            let connstr = ctx.connstr.clone();
            let s = match imp {
                "pgdblink-seq" => ctx.rust("pgdblink", "connect", &[&connstr, &n, "sequential"])?,
                "pgdblink-all" => {
                    ctx.rust("pgdblink", "connect", &[&connstr, &n, "connect_all"])?
                }
                "raw" => ctx.c("connect", &[&connstr, &n])?,
                _ => ctx.rust("rust-postgres", "connect", &[&connstr, &n])?,
            };
            progress(&format!(
                "connect rep {}/{}: {imp} {:.1} ms",
                rep + 1,
                ctx.reps,
                ms(s.f("wall_ns"))
            ));
            by.entry(imp).or_default().push(s);
        }
    }
    let wl =
        format!("5. connect: {n} connections over TCP 127.0.0.1 (ms for all, lower is better)");
    let col = |imp: &str| {
        by[imp]
            .iter()
            .map(|s| ms(s.f("wall_ns")))
            .collect::<Vec<f64>>()
    };
    let (seq, all, raw, rp) = (
        col("pgdblink-seq"),
        col("pgdblink-all"),
        col("raw"),
        col("rust-postgres"),
    );
    let speedup = paired_ratio(&seq, &all);
    let get = |imp: &str, key: &str| by[imp].iter().map(|s| ms(s.f(key))).collect::<Vec<f64>>();
    let wl_srv = format!(
        "5. connect: where the CPU goes while `connect_all` opens {n} (ms; /proc schedstat and stat)"
    );
    let cpus = std::thread::available_parallelism().map_or(1, usize::from) as f64;
    let backends = get("pgdblink-all", "server_cpu_ns");
    let postmaster = get("pgdblink-all", "postmaster_cpu_ns");
    let client = get("pgdblink-all", "cpu_ns");
    let floor: Vec<f64> = (0..backends.len())
        .map(|i| (backends[i] + postmaster.get(i).copied().unwrap_or(0.0) + client[i]) / cpus)
        .collect();
    let machine: Vec<f64> = get("pgdblink-all", "machine_busy_ns")
        .iter()
        .map(|v| v / cpus)
        .collect();
    let mut rows = vec![
        Row::new(
            &wl,
            "pgdblink `connect`, one after another",
            "ms",
            seq.clone(),
        ),
        Row::new(
            &wl,
            "pgdblink `connect_all` (non-blocking, together)",
            "ms",
            all,
        )
        .ratio(
            speedup,
            Bar::ge("sequential / connect_all ≥ 3", speedup.median, 3.0),
        ),
        Row::new(
            &wl,
            "raw libpq (C) PQconnectdb + PQsetClientEncoding, one after another",
            "ms",
            raw.clone(),
        )
        .ratio(paired_ratio(&seq, &raw), Bar::none()),
        Row::new(
            &wl,
            "rust-postgres `Client::connect`, one after another",
            "ms",
            rp.clone(),
        )
        .ratio(paired_ratio(&seq, &rp), Bar::none()),
    ];
    rows.extend([
        Row::new(
            &wl_srv,
            "the new backends' start-up (server)",
            "ms",
            backends,
        ),
        Row::new(&wl_srv, "the postmaster (fork)", "ms", postmaster),
        Row::new(&wl_srv, "the connecting thread (client)", "ms", client),
        Row::new(
            &wl_srv,
            &format!("their sum / {cpus} CPUs: connect_all's floor"),
            "ms",
            floor,
        ),
        Row::new(
            &wl_srv,
            &format!("whole machine busy (every process) / {cpus} CPUs"),
            "ms",
            machine,
        ),
    ]);
    Ok(rows)
}

// ---------------------------------------------------------------------------
// 6. Registry contention
// ---------------------------------------------------------------------------

fn contention(ctx: &mut Ctx) -> Result<Vec<Row>, String> {
    let (threads, n) = (
        ctx.sizes.threads.to_string(),
        ctx.sizes.thread_n.to_string(),
    );
    let mut by: HashMap<&str, Vec<Sample>> = HashMap::new();
    for rep in 0..ctx.reps {
        for imp in ctx.order(rep, &["pgdblink", "raw"]) {
            let connstr = ctx.connstr.clone();
            let s = match imp {
                "raw" => ctx.c("contention", &[&connstr, &threads, &n])?,
                _ => ctx.rust("pgdblink", "contention", &[&connstr, &threads, &n])?,
            };
            progress(&format!(
                "contention rep {}/{}: {imp} {:.1} k round trips/s",
                rep + 1,
                ctx.reps,
                k_per_s(&s)
            ));
            by.entry(imp).or_default().push(s);
        }
        same_check(
            "contention",
            &[("pgdblink", &by["pgdblink"][rep]), ("raw", &by["raw"][rep])],
        )?;
    }
    let wl = format!(
        "6. registry contention: {threads} threads × {} round trips, own connection each (k round trips/s, higher is better)",
        thousands(ctx.sizes.thread_n)
    );
    let wl_cpu = "6. registry contention: client process CPU µs per round trip";
    let col = |imp: &str, f: fn(&Sample) -> f64| by[imp].iter().map(f).collect::<Vec<f64>>();
    let (pgd, raw) = (col("pgdblink", k_per_s), col("raw", k_per_s));
    let r = paired_ratio(&pgd, &raw);
    let (pgd_cpu, raw_cpu) = (col("pgdblink", cpu_us_per_op), col("raw", cpu_us_per_op));
    Ok(vec![
        Row::new(
            &wl,
            "pgdblink: named connections in the registry",
            "k/s",
            pgd,
        ),
        Row::new(&wl, "raw libpq (C): a PGconn per pthread", "k/s", raw)
            .ratio(r, Bar::ge("≥ 0.90 × raw libpq", r.median, 0.9)),
        Row::new(wl_cpu, "pgdblink", "µs", pgd_cpu.clone()),
        Row::new(wl_cpu, "raw libpq (C)", "µs", raw_cpu.clone())
            .ratio(paired_ratio(&pgd_cpu, &raw_cpu), Bar::none()),
    ])
}

// ---------------------------------------------------------------------------
// 9. Moving data: COPY between databases, pipelines (issue 13)
// ---------------------------------------------------------------------------

/// The two databases of the copy workload, on the suite's server.
const COPY_DB_A: &str = "bench_copy_a";
const COPY_DB_B: &str = "bench_copy_b";

/// What each copy child runs on the target before its timed part: an empty
/// target, and a checkpoint, so that no run pays for the previous one's
/// dirty pages.
const COPY_PREP: &str = "truncate bench_dst; checkpoint";

/// `connstr` for database `db` (a later `dbname` overrides the first).
fn with_db(connstr: &str, db: &str) -> String {
    format!("{connstr} dbname={db}")
}

/// `count` rows of (int, md5 text, timestamptz) as table `bench_src` in A,
/// an empty `bench_dst` and the dblink extension in B.
fn copy_setup(srv: &server::Server, rows: u64) -> Result<(), String> {
    for db in [COPY_DB_A, COPY_DB_B] {
        srv.psql(
            "postgres",
            &format!("drop database if exists {db}; create database {db}"),
        )?;
    }
    srv.psql(
        COPY_DB_A,
        &format!(
            "create table bench_src(g int, m text, t timestamptz);
             insert into bench_src select g, md5(g::text), now() from generate_series(1, {rows}) g;
             vacuum analyze bench_src"
        ),
    )?;
    srv.psql(
        COPY_DB_B,
        "create table bench_dst(g int, m text, t timestamptz);
         create extension if not exists dblink",
    )?;
    Ok(())
}

/// The COPY statements of one format (`text` or `binary`), source `from`
/// (a table, or a query in parentheses).
fn copy_sql(from: &str, format: &str) -> (String, String) {
    let with = if format == "binary" {
        " (format binary)"
    } else {
        ""
    };
    (
        format!("copy {from} to stdout{with}"),
        format!("copy bench_dst from stdin{with}"),
    )
}

fn copy(ctx: &mut Ctx, srv: &server::Server) -> Result<Vec<Row>, String> {
    let n = ctx.sizes.copy_rows;
    progress(&format!(
        "copy: creating {COPY_DB_A} with {} rows and {COPY_DB_B}",
        thousands(n)
    ));
    copy_setup(srv, n)?;
    let (a, b) = (
        with_db(&ctx.connstr, COPY_DB_A),
        with_db(&ctx.connstr, COPY_DB_B),
    );
    let dblink_sql = format!(
        "insert into bench_dst select * from dblink('{}', 'select * from bench_src') \
         as x(g int, m text, t timestamptz)",
        a.replace('\'', "''")
    );
    let imps = [
        "raw-text",
        "pgdblink-text",
        "raw-binary",
        "pgdblink-binary",
        "dblink",
    ];
    let mut by: HashMap<&str, Vec<Sample>> = HashMap::new();
    for rep in 0..ctx.reps {
        for imp in ctx.order(rep, &imps) {
            let format = imp.rsplit('-').next().unwrap_or("text");
            let (to_sql, from_sql) = copy_sql("bench_src", format);
            let s = match imp {
                "dblink" => ctx.rust("dblink", "copy", &[&b, &dblink_sql, COPY_PREP])?,
                _ if imp.starts_with("raw") => {
                    ctx.c("copy", &[&a, &b, &to_sql, &from_sql, COPY_PREP])?
                }
                _ => ctx.rust("pgdblink", "copy", &[&a, &b, &to_sql, &from_sql, COPY_PREP])?,
            };
            progress(&format!(
                "copy rep {}/{}: {imp} {:.0} k rows/s, peak RSS {:.1} MiB",
                rep + 1,
                ctx.reps,
                k_per_s(&s),
                mib(&s)
            ));
            if s.f("check") != n as f64 {
                return Err(format!("copy: {imp} copied {} rows, not {n}", s.s("check")));
            }
            by.entry(imp).or_default().push(s);
        }
    }
    // Once: copy_between at a larger size (a query as the source, so that
    // the source table need not be 10 × larger), for its peak RSS.
    let big = match ctx.sizes.copy_big {
        Some(big) => {
            let src = format!("(select g, md5(g::text), now() from generate_series(1, {big}) g)");
            let (to_sql, from_sql) = copy_sql(&src, "binary");
            let s = ctx.rust("pgdblink", "copy", &[&a, &b, &to_sql, &from_sql, COPY_PREP])?;
            progress(&format!(
                "copy: pgdblink-binary {} rows {:.0} k rows/s, peak RSS {:.1} MiB",
                thousands(big),
                k_per_s(&s),
                mib(&s)
            ));
            if s.f("check") != big as f64 {
                return Err(format!("copy: {big} rows: copied {}", s.s("check")));
            }
            srv.psql(COPY_DB_B, "truncate bench_dst")?;
            Some((big, s))
        }
        None => None,
    };
    let col = |imp: &str, f: fn(&Sample) -> f64| by[imp].iter().map(f).collect::<Vec<f64>>();
    let rows_s = thousands(n);
    let wl = format!(
        "9a. copy: {rows_s} rows (int, md5 text, timestamptz) from database A into B (k rows/s, higher is better)"
    );
    let wl_rss = "9a. copy: peak RSS of the client process (MiB)";
    let wl_cpu = format!("9a. copy: {rows_s} rows, client CPU ns per row");
    let (raw_t, pgd_t, raw_b, pgd_b, dbl) = (
        col("raw-text", k_per_s),
        col("pgdblink-text", k_per_s),
        col("raw-binary", k_per_s),
        col("pgdblink-binary", k_per_s),
        col("dblink", k_per_s),
    );
    let (r_t, r_b, r_d) = (
        paired_ratio(&pgd_t, &raw_t),
        paired_ratio(&pgd_b, &raw_b),
        paired_ratio(&pgd_t, &dbl),
    );
    let r_db = paired_ratio(&pgd_b, &dbl);
    progress(&format!(
        "copy: pgdblink binary / dblink {:.3} ({:.2}–{:.2})",
        r_db.median, r_db.lo, r_db.hi
    ));
    let mut rows = vec![
        Row::new(
            &wl,
            "raw libpq (C): PQgetCopyData → PQputCopyData, text",
            "k/s",
            raw_t,
        ),
        Row::new(&wl, "pgdblink `copy_between`, text", "k/s", pgd_t).ratio(
            r_t,
            Bar::ge("≥ 0.90 × raw COPY pipe (text)", r_t.median, 0.9),
        ),
        Row::new(
            &wl,
            "raw libpq (C): PQgetCopyData → PQputCopyData, binary",
            "k/s",
            raw_b,
        ),
        Row::new(&wl, "pgdblink `copy_between`, binary", "k/s", pgd_b).ratio(
            r_b,
            Bar::ge("≥ 0.90 × raw COPY pipe (binary)", r_b.median, 0.9),
        ),
        Row::new(
            &wl,
            "real dblink: INSERT … SELECT * FROM dblink(…) in B (ratio: pgdblink text / it)",
            "k/s",
            dbl,
        )
        .ratio(r_d, Bar::ge("pgdblink ≥ 1.25 × dblink", r_d.median, 1.25)),
    ];
    let (pgd_tm, pgd_bm) = (col("pgdblink-text", mib), col("pgdblink-binary", mib));
    let worst = pgd_tm.iter().chain(&pgd_bm).copied().fold(0.0, f64::max);
    rows.extend([
        Row::new(
            wl_rss,
            &format!("pgdblink `copy_between`, text, {rows_s} rows"),
            "MiB",
            pgd_tm,
        )
        .ratio(
            worst / 16.0,
            Bar::le(
                "< 16 MiB (ratio: worst of text and binary / 16)",
                worst,
                16.0,
            ),
        ),
        Row::new(
            wl_rss,
            &format!("pgdblink `copy_between`, binary, {rows_s} rows"),
            "MiB",
            pgd_bm.clone(),
        ),
    ]);
    if let Some((big, s)) = &big {
        let v = mib(s);
        rows.push(
            Row::new(
                wl_rss,
                &format!(
                    "pgdblink `copy_between`, binary, {} rows, once (ratio: / {rows_s} rows)",
                    thousands(*big)
                ),
                "MiB",
                vec![v],
            )
            .ratio(v / median(&pgd_bm), Bar::none()),
        );
    }
    rows.extend([
        Row::new(wl_rss, "raw libpq (C), text", "MiB", col("raw-text", mib)),
        Row::new(
            wl_rss,
            "raw libpq (C), binary",
            "MiB",
            col("raw-binary", mib),
        ),
    ]);
    for (imp, label, anchor) in [
        ("raw-text", "raw libpq (C), text", None),
        ("pgdblink-text", "pgdblink, text", Some("raw-text")),
        ("raw-binary", "raw libpq (C), binary", None),
        ("pgdblink-binary", "pgdblink, binary", Some("raw-binary")),
    ] {
        let v = col(imp, ns_cpu_per_op);
        let row = Row::new(&wl_cpu, label, "ns", v.clone());
        rows.push(match anchor {
            Some(a) => row.ratio(paired_ratio(&v, &col(a, ns_cpu_per_op)), Bar::none()),
            None => row,
        });
    }
    // Leave the server as it was (an external one too).
    let _ = srv.psql(
        "postgres",
        &format!("drop database if exists {COPY_DB_A}; drop database if exists {COPY_DB_B}"),
    );
    Ok(rows)
}

fn pipeline(ctx: &mut Ctx) -> Result<Vec<Row>, String> {
    let (n, batch) = (ctx.sizes.pipeline_n, ctx.sizes.pipeline_batch);
    let (n_s, batch_s) = (n.to_string(), batch.to_string());
    let imps = ["raw", "pgdblink-batch", "pgdblink-sequential"];
    let mut by: HashMap<&str, Vec<Sample>> = HashMap::new();
    for rep in 0..ctx.reps {
        for imp in ctx.order(rep, &imps) {
            let connstr = ctx.connstr.clone();
            let s = match imp {
                "raw" => ctx.c("pipeline", &[&connstr, &n_s, &batch_s])?,
                "pgdblink-batch" => {
                    ctx.rust("pgdblink", "pipeline", &[&connstr, &n_s, &batch_s, "batch"])?
                }
                _ => ctx.rust(
                    "pgdblink",
                    "pipeline",
                    &[&connstr, &n_s, &batch_s, "sequential"],
                )?,
            };
            progress(&format!(
                "pipeline rep {}/{}: {imp} {:.1} k inserts/s",
                rep + 1,
                ctx.reps,
                k_per_s(&s)
            ));
            if s.f("check") != n as f64 {
                return Err(format!(
                    "pipeline: {imp} inserted {} rows, not {n}",
                    s.s("check")
                ));
            }
            by.entry(imp).or_default().push(s);
        }
    }
    let wl = format!(
        "9b. pipeline: {} parameterised single-row INSERTs (k inserts/s, higher is better)",
        thousands(n)
    );
    let wl_cpu = "9b. pipeline: client CPU µs per INSERT";
    let col = |imp: &str, f: fn(&Sample) -> f64| by[imp].iter().map(f).collect::<Vec<f64>>();
    let (raw, pgd, seq) = (
        col("raw", k_per_s),
        col("pgdblink-batch", k_per_s),
        col("pgdblink-sequential", k_per_s),
    );
    let (r_raw, r_seq) = (paired_ratio(&pgd, &raw), paired_ratio(&pgd, &seq));
    let (raw_c, pgd_c, seq_c) = (
        col("raw", cpu_us_per_op),
        col("pgdblink-batch", cpu_us_per_op),
        col("pgdblink-sequential", cpu_us_per_op),
    );
    Ok(vec![
        Row::new(
            &wl,
            &format!("raw libpq (C): pipeline mode, PQpipelineSync every {batch_s}"),
            "k/s",
            raw,
        ),
        Row::new(
            &wl,
            &format!("pgdblink `exec_batch`, batches of {batch_s}"),
            "k/s",
            pgd,
        )
        .ratio(r_raw, Bar::ge("≥ 0.90 × raw pipeline", r_raw.median, 0.9)),
        Row::new(
            &wl,
            "pgdblink `send_query_params` + `get_result`, one at a time (ratio: exec_batch / it)",
            "k/s",
            seq,
        )
        .ratio(
            r_seq,
            Bar::ge("exec_batch ≥ 5 × sequential", r_seq.median, 5.0),
        ),
        Row::new(wl_cpu, "raw libpq (C) pipeline", "µs", raw_c.clone()),
        Row::new(wl_cpu, "pgdblink `exec_batch`", "µs", pgd_c.clone())
            .ratio(paired_ratio(&pgd_c, &raw_c), Bar::none()),
        Row::new(wl_cpu, "pgdblink sequential", "µs", seq_c),
    ])
}
