//! The differential scenarios: every `tests/scenarios/*.sql` file, a
//! sequence of dblink calls in dblink's own SQL syntax (the language:
//! CONTRIBUTING.md, "Adding a scenario"), runs through the real dblink and
//! through pgdblink twice, by its Rust API and by its C ABI
//! ([`support::scenario`]: three worlds, run one after the other). A
//! scenario passes when
//!
//! * pgdblink's (Rust) outcome equals dblink's at every step (except a step
//!   the scenario marks `-- pgdblink follows dblink N: why` when the oracle
//!   is older than N: there pgdblink must give the committed dblink 18
//!   outcome),
//! * the C ABI's outcome equals the Rust API's at every step (the C layer
//!   only converts and delegates),
//! * and dblink's transcript equals the committed expected output,
//!   `tests/scenarios/expected/<name>.out` (dblink 18), or
//!   `<name>.pg<major>.out` where an older dblink differs.
//!
//! `PGDBLINK_BLESS=1` writes the expected output of the oracle that runs;
//! `scripts/bless-scenarios.sh` runs both oracles. The transcripts of the
//! last run are kept in `target/tmp/scenarios/` (like pg_regress's
//! `results/`: `<name>.dblink<major>.out`, `<name>.pgdblink.out`,
//! `<name>.pgdblink-c.out`). Arguments: substrings of scenario names to run
//! (all when none); `--list` lists them. The scenarios run one at a time (the
//! connection names are plain, and pgdblink's registry is process-wide).
//!
//! A custom harness (`harness = false`): one scenario per file, no Rust to
//! write for a new one.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use support::scenario::{Call, Outcome, Shape, Side, World, is_outcome_line};
use support::shared;

// ---------------------------------------------------------------------------
// Scenario files

/// One step of a scenario file.
#[derive(Debug)]
enum Action {
    Call(String),
    Retry(String),
    State(Option<String>),
    WaitIdle(Option<String>),
    WaitActive(Option<String>),
    WaitNotBusy(String),
    Terminate(Option<String>),
    Sleep(u64),
    Unique(String),
    Table(String, String),
    Pid(Option<String>, String),
}

impl Action {
    /// Whether the step has an outcome in the transcript.
    fn recorded(&self) -> bool {
        matches!(
            self,
            Action::Call(_)
                | Action::Retry(_)
                | Action::State(_)
                | Action::WaitIdle(_)
                | Action::Terminate(_)
        )
    }
}

#[derive(Debug)]
struct Step {
    /// The scenario's lines for this step (comments before it, and itself).
    echo: String,
    action: Action,
    /// `-- pgdblink follows dblink N`: N.
    follows: Option<u32>,
    line: usize,
}

struct Script {
    name: String,
    steps: Vec<Step>,
    /// Comments after the last step.
    trailer: String,
}

fn meta(line: &str) -> Result<Action, String> {
    // A trailing `-- comment` is not part of the command.
    let line = line.split(" --").next().unwrap_or(line).trim_end();
    let body = &line[1..];
    let (cmd, rest) = body.split_once(char::is_whitespace).unwrap_or((body, ""));
    let rest = rest.trim();
    let words: Vec<&str> = rest.split_whitespace().collect();
    let conn = || words.first().map(|w| (*w).to_owned());
    let one = |what: &str| -> Result<String, String> {
        match words.as_slice() {
            [w] => Ok((*w).to_owned()),
            _ => Err(format!("\\{cmd} takes {what}")),
        }
    };
    Ok(match cmd {
        "state" => Action::State(conn()),
        "wait_idle" => Action::WaitIdle(conn()),
        "wait_active" => Action::WaitActive(conn()),
        "terminate" => Action::Terminate(conn()),
        "wait_not_busy" => Action::WaitNotBusy(one("a connection name")?),
        "sleep" => Action::Sleep(
            one("milliseconds")?
                .parse()
                .map_err(|_| "\\sleep takes milliseconds")?,
        ),
        "unique" => Action::Unique(one("a variable name")?),
        "table" => {
            let (var, cols) = rest
                .split_once(char::is_whitespace)
                .ok_or("\\table takes a variable name and (columns)")?;
            Action::Table(var.to_owned(), cols.trim().to_owned())
        }
        "pid" => match words.as_slice() {
            [var] => Action::Pid(None, (*var).to_owned()),
            [conn, var] => Action::Pid(Some((*conn).to_owned()), (*var).to_owned()),
            _ => return Err("\\pid takes [connection] variable".into()),
        },
        "retry" => Action::Retry(rest.trim_end_matches(';').to_owned()),
        other => return Err(format!("unknown meta command \\{other}")),
    })
}

fn parse_script(name: &str, text: &str) -> Result<Script, String> {
    let mut steps = Vec::new();
    let mut echo = String::new();
    let mut follows = None;
    let mut stmt: Option<(String, usize)> = None;
    for (i, line) in text.lines().enumerate() {
        let at = |e: String| format!("{name}.sql:{}: {e}", i + 1);
        if is_outcome_line(line) {
            return Err(at(format!(
                "a scenario line may not look like an outcome line: {line}"
            )));
        }
        echo.push_str(line);
        echo.push('\n');
        let trimmed = line.trim();
        if let Some((s, _)) = &mut stmt {
            s.push('\n');
            s.push_str(line);
        } else if trimmed.is_empty() {
            continue;
        } else if let Some(c) = trimmed.strip_prefix("--") {
            if let Some(rest) = c.trim().strip_prefix("pgdblink follows dblink ") {
                let n = rest
                    .split(|c: char| !c.is_ascii_digit())
                    .next()
                    .and_then(|n| n.parse().ok())
                    .ok_or_else(|| at("`pgdblink follows dblink N: why` needs N".into()))?;
                follows = Some(n);
            }
            continue;
        } else if trimmed.starts_with('\\') {
            let action = meta(trimmed).map_err(at)?;
            if let Action::Retry(s) = &action {
                let call =
                    Call::parse(&placeholders(s)).map_err(|e| at(format!("{e}\nin: {s}")))?;
                if call.shape == Shape::Scalar {
                    return Err(at(
                        "\\retry repeats a set-returning call until it gives a row".into(),
                    ));
                }
            }
            if follows.is_some() && !action.recorded() {
                return Err(at(
                    "a `pgdblink follows dblink N` comment must precede a step with an outcome"
                        .into(),
                ));
            }
            let follows = follows.take();
            steps.push(Step {
                echo: std::mem::take(&mut echo),
                action,
                follows,
                line: i + 1,
            });
            continue;
        } else {
            stmt = Some((line.to_owned(), i + 1));
        }
        if trimmed.ends_with(';') {
            if let Some((s, first)) = stmt.take() {
                let s = s.trim().trim_end_matches(';').to_owned();
                // Check the syntax now, with placeholders for the variables.
                Call::parse(&placeholders(&s)).map_err(|e| at(format!("{e}\nin: {s}")))?;
                steps.push(Step {
                    echo: std::mem::take(&mut echo),
                    action: Action::Call(s),
                    follows: follows.take(),
                    line: first,
                });
            }
        }
    }
    if let Some((s, line)) = stmt {
        return Err(format!("{name}.sql:{line}: a statement without `;`: {s}"));
    }
    Ok(Script {
        name: name.to_owned(),
        steps,
        trailer: echo,
    })
}

/// `sql` with every `:name` / `:'name'` replaced by `x` / `'x'`, for
/// checking the syntax before the values exist.
fn placeholders(sql: &str) -> String {
    support::scenario::interpolate_by(sql, |_| Some("x"))
}

// ---------------------------------------------------------------------------
// Running

/// Runs every step of `script` in `world`; the rendered outcome of each step
/// (`None` for the steps without one).
fn run_world(script: &Script, world: &mut World) -> Vec<Option<String>> {
    script
        .steps
        .iter()
        .map(|step| {
            let out: Option<Outcome> = match &step.action {
                Action::Call(s) => Some(world.run(s)),
                Action::Retry(s) => Some(world.retry(s)),
                Action::State(c) => Some(world.state(c.as_deref())),
                Action::WaitIdle(c) => Some(world.wait_idle(c.as_deref())),
                Action::Terminate(c) => Some(world.terminate(c.as_deref())),
                Action::WaitActive(c) => {
                    world.wait_active(c.as_deref());
                    None
                }
                Action::WaitNotBusy(c) => {
                    world.wait_not_busy(c);
                    None
                }
                Action::Sleep(ms) => {
                    std::thread::sleep(std::time::Duration::from_millis(*ms));
                    None
                }
                Action::Unique(v) => {
                    world.define_unique(v);
                    None
                }
                Action::Table(v, cols) => {
                    world.define_table(v, cols);
                    None
                }
                Action::Pid(c, v) => {
                    world.define_pid(c.as_deref(), v);
                    None
                }
            };
            out.map(|o| world.render(&o))
        })
        .collect()
}

fn transcript(script: &Script, outcomes: &[Option<String>]) -> String {
    let mut t = String::new();
    for (step, out) in script.steps.iter().zip(outcomes) {
        t.push_str(&step.echo);
        if let Some(o) = out {
            t.push_str(o);
        }
    }
    t.push_str(&script.trailer);
    t
}

/// The outcome blocks of a transcript, in order (the lines after each run
/// of scenario lines).
fn outcome_blocks(text: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut cur: Option<String> = None;
    for line in text.lines() {
        if is_outcome_line(line) {
            let b = cur.get_or_insert_with(String::new);
            b.push_str(line);
            b.push('\n');
        } else if let Some(b) = cur.take() {
            blocks.push(b);
        }
    }
    blocks.extend(cur);
    blocks
}

#[derive(Clone)]
struct Dirs {
    scenarios: PathBuf,
    expected: PathBuf,
    results: PathBuf,
}

/// The first line where `a` and `b` differ, with a little context.
fn first_difference(expected: &str, actual: &str) -> String {
    let (e, a): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
    let k = e
        .iter()
        .zip(&a)
        .position(|(x, y)| x != y)
        .unwrap_or(e.len().min(a.len()));
    let from = k.saturating_sub(3);
    let mut s = format!("first difference at line {}:\n", k + 1);
    for l in &e[from..k.min(e.len())] {
        s.push_str(&format!("    {l}\n"));
    }
    for l in e.iter().skip(k).take(3) {
        s.push_str(&format!("  - {l}\n"));
    }
    for l in a.iter().skip(k).take(3) {
        s.push_str(&format!("  + {l}\n"));
    }
    s
}

/// Runs one scenario; `Err` with the report of what failed.
fn run_scenario(
    script: &Script,
    dirs: &Dirs,
    major: u32,
    bless: bool,
) -> Result<Option<String>, String> {
    let server = shared();
    // Each scenario starts with no pgdblink connection (and leaves none).
    if let Some(names) = pgdblink::get_connections() {
        pgdblink::disconnect_all();
        return Err(format!(
            "connections left by an earlier scenario: {names:?}"
        ));
    }
    let _ = pgdblink::disconnect(None);
    struct CloseAll;
    impl Drop for CloseAll {
        fn drop(&mut self) {
            pgdblink::disconnect_all();
        }
    }
    let _close_all = CloseAll;
    let theirs = {
        let mut world = World::new(Side::Dblink, server);
        run_world(script, &mut world)
    };
    let mine = {
        let mut world = World::new(Side::Pgdblink, server);
        run_world(script, &mut world)
    };
    // The C world replaces the process-wide notice handler while it lives
    // (the scenarios run one at a time).
    let c_abi = {
        let mut world = World::new(Side::C, server);
        run_world(script, &mut world)
    };
    let oracle_text = transcript(script, &theirs);
    let mine_text = transcript(script, &mine);
    let c_text = transcript(script, &c_abi);
    let _ = fs::create_dir_all(&dirs.results);
    let _ = fs::write(
        dirs.results
            .join(format!("{}.dblink{major}.out", script.name)),
        &oracle_text,
    );
    let _ = fs::write(
        dirs.results.join(format!("{}.pgdblink.out", script.name)),
        &mine_text,
    );
    let _ = fs::write(
        dirs.results.join(format!("{}.pgdblink-c.out", script.name)),
        &c_text,
    );

    let newest = dirs.expected.join(format!("{}.out", script.name));
    let older = dirs.expected.join(format!("{}.pg{major}.out", script.name));
    let newest_text = fs::read_to_string(&newest).ok();
    let mut blessed = None;
    if bless {
        if major >= 18 {
            fs::write(&newest, &oracle_text).map_err(|e| format!("{}: {e}", newest.display()))?;
        } else if newest_text.as_deref() == Some(oracle_text.as_str()) {
            let _ = fs::remove_file(&older);
        } else if newest_text.is_none() {
            return Err(format!(
                "bless with dblink 18 first: {} does not exist",
                newest.display()
            ));
        } else {
            fs::write(&older, &oracle_text).map_err(|e| format!("{}: {e}", older.display()))?;
        }
        blessed = Some(format!("blessed (dblink {major})"));
    }
    let newest_text = fs::read_to_string(&newest).ok();

    // 1. pgdblink against dblink, step by step. A step that follows a newer
    // dblink is compared with the committed dblink 18 outcome of the same
    // step: the committed file must be of this very scenario text.
    let newest_blocks = newest_text.as_deref().map(outcome_blocks);
    let scenario_lines = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| !is_outcome_line(l))
            .map(str::to_owned)
            .collect()
    };
    let needs_newest = script
        .steps
        .iter()
        .any(|s| s.follows.is_some_and(|n| major < n));
    if needs_newest
        && newest_text
            .as_deref()
            .is_some_and(|t| scenario_lines(t) != scenario_lines(&oracle_text))
    {
        return Err(format!(
            "{} is not of this scenario's text (stale): bless with dblink 18 first",
            newest.display()
        ));
    }
    let mut report = String::new();
    let mut k = 0;
    for (step, (t, m)) in script.steps.iter().zip(theirs.iter().zip(&mine)) {
        let (Some(t), Some(m)) = (t, m) else {
            continue;
        };
        let follows_newer = step.follows.is_some_and(|n| major < n);
        k += 1;
        let committed = newest_blocks.as_ref().and_then(|b| b.get(k - 1));
        let (want, whose) = match (follows_newer, committed) {
            (false, _) => (t.as_str(), format!("dblink {major}")),
            (true, Some(w)) => (w.as_str(), "dblink 18 (committed)".to_owned()),
            (true, None) => {
                report.push_str(&format!(
                    "\nline {}: follows a newer dblink, but {} has no outcome for it \
                     (bless with dblink 18 first)\n",
                    step.line,
                    newest.display()
                ));
                continue;
            }
        };
        if want != m {
            report.push_str(&format!(
                "\nline {}:\n{}--- {whose}\n{want}--- pgdblink\n{m}",
                step.line, step.echo
            ));
        }
    }
    // 2. The C ABI against the Rust API, step by step.
    let mut c_report = String::new();
    for (step, (m, c)) in script.steps.iter().zip(mine.iter().zip(&c_abi)) {
        if let (Some(m), Some(c)) = (m, c) {
            if m != c {
                c_report.push_str(&format!(
                    "\nline {}:\n{}--- pgdblink (Rust)\n{m}--- pgdblink (C)\n{c}",
                    step.line, step.echo
                ));
            }
        }
    }
    match (report.is_empty(), c_report.is_empty()) {
        (true, true) => {}
        (false, true) => return Err(format!("pgdblink differs from dblink:{report}")),
        (true, false) => {
            return Err(format!(
                "pgdblink's C ABI differs from its Rust API:{c_report}"
            ));
        }
        (false, false) => {
            return Err(format!(
                "pgdblink differs from dblink:{report}\n\
                 pgdblink's C ABI differs from its Rust API:{c_report}"
            ));
        }
    }

    // 3. dblink against the committed expected output.
    let (path, want) = match fs::read_to_string(&older) {
        Ok(t) if major < 18 => (older, Some(t)),
        _ => (newest, newest_text),
    };
    match want {
        None => Err(format!(
            "no expected output {} (PGDBLINK_BLESS=1 writes it)",
            path.display()
        )),
        Some(w) if w != oracle_text => Err(format!(
            "dblink {major}'s transcript differs from {} ({}; PGDBLINK_BLESS=1 rewrites it):\n{}",
            path.display(),
            dirs.results
                .join(format!("{}.dblink{major}.out", script.name))
                .display(),
            first_difference(&w, &oracle_text)
        )),
        Some(_) => Ok(blessed),
    }
}

/// The parser and the variables, checked before any scenario runs (a broken
/// runner must not pass scenarios by misreading them).
fn self_check() -> Result<(), String> {
    use support::scenario::{Arg, Shape, Vars};
    let c = Call::parse("SELECT dblink_exec('a', 'it''s', false)")?;
    if c.args
        != [
            Arg::Text("a".into()),
            Arg::Text("it's".into()),
            Arg::Bool(false),
        ]
        || c.shape != Shape::Scalar
    {
        return Err(format!("scalar call parsed as {c:?}"));
    }
    let c = Call::parse(
        "select x, y from dblink('a', E'\\n', -3, NULL, repeat('n', 2)::text) as t(x int, y text)",
    )?;
    let want = [
        Arg::Text("a".into()),
        Arg::Text("\n".into()),
        Arg::Int(-3),
        Arg::Null,
        Arg::Expr("repeat('n', 2)::text".into()),
    ];
    let want_shape = Shape::Set {
        columns: vec!["x".into(), "y".into()],
        select: Some(vec!["x".into(), "y".into()]),
    };
    if c.args != want || c.shape != want_shape {
        return Err(format!("set call parsed as {c:?}"));
    }
    if Call::parse("SELECT * FROM dblink('a', 'q')").is_ok() {
        return Err("a set call without a column definition list parsed".into());
    }
    if Call::parse("SELECT dblink_exec((select dblink_exec('a', 'x')), 'q')").is_ok() {
        return Err("an argument expression calling dblink parsed".into());
    }
    let cols = ["x".to_owned(), "y".to_owned()];
    let one_wide = vec![vec![Some("1".to_owned())]];
    if support::scenario::project(one_wide, &cols, None).is_ok() {
        return Err("a result narrower than its column definition list was accepted".into());
    }
    let row = vec![vec![Some("1".to_owned()), None]];
    let want = vec![vec![None, Some("1".to_owned())]];
    let sel = ["y".to_owned(), "x".to_owned()];
    if support::scenario::project(row, &cols, Some(&sel)) != Ok(want) {
        return Err("projection by name is wrong".into());
    }
    let mut v = Vars::default();
    v.set("n", "12", true);
    v.set("s", "it's", false);
    let got = v.interpolate("f(:n, :'s', '1'::int, :undefined, ':n')");
    if got != "f(12, 'it''s', '1'::int, :undefined, '12')" {
        return Err(format!("interpolation gave {got}"));
    }
    let got = v.mask("pid 12, port 123, 912");
    if got != "pid :n, port 123, 912" {
        return Err(format!("masking gave {got}"));
    }
    Ok(())
}

/// How long one scenario may take in all three worlds (the longest take a
/// few seconds) before the run calls it hung.
const SCENARIO_LIMIT: Duration = Duration::from_secs(300);
const HUNG: &str = "hung:";

/// Runs a scenario in a thread of its own (a panic is its failure), for at
/// most [`SCENARIO_LIMIT`].
fn run_bounded(
    script: Script,
    dirs: &Dirs,
    major: u32,
    bless: bool,
) -> Result<Option<String>, String> {
    let (tx, rx) = mpsc::channel();
    let dirs = dirs.clone();
    let name = script.name.clone();
    std::thread::Builder::new()
        .name(name.clone())
        .spawn(move || {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                run_scenario(&script, &dirs, major, bless)
            }))
            .unwrap_or_else(|p| {
                let msg = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default();
                Err(format!("panicked: {msg}"))
            });
            let _ = tx.send(r);
        })
        .map_err(|e| format!("cannot start the scenario's thread: {e}"))?;
    rx.recv_timeout(SCENARIO_LIMIT).unwrap_or_else(|_| {
        Err(format!(
            "{HUNG} no outcome in {} s (a call that never returned; the transcripts of the \
             worlds that finished are in the results directory)",
            SCENARIO_LIMIT.as_secs()
        ))
    })
}

fn main() -> ExitCode {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dirs = Dirs {
        scenarios: root.join("tests/scenarios"),
        expected: root.join("tests/scenarios/expected"),
        results: Path::new(env!("CARGO_TARGET_TMPDIR")).join("scenarios"),
    };
    // libtest's command line, as far as it means something here: filters
    // (substrings, or whole names with --exact), --skip, --list, --ignored;
    // its other options are accepted and ignored, with their values.
    let mut filters: Vec<String> = Vec::new();
    let mut skips: Vec<String> = Vec::new();
    let (mut list, mut exact) = (false, false);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--list" => list = true,
            "--exact" => exact = true,
            // No scenario is ignored.
            "--ignored" => return ExitCode::SUCCESS,
            "--skip" => skips.extend(args.next()),
            "--test-threads" | "--color" | "--format" | "--logfile" | "-Z" | "--shuffle-seed"
            | "--report-time" => {
                args.next();
            }
            s if s.starts_with('-') => {}
            _ => filters.push(a),
        }
    }

    let mut names: Vec<String> = match fs::read_dir(&dirs.scenarios) {
        Ok(rd) => rd
            .filter_map(Result::ok)
            .filter_map(|e| {
                let n = e.file_name().to_string_lossy().into_owned();
                n.strip_suffix(".sql").map(str::to_owned)
            })
            .collect(),
        Err(e) => {
            eprintln!("{}: {e}", dirs.scenarios.display());
            return ExitCode::FAILURE;
        }
    };
    names.sort();
    let matches = |n: &str, f: &str| if exact { n == f } else { n.contains(f) };
    let selected: Vec<&String> = names
        .iter()
        .filter(|n| filters.is_empty() || filters.iter().any(|f| matches(n, f)))
        .filter(|n| !skips.iter().any(|f| matches(n, f)))
        .collect();
    if list {
        for n in &selected {
            println!("{n}: test");
        }
        return ExitCode::SUCCESS;
    }

    let mut failures = Vec::new();
    if let Err(e) = self_check() {
        failures.push(("(runner self-check)".to_owned(), e));
    }
    // Every expected output belongs to a scenario.
    if filters.is_empty() && skips.is_empty() {
        if let Ok(rd) = fs::read_dir(&dirs.expected) {
            for e in rd.filter_map(Result::ok) {
                let f = e.file_name().to_string_lossy().into_owned();
                let stem = f.split('.').next().unwrap_or_default();
                if !names.iter().any(|n| n == stem) {
                    failures.push((
                        f.clone(),
                        "an expected output without a scenario".to_owned(),
                    ));
                }
            }
        }
    }

    let bless = std::env::var_os("PGDBLINK_BLESS").is_some_and(|v| !v.is_empty() && v != "0");
    let major = {
        let mut w = World::new(Side::Dblink, shared());
        u32::try_from(w.server_version() / 10000).unwrap_or(0)
    };
    println!(
        "\nrunning {} scenarios against dblink {major}{}",
        selected.len(),
        if bless { " (blessing)" } else { "" }
    );
    let start = Instant::now();
    for name in &selected {
        let path = dirs.scenarios.join(format!("{name}.sql"));
        let result = fs::read_to_string(&path)
            .map_err(|e| format!("{}: {e}", path.display()))
            .and_then(|text| parse_script(name, &text))
            .and_then(|script| run_bounded(script, &dirs, major, bless));
        if let Err(e) = &result {
            if e.starts_with(HUNG) {
                // Its thread still holds connections: report and stop here.
                println!("scenario {name} ... FAILED\n\n---- {name} ----\n{e}");
                for (n, e) in &failures {
                    println!("\n---- {n} ----\n{e}");
                }
                println!("\nscenario result: FAILED (a scenario hung)\n");
                std::process::exit(1);
            }
        }
        match result {
            Ok(note) => println!(
                "scenario {name} ... ok{}",
                note.map(|n| format!(" ({n})")).unwrap_or_default()
            ),
            Err(e) => {
                println!("scenario {name} ... FAILED");
                failures.push(((*name).clone(), e));
            }
        }
    }
    for (name, e) in &failures {
        println!("\n---- {name} ----\n{e}");
    }
    println!(
        "\nscenario result: {}. {} passed; {} failed; finished in {:.2}s\n",
        if failures.is_empty() { "ok" } else { "FAILED" },
        selected.len()
            - failures
                .iter()
                .filter(|(n, _)| selected.contains(&n))
                .count(),
        failures.len(),
        start.elapsed().as_secs_f64()
    );
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
