//! COPY streaming against a real server: byte-exact round trips of awkward
//! data, errors on each side at start, middle and end, cancel during a
//! COPY, a server restart during a COPY, and copy_between.

mod support;

use std::io::{Read, Write};
use std::time::Duration;

use support::server::PrivateOptions;
use support::{Server, shared, unique_name};

fn connect_to(server: &Server, prefix: &str) -> String {
    let name = unique_name(prefix);
    pgdblink::connect(Some(&name), &server.connstr()).expect("connect");
    name
}

fn connect(prefix: &str) -> String {
    connect_to(shared(), prefix)
}

fn exec(name: &str, sql: &str) -> String {
    pgdblink::exec(Some(name), sql, true).unwrap_or_else(|e| panic!("{sql}: {e:#}"))
}

fn value(name: &str, sql: &str) -> Option<String> {
    let r = pgdblink::dblink(Some(name), sql, true).unwrap_or_else(|e| panic!("{sql}: {e:#}"));
    r.get(0, 0).map(str::to_owned)
}

/// Reads a whole COPY TO.
fn copy_out_all(name: &str, sql: &str) -> (Vec<u8>, String) {
    pgdblink::copy_out_start(Some(name), sql).unwrap_or_else(|e| panic!("{sql}: {e:#}"));
    let mut data = Vec::new();
    while let Some(chunk) = pgdblink::copy_out_read(Some(name)).expect("copy_out_read") {
        assert!(!chunk.is_empty());
        data.extend(chunk);
    }
    (
        data,
        pgdblink::copy_out_end(Some(name)).expect("copy_out_end"),
    )
}

/// The awkward rows: NULLs, backslashes, tabs, newlines, quotes, unicode,
/// the empty string, and a 10 MiB value.
fn awkward_table(name: &str, table: &str) {
    exec(
        name,
        &format!("create table {table} (id int primary key, t text, b bytea)"),
    );
    exec(
        name,
        &format!(
            "insert into {table} values
             (1, null, null),
             (2, '', '\\x'),
             (3, E'back\\\\slash \\\\N tab\\there\\nnew line\\r\\ncrlf', E'\\\\x00ff0a5c'),
             (4, 'quote '' \"double\" ,comma', '\\x0d0a'),
             (5, 'unicode: ünïcødé 日本語 🦀 \u{2028}', null),
             (6, repeat('0123456789abcdef', 655360), decode(repeat('00ff', 1000), 'hex'))"
        ),
    );
}

#[test]
fn text_and_binary_round_trips_are_byte_exact() {
    let a = connect("cp_rt");
    let src = unique_name("cp_src");
    awkward_table(&a, &src);
    for format in ["text", "csv", "binary"] {
        let dst = unique_name("cp_dst");
        exec(&a, &format!("create table {dst} (like {src})"));
        let (data, status) = copy_out_all(&a, &format!("copy {src} to stdout (format {format})"));
        assert_eq!(status, "COPY 6", "{format}");
        assert!(
            data.len() > 10 * 1024 * 1024,
            "{format}: the 10 MiB value came"
        );
        // Feed it back in pieces of awkward sizes (splitting rows, and the
        // big value).
        pgdblink::copy_in_start(
            Some(&a),
            &format!("copy {dst} from stdin (format {format})"),
        )
        .expect("copy_in_start");
        let mut rest = &data[..];
        for size in [1usize, 7, 4096, 65_537, 3 * 1024 * 1024].iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let n = (*size).min(rest.len());
            pgdblink::copy_in_write(Some(&a), &rest[..n]).expect("copy_in_write");
            rest = &rest[n..];
        }
        assert_eq!(
            pgdblink::copy_in_end(Some(&a), None).expect("copy_in_end"),
            "COPY 6"
        );
        let same = value(
            &a,
            &format!("select count(*) from (select * from {src} except select * from {dst}) d"),
        );
        assert_eq!(same.as_deref(), Some("0"), "{format}: same rows");
        // Byte-exact: the copy of the copy is the same bytes.
        let (again, _) = copy_out_all(&a, &format!("copy {dst} to stdout (format {format})"));
        assert_eq!(again, data, "{format}: byte-exact");
        // NULL stays NULL, '' stays ''.
        let nulls = value(&a, &format!("select count(*) from {dst} where t is null"));
        assert_eq!(nulls.as_deref(), Some("1"));
    }
    pgdblink::disconnect(Some(&a)).expect("disconnect");
}

#[test]
fn read_and_write_wrappers() {
    let a = connect("cp_rw");
    let t = unique_name("cp_rw_t");
    exec(&a, &format!("create table {t} (x text)"));
    let mut w =
        pgdblink::copy_in(Some(&a), &format!("copy {t} from stdin (format csv)")).expect("copy_in");
    for i in 0..1000 {
        writeln!(w, "\"line {i}, with \"\"quotes\"\"\"").expect("write");
    }
    assert_eq!(w.finish().expect("finish"), "COPY 1000");
    let mut out = pgdblink::copy_out(Some(&a), &format!("copy {t} to stdout")).expect("copy_out");
    let mut text = String::new();
    out.read_to_string(&mut text).expect("read");
    assert_eq!(text.lines().count(), 1000);
    assert!(text.starts_with("line 0, with \"quotes\"\n"));
    assert_eq!(out.finish().expect("finish"), "COPY 1000");
    // A dropped writer aborts: nothing copied.
    let mut w = pgdblink::copy_in(Some(&a), &format!("copy {t} from stdin")).expect("copy_in");
    w.write_all(b"dropped\n").expect("write");
    drop(w);
    assert_eq!(
        value(&a, &format!("select count(*) from {t}")).as_deref(),
        Some("1000")
    );
    pgdblink::disconnect(Some(&a)).expect("disconnect");
}

#[test]
fn other_calls_are_refused_during_a_copy_and_work_after() {
    let a = connect("cp_busy");
    pgdblink::copy_out_start(
        Some(&a),
        "copy (select g from generate_series(1, 10) g) to stdout",
    )
    .expect("start");
    let e = pgdblink::dblink(Some(&a), "select 1", true).unwrap_err();
    assert_eq!(e.sqlstate, "55000");
    assert_eq!(
        e.message,
        format!("a COPY TO STDOUT is in progress on connection \"{a}\"")
    );
    assert!(
        pgdblink::send_query(Some(&a), "select 1")
            .unwrap_err()
            .sqlstate
            == "55000"
    );
    assert!(pgdblink::get_result(Some(&a), true).unwrap_err().sqlstate == "55000");
    let e = pgdblink::copy_in_write(Some(&a), b"x").unwrap_err();
    assert_eq!(
        e.message,
        format!("no COPY FROM STDIN is in progress on connection \"{a}\"")
    );
    let e = pgdblink::copy_out_start(Some(&a), "copy (select 1) to stdout").unwrap_err();
    assert_eq!(e.sqlstate, "55000");
    // End early: the rest is discarded.
    assert_eq!(pgdblink::copy_out_end(Some(&a)).expect("end"), "COPY 10");
    assert_eq!(value(&a, "select 42").as_deref(), Some("42"));
    let e = pgdblink::copy_out_end(Some(&a)).unwrap_err();
    assert_eq!(
        e.message,
        format!("no COPY TO STDOUT is in progress on connection \"{a}\"")
    );

    pgdblink::copy_in_start(Some(&a), "copy pg_temp.nosuch from stdin").unwrap_err();
    exec(&a, "create temp table busy_in (x int)");
    pgdblink::copy_in_start(Some(&a), "copy busy_in from stdin").expect("start");
    let e = pgdblink::exec(Some(&a), "select 1", true).unwrap_err();
    assert_eq!(
        e.message,
        format!("a COPY FROM STDIN is in progress on connection \"{a}\"")
    );
    assert_eq!(
        pgdblink::copy_in_end(Some(&a), Some("never mind")).expect("abort"),
        "ABORTED"
    );
    assert_eq!(
        value(&a, "select count(*) from busy_in").as_deref(),
        Some("0")
    );
    // Through dblink(), a COPY keeps its old answer.
    let e = pgdblink::dblink(Some(&a), "copy busy_in to stdout", true).unwrap_err();
    assert_eq!(
        (e.sqlstate.as_str(), e.message.as_str()),
        ("0A000", "COPY is not supported here")
    );
    // Disconnect works in COPY state.
    pgdblink::copy_out_start(Some(&a), "copy (select 1) to stdout").expect("start");
    pgdblink::disconnect(Some(&a)).expect("disconnect");
    // A new connection of the same name is not in COPY state.
    pgdblink::connect(Some(&a), &shared().connstr()).expect("connect");
    assert_eq!(value(&a, "select 1").as_deref(), Some("1"));
    pgdblink::disconnect(Some(&a)).expect("disconnect");
}

#[test]
fn errors_at_start_middle_and_end() {
    let a = connect("cp_err");
    // Start: a failing statement, and statements that are not the right COPY.
    let e = pgdblink::copy_out_start(Some(&a), "copy no_such_table to stdout").unwrap_err();
    assert_eq!(e.sqlstate, "42P01");
    assert_eq!(e.message, "relation \"no_such_table\" does not exist");
    assert_eq!(
        e.context.as_deref(),
        Some(format!("while starting COPY on dblink connection named \"{a}\"").as_str())
    );
    let e = pgdblink::copy_out_start(Some(&a), "select 1").unwrap_err();
    assert_eq!(e.sqlstate, "22023");
    exec(&a, "create temp table err_t (x int)");
    let e = pgdblink::copy_out_start(Some(&a), "copy err_t from stdin").unwrap_err();
    assert_eq!(e.sqlstate, "22023");
    let e = pgdblink::copy_in_start(Some(&a), "copy err_t to stdout").unwrap_err();
    assert_eq!(e.sqlstate, "22023");
    let e = pgdblink::copy_out_start(Some(&a), "select 1; select 2").unwrap_err();
    assert_eq!(e.sqlstate, "42601"); // one statement only
    assert_eq!(value(&a, "select 'usable'").as_deref(), Some("usable"));

    // Middle of a COPY TO: the rows before the error, then the error.
    pgdblink::copy_out_start(
        Some(&a),
        "copy (select 1 / (5 - g) from generate_series(1, 10) g) to stdout",
    )
    .expect("start");
    let mut got = Vec::new();
    let err = loop {
        match pgdblink::copy_out_read(Some(&a)) {
            Ok(Some(c)) => got.extend(c),
            Ok(None) => panic!("expected an error"),
            Err(e) => break e,
        }
    };
    assert_eq!(err.sqlstate, "22012");
    assert_eq!(String::from_utf8_lossy(&got), "0\n0\n0\n1\n");
    assert_eq!(value(&a, "select 'usable'").as_deref(), Some("usable"));

    // Middle of a COPY FROM: a malformed row; reported at the end, nothing kept.
    pgdblink::copy_in_start(Some(&a), "copy err_t from stdin").expect("start");
    pgdblink::copy_in_write(Some(&a), b"1\n2\nthree\n4\n").expect("write");
    let e = pgdblink::copy_in_end(Some(&a), None).unwrap_err();
    assert_eq!(e.sqlstate, "22P02");
    assert!(
        e.context.as_deref().unwrap_or("").contains("line 3"),
        "{e:#}"
    );
    assert_eq!(
        value(&a, "select count(*) from err_t").as_deref(),
        Some("0")
    );

    // End: a constraint checked at commit (deferred).
    exec(
        &a,
        "create temp table err_u (x int unique deferrable initially deferred)",
    );
    exec(&a, "begin");
    pgdblink::copy_in_start(Some(&a), "copy err_u from stdin").expect("start");
    pgdblink::copy_in_write(Some(&a), b"1\n1\n").expect("write");
    assert_eq!(
        pgdblink::copy_in_end(Some(&a), None).expect("end"),
        "COPY 2"
    );
    let e = pgdblink::exec(Some(&a), "commit", true).unwrap_err();
    assert_eq!(e.sqlstate, "23505");
    assert_eq!(
        value(&a, "select count(*) from err_u").as_deref(),
        Some("0")
    );
    pgdblink::disconnect(Some(&a)).expect("disconnect");
}

#[test]
fn cancel_during_copy_out_and_copy_in() {
    let a = connect("cp_cancel");
    pgdblink::copy_out_start(
        Some(&a),
        "copy (select g, pg_sleep(0.01) from generate_series(1, 100000) g) to stdout",
    )
    .expect("start");
    assert!(
        pgdblink::copy_out_read(Some(&a))
            .expect("first rows")
            .is_some()
    );
    assert_eq!(pgdblink::cancel_query(Some(&a)).expect("cancel"), "OK");
    let err = loop {
        match pgdblink::copy_out_read(Some(&a)) {
            Ok(Some(_)) => {}
            Ok(None) => panic!("cancelled COPY ended normally"),
            Err(e) => break e,
        }
    };
    assert_eq!(err.sqlstate, "57014");
    assert_eq!(value(&a, "select 'usable'").as_deref(), Some("usable"));

    exec(&a, "create temp table cancel_in (x int)");
    pgdblink::copy_in_start(Some(&a), "copy cancel_in from stdin").expect("start");
    pgdblink::copy_in_write(Some(&a), b"1\n").expect("write");
    assert_eq!(pgdblink::cancel_query(Some(&a)).expect("cancel"), "OK");
    std::thread::sleep(Duration::from_millis(300));
    let e = pgdblink::copy_in_end(Some(&a), None).unwrap_err();
    assert_eq!(e.sqlstate, "57014");
    assert_eq!(
        value(&a, "select count(*) from cancel_in").as_deref(),
        Some("0")
    );
    pgdblink::disconnect(Some(&a)).expect("disconnect");
}

#[test]
fn copy_between_pipes_and_reports_the_failed_side() {
    let a = connect("cp_bs");
    let b = connect("cp_bt");
    let src = unique_name("cpb_src");
    awkward_table(&a, &src);
    for format in ["text", "binary"] {
        let dst = unique_name("cpb_dst");
        exec(&b, &format!("create table {dst} (like {src})"));
        let n = pgdblink::copy_between(
            Some(&a),
            &format!("copy {src} to stdout (format {format})"),
            Some(&b),
            &format!("copy {dst} from stdin (format {format})"),
        )
        .unwrap_or_else(|e| panic!("{format}: {e:#}"));
        assert_eq!(n, 6);
        let (x, _) = copy_out_all(&a, &format!("copy {src} to stdout (format {format})"));
        let (y, _) = copy_out_all(&b, &format!("copy {dst} to stdout (format {format})"));
        assert_eq!(x, y, "{format}: byte-exact");
    }
    let dst = unique_name("cpb_dst");
    exec(&b, &format!("create table {dst} (x int)"));
    // Source fails at start: the target's COPY is aborted.
    let e = pgdblink::copy_between(
        Some(&a),
        "copy nosuch to stdout",
        Some(&b),
        &format!("copy {dst} from stdin"),
    )
    .unwrap_err();
    assert_eq!(e.sqlstate, "42P01");
    assert!(
        e.context
            .as_deref()
            .unwrap_or("")
            .ends_with("copy_between: the source failed"),
        "{e:#}"
    );
    // Source fails in the middle.
    let e = pgdblink::copy_between(
        Some(&a),
        "copy (select 1 / (500 - g) from generate_series(1, 1000) g) to stdout",
        Some(&b),
        &format!("copy {dst} from stdin"),
    )
    .unwrap_err();
    assert_eq!(e.sqlstate, "22012");
    assert!(
        e.context
            .as_deref()
            .unwrap_or("")
            .ends_with("copy_between: the source failed")
    );
    assert_eq!(
        value(&b, &format!("select count(*) from {dst}")).as_deref(),
        Some("0")
    );
    // Target fails at start.
    let e = pgdblink::copy_between(
        Some(&a),
        "copy (select 1) to stdout",
        Some(&b),
        "copy nosuch from stdin",
    )
    .unwrap_err();
    assert_eq!(e.sqlstate, "42P01");
    assert!(
        e.context
            .as_deref()
            .unwrap_or("")
            .ends_with("copy_between: the target failed")
    );
    // Target fails at the end (bad data for its column type).
    let e = pgdblink::copy_between(
        Some(&a),
        "copy (select 'x' || g from generate_series(1, 100000) g) to stdout",
        Some(&b),
        &format!("copy {dst} from stdin"),
    )
    .unwrap_err();
    assert_eq!(e.sqlstate, "22P02");
    assert!(
        e.context
            .as_deref()
            .unwrap_or("")
            .ends_with("copy_between: the target failed")
    );
    assert_eq!(
        value(&b, &format!("select count(*) from {dst}")).as_deref(),
        Some("0")
    );
    // Both usable.
    assert_eq!(value(&a, "select 1").as_deref(), Some("1"));
    assert_eq!(value(&b, "select 1").as_deref(), Some("1"));
    pgdblink::disconnect(Some(&a)).expect("disconnect");
    pgdblink::disconnect(Some(&b)).expect("disconnect");
}

#[test]
fn a_server_restart_during_a_copy_is_a_clear_error_and_commits_nothing() {
    let server = Server::start_private(&PrivateOptions::default()).expect("private server");
    let a = connect_to(&server, "cp_restart");
    exec(&a, "create table restart_t (x text)");
    // The test cluster may not flush commits at once: make the table survive
    // the crash restart.
    exec(&a, "checkpoint");
    pgdblink::copy_in_start(Some(&a), "copy restart_t from stdin").expect("start");
    pgdblink::copy_in_write(Some(&a), b"before the restart\n").expect("write");
    server.restart_immediate().expect("restart");
    let mut row = vec![b'x'; 64 * 1024];
    row.push(b'\n');
    let mut failed = None;
    for _ in 0..1000 {
        if let Err(e) = pgdblink::copy_in_write(Some(&a), &row) {
            failed = Some(e);
            break;
        }
    }
    let e = match failed {
        Some(e) => e,
        None => pgdblink::copy_in_end(Some(&a), None).unwrap_err(),
    };
    assert_eq!(e.sqlstate, "08006", "{e:#}");
    assert!(!e.message.is_empty());
    // Not in COPY state any more; a reset reconnects.
    pgdblink::reset(Some(&a)).expect("reset");
    assert_eq!(
        value(&a, "select count(*) from restart_t").as_deref(),
        Some("0")
    );

    // COPY TO interrupted by a restart.
    let b = connect_to(&server, "cp_restart_out");
    pgdblink::copy_out_start(
        Some(&b),
        "copy (select g, pg_sleep(0.001) from generate_series(1, 100000) g) to stdout",
    )
    .expect("start");
    assert!(pgdblink::copy_out_read(Some(&b)).expect("rows").is_some());
    server.restart_immediate().expect("restart");
    let err = loop {
        match pgdblink::copy_out_read(Some(&b)) {
            Ok(Some(_)) => {}
            Ok(None) => panic!("ended normally"),
            Err(e) => break e,
        }
    };
    assert!(
        ["08006", "57P01"].contains(&err.sqlstate.as_str()),
        "{err:#}"
    );
    pgdblink::disconnect(Some(&a)).expect("disconnect");
    pgdblink::disconnect(Some(&b)).expect("disconnect");
}
