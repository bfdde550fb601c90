//! fanout: open several named connections, send one query to all of them at
//! once, and gather the results as they arrive (no busy polling).
//!
//! ```text
//! PGDBLINK_DSN='host=/run/postgresql dbname=postgres' \
//!   cargo run --example fanout                          # 4 connections to $PGDBLINK_DSN
//! cargo run --example fanout -- a='dbname=x' b='host=y' -- 'select now()'
//! scripts/demo.sh                                     # the same, with a throwaway local
//!                                                     # server when PGDBLINK_DSN is unset
//! ```

use std::io::Write;
use std::time::{Duration, Instant};

const DEFAULT_SQL: &str =
    "select pg_backend_pid() as pid, pg_sleep(random() * 0.5)::text as slept, now() as at";

struct Job {
    name: String,
    sent: Instant,
    finished: Option<Duration>,
    rows: Vec<Vec<Option<String>>>,
    columns: Vec<String>,
    error: Option<String>,
}

fn main() {
    if let Err(e) = run() {
        eprintln!("fanout: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (targets, sql) = parse_args(&args)?;
    let targets = if targets.is_empty() {
        let dsn = std::env::var("PGDBLINK_DSN")
            .ok()
            .filter(|dsn| !dsn.trim().is_empty())
            .ok_or(
                "no connections: set PGDBLINK_DSN to a libpq connection string (4 connections \
                 are made to it), or give name=connstr arguments; scripts/demo.sh starts a \
                 throwaway local server and sets PGDBLINK_DSN when it is unset",
            )?;
        (1..=4).map(|i| (format!("conn{i}"), dsn.clone())).collect()
    } else {
        targets
    };

    let mut jobs = Vec::new();
    for (name, connstr) in &targets {
        pgdblink::connect(Some(name), connstr).map_err(|e| describe(name, &e))?;
        let sent = Instant::now();
        if !pgdblink::send_query(Some(name), &sql).map_err(|e| describe(name, &e))? {
            let why = pgdblink::error_message(Some(name)).unwrap_or_default();
            return Err(format!("{name}: could not send query: {why}"));
        }
        jobs.push(Job {
            name: name.clone(),
            sent,
            finished: None,
            rows: Vec::new(),
            columns: Vec::new(),
            error: None,
        });
    }

    gather(&mut jobs)?;
    print_table(&jobs);
    for job in &jobs {
        pgdblink::disconnect(Some(&job.name)).map_err(|e| describe(&job.name, &e))?;
    }
    Ok(())
}

/// Waits on every pending connection at once and collects each one's results
/// as soon as they are ready.
fn gather(jobs: &mut [Job]) -> Result<(), String> {
    let total = jobs.len();
    loop {
        let pending: Vec<usize> = (0..total).filter(|&i| jobs[i].finished.is_none()).collect();
        eprint!("\rwaiting: {}/{total} done", total - pending.len());
        let _ = std::io::stderr().flush();
        if pending.is_empty() {
            eprintln!();
            return Ok(());
        }
        let names: Vec<&str> = pending.iter().map(|&i| jobs[i].name.as_str()).collect();
        let ready = pgdblink::wait_any(&names, Some(Duration::from_millis(200)))
            .map_err(|e| describe("wait_any", &e))?;
        for i in ready.into_iter().map(|r| pending[r]) {
            collect(&mut jobs[i])?;
        }
    }
}

/// Reads one connection's results up to the empty set that ends the query.
fn collect(job: &mut Job) -> Result<(), String> {
    loop {
        let res = match pgdblink::get_result(Some(&job.name), true) {
            Ok(res) => res,
            Err(e) => {
                job.error = Some(e.to_string());
                continue; // the next get_result returns the final empty set
            }
        };
        match res.status() {
            pgdblink::Status::Done => break,
            _ => {
                job.columns = res.columns();
                job.rows.extend(res.rows());
            }
        }
        if pgdblink::is_busy(Some(&job.name)).map_err(|e| describe(&job.name, &e))? {
            return Ok(()); // more results later: wait for them with the others
        }
    }
    job.finished = Some(job.sent.elapsed());
    Ok(())
}

fn print_table(jobs: &[Job]) {
    println!("{:<12} {:>10}  result", "connection", "ms");
    for job in jobs {
        let ms = job.finished.map_or(0.0, |d| d.as_secs_f64() * 1000.0);
        let result = match &job.error {
            Some(e) => format!("ERROR: {e}"),
            None => job
                .rows
                .iter()
                .map(|row| {
                    row.iter()
                        .zip(&job.columns)
                        .map(|(v, c)| format!("{c}={}", v.as_deref().unwrap_or("NULL")))
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect::<Vec<_>>()
                .join("; "),
        };
        println!("{:<12} {:>10.1}  {result}", job.name, ms);
    }
}

fn describe(what: &str, e: &pgdblink::Error) -> String {
    let mut s = format!("{what}: ERROR {}: {}", e.sqlstate, e.message);
    if let Some(d) = &e.detail {
        s.push_str(&format!("\nDETAIL: {d}"));
    }
    s
}

/// `name=connstr ... [-- sql]`: targets, then the SQL (default: a query that
/// shows which backend answered and how long it slept).
fn parse_args(args: &[String]) -> Result<(Vec<(String, String)>, String), String> {
    let split = args.iter().position(|a| a == "--").unwrap_or(args.len());
    let targets = args[..split]
        .iter()
        .map(|a| {
            a.split_once('=')
                .map(|(n, c)| (n.to_owned(), c.to_owned()))
                .ok_or_else(|| format!("expected name=connstr, got {a:?}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let sql = args
        .get(split + 1..)
        .map(|rest| rest.join(" "))
        .filter(|s| !s.is_empty());
    Ok((targets, sql.unwrap_or_else(|| DEFAULT_SQL.to_owned())))
}
