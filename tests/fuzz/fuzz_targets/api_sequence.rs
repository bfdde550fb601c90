//! Fuzz target: random sequences of pgdblink's Rust API calls, with names
//! from a small pool or arbitrary text, SQL from a pool of safe statements
//! or arbitrary text, against a live throwaway server (see common.rs for the
//! server and the bounds that keep a run from hanging).
//!
//! Besides "no panic, no crash, no hang", each call's outcome is checked for
//! what must always hold (well-formed errors, consistent results, the
//! registry listing what was connected).
#![no_main]

use pgdblink_testkit as server;

mod common;

use std::sync::Arc;
use std::time::Duration;

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use pgdblink::{DblinkResult, Error, Status};

use common::{check_error, env, pool_name, pool_sql, safe_connstr, safe_sql, short_ms};

/// At most this many calls per input.
const MAX_OPS: usize = 48;

#[derive(Arbitrary, Debug)]
enum Name {
    Unnamed,
    Pool(u8),
    Raw(String),
}

impl Name {
    fn get(&self) -> Option<&str> {
        match self {
            Name::Unnamed => None,
            Name::Pool(i) => Some(pool_name(*i)),
            Name::Raw(s) => Some(s),
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Sql {
    Pool(u8),
    Raw(String, u8),
}

impl Sql {
    fn get(&self) -> &str {
        match self {
            Sql::Pool(i) => pool_sql(*i),
            Sql::Raw(s, fallback) => safe_sql(s, *fallback),
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Connstr {
    Good,
    Dead,
    /// The good connstr with arbitrary options after it (later keywords win).
    GoodWith(String),
    /// An arbitrary connstr on its own.
    Raw(String),
}

impl Connstr {
    fn get(&self) -> String {
        let env = env();
        match self {
            Connstr::Good => env.good.clone(),
            Connstr::Dead => env.dead.clone(),
            Connstr::GoodWith(s) if safe_connstr(s) => format!("{} {s}", env.good),
            Connstr::Raw(s) if safe_connstr(s) => s.clone(),
            Connstr::GoodWith(_) | Connstr::Raw(_) => env.good.clone(),
        }
    }
}

/// dblink()/exec()'s first argument: a name, or a connection string for a
/// temporary connection (an unknown name is one too, so arbitrary names go
/// through the connstr filter).
#[derive(Arbitrary, Debug)]
enum Target {
    Name(Name),
    Connstr(Connstr),
}

impl Target {
    fn get(&self) -> Option<String> {
        match self {
            Target::Name(Name::Raw(s)) if !safe_connstr(s) => Some(pool_name(0).to_owned()),
            Target::Name(n) => n.get().map(str::to_owned),
            Target::Connstr(c) => Some(c.get()),
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Cursor {
    Pool(u8),
    Raw(String),
}

impl Cursor {
    fn get(&self) -> &str {
        match self {
            Cursor::Pool(i) => common::CURSOR_POOL[usize::from(*i) % common::CURSOR_POOL.len()],
            Cursor::Raw(s) => safe_sql(s, 255),
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Op {
    Connect(Name, Connstr),
    ConnectU(Name, Connstr),
    ConnectTimeout(Name, Connstr, u8),
    ConnectAll(Vec<(Name, Connstr)>, u8),
    Disconnect(Name),
    DisconnectAll,
    GetConnections,
    SendQuery(Name, Sql),
    SendQueryParams(Name, Sql, Vec<Option<String>>),
    SendQueryChunked(Name, Sql, u8),
    IsBusy(Name),
    GetResult(Name, bool, u8),
    Cancel(Name),
    ErrorMessage(Name),
    GetNotify(Name),
    Dblink(Target, Sql, bool),
    DblinkParams(Target, Sql, Vec<Option<String>>, bool),
    Exec(Target, Sql, bool),
    Open(Name, Cursor, Sql, bool),
    Fetch(Name, Cursor, i32, bool),
    Close(Name, Cursor, bool),
    WaitAny(Vec<Name>, u8),
    WaitAll(Vec<Name>, u8),
    Socket(Name),
    ConsumeInput(Name),
    Reset(Name),
}

/// Checks what must hold for any result (with `fail_on_error`, a remote
/// error is never a result).
fn check_result(r: &DblinkResult, fail_on_error: bool) {
    if fail_on_error {
        assert_ne!(r.status(), Status::Error, "fail_on_error is true: {r:?}");
    }
    let rows = r.rows();
    assert_eq!(rows.len(), r.ntuples());
    let columns = r.columns();
    assert_eq!(columns.len(), r.nfields());
    for row in &rows {
        assert_eq!(row.len(), r.nfields());
    }
    assert_eq!(r.get(r.ntuples(), 0), None);
    assert_eq!(r.get(0, r.nfields()), None);
    assert_eq!(r.is_null(r.ntuples(), 0), None);
    assert_eq!(r.fname(r.nfields()), None);
    for row in 0..r.ntuples().min(4) {
        for col in 0..r.nfields().min(4) {
            assert_eq!(r.is_null(row, col), Some(r.value_cstr(row, col).is_none()));
        }
    }
    match r.status() {
        Status::Error => {
            check_error(r.error().expect("an Error result holds its error"));
        }
        Status::Done => {
            assert_eq!(r.ntuples(), 0);
            assert!(r.error().is_none());
        }
        Status::Command => {
            assert_eq!(columns, vec!["status".to_owned()]);
            assert_eq!(r.ntuples(), 1);
        }
        Status::Tuples => assert!(r.error().is_none()),
        other => panic!("a status this fuzz target does not know: {other:?}"),
    }
    let _ = format!("{r:?}");
}

fn check<T>(outcome: &Result<T, Error>) {
    if let Err(e) = outcome {
        check_error(e);
        let _ = format!("{e} {e:?}");
    }
}

fn params(values: &[Option<String>]) -> Vec<Option<&str>> {
    values.iter().take(8).map(Option::as_deref).collect()
}

fn names(list: &[Name]) -> Vec<&str> {
    list.iter().take(6).filter_map(Name::get).collect()
}

fn listed(name: &str) -> bool {
    pgdblink::get_connections().is_some_and(|l| l.iter().any(|n| n == name))
}

fn run(op: &Op) {
    match op {
        Op::Connect(name, connstr) | Op::ConnectU(name, connstr) => {
            let connstr = connstr.get();
            let outcome = match op {
                Op::Connect(..) => pgdblink::connect(name.get(), &connstr),
                _ => pgdblink::connect_u(name.get(), &connstr),
            };
            check(&outcome);
            if let (Ok(()), Name::Pool(i)) = (&outcome, name) {
                assert!(listed(pool_name(*i)), "connected but not listed");
            }
        }
        Op::ConnectTimeout(name, connstr, ms) => {
            let timeout = Duration::from_millis(u64::from(*ms) + 20);
            check(&pgdblink::connect_timeout(
                name.get(),
                &connstr.get(),
                timeout,
            ));
        }
        Op::ConnectAll(targets, ms) => {
            let owned: Vec<(String, String)> = targets
                .iter()
                .take(4)
                .map(|(n, c)| (n.get().unwrap_or("a").to_owned(), c.get()))
                .collect();
            let pairs: Vec<(&str, &str)> = owned
                .iter()
                .map(|(n, c)| (n.as_str(), c.as_str()))
                .collect();
            let timeout = Duration::from_millis(u64::from(*ms) + 20);
            let outcomes = pgdblink::connect_all(&pairs, Some(timeout));
            assert_eq!(outcomes.len(), pairs.len());
            outcomes.iter().for_each(check);
        }
        Op::Disconnect(name) => {
            let outcome = pgdblink::disconnect(name.get());
            check(&outcome);
            if let (Ok(()), Name::Pool(i)) = (&outcome, name) {
                assert!(!listed(pool_name(*i)), "disconnected but still listed");
            }
        }
        Op::DisconnectAll => {
            pgdblink::disconnect_all();
            assert_eq!(pgdblink::get_connections(), None);
        }
        Op::GetConnections => {
            if let Some(list) = pgdblink::get_connections() {
                assert!(!list.is_empty());
                assert!(list.windows(2).all(|w| w[0] < w[1]), "not sorted: {list:?}");
            }
        }
        Op::SendQuery(name, sql) => check(&pgdblink::send_query(name.get(), sql.get())),
        Op::SendQueryParams(name, sql, values) => check(&pgdblink::send_query_params(
            name.get(),
            sql.get(),
            &params(values),
        )),
        Op::SendQueryChunked(name, sql, rows) => check(&pgdblink::send_query_chunked(
            name.get(),
            sql.get(),
            usize::from(*rows),
        )),
        Op::IsBusy(name) => check(&pgdblink::is_busy(name.get())),
        Op::GetResult(name, fail_on_error, ms) => {
            let timeout = Duration::from_millis(u64::from(*ms));
            let outcome = pgdblink::get_result_timeout(name.get(), *fail_on_error, timeout);
            check(&outcome);
            if let Ok(r) = &outcome {
                check_result(r, *fail_on_error);
            }
        }
        Op::Cancel(name) => {
            let outcome = pgdblink::cancel_query_timeout(name.get(), Duration::from_secs(1));
            check(&outcome);
            if let Ok(text) = &outcome {
                assert!(!text.is_empty());
            }
        }
        Op::ErrorMessage(name) => {
            let outcome = pgdblink::error_message(name.get());
            check(&outcome);
            if let Ok(text) = &outcome {
                assert!(!text.is_empty() && !text.ends_with('\n'), "{text:?}");
            }
        }
        Op::GetNotify(name) => {
            let outcome = pgdblink::get_notify(name.get());
            check(&outcome);
            if let Ok(notes) = &outcome {
                let r = DblinkResult::from_notifications(notes);
                check_result(&r, true);
            }
        }
        Op::Dblink(target, sql, fail_on_error) => {
            let target = target.get();
            let outcome = pgdblink::dblink(target.as_deref(), sql.get(), *fail_on_error);
            check(&outcome);
            if let Ok(r) = &outcome {
                check_result(r, *fail_on_error);
            }
        }
        Op::DblinkParams(target, sql, values, fail_on_error) => {
            let target = target.get();
            let outcome = pgdblink::dblink_params(
                target.as_deref(),
                sql.get(),
                &params(values),
                *fail_on_error,
            );
            check(&outcome);
            if let Ok(r) = &outcome {
                check_result(r, *fail_on_error);
            }
        }
        Op::Exec(target, sql, fail_on_error) => {
            let target = target.get();
            check(&pgdblink::exec(
                target.as_deref(),
                sql.get(),
                *fail_on_error,
            ));
        }
        Op::Open(name, cursor, sql, fail_on_error) => check(&pgdblink::open(
            name.get(),
            cursor.get(),
            sql.get(),
            *fail_on_error,
        )),
        Op::Fetch(name, cursor, howmany, fail_on_error) => {
            let outcome = pgdblink::fetch(name.get(), cursor.get(), *howmany, *fail_on_error);
            check(&outcome);
            if let Ok(r) = &outcome {
                check_result(r, *fail_on_error);
            }
        }
        Op::Close(name, cursor, fail_on_error) => {
            check(&pgdblink::close(name.get(), cursor.get(), *fail_on_error))
        }
        Op::WaitAny(list, ms) => {
            let list = names(list);
            let outcome = pgdblink::wait_any(&list, Some(short_ms(*ms)));
            check(&outcome);
            if let Ok(ready) = &outcome {
                assert!(ready.iter().all(|&i| i < list.len()), "{ready:?}");
                assert!(ready.windows(2).all(|w| w[0] < w[1]), "{ready:?}");
            }
        }
        Op::WaitAll(list, ms) => {
            check(&pgdblink::wait_all(&names(list), Some(short_ms(*ms))));
        }
        Op::Socket(name) => check(&pgdblink::socket(name.get())),
        Op::ConsumeInput(name) => check(&pgdblink::consume_input(name.get())),
        Op::Reset(name) => check(&pgdblink::reset(name.get())),
    }
}

fuzz_target!(
    init: {
        common::clear_libpq_env();
        env();
        // Notices must be well formed too.
        pgdblink::set_notice_handler(Some(Arc::new(|_name: Option<&str>, e: &Error| {
            assert_eq!(e.sqlstate.len(), 5, "bad notice {e:?}");
            assert!(!e.message.is_empty(), "empty notice {e:?}");
        })));
    },
    |ops: Vec<Op>| {
        for op in ops.iter().take(MAX_OPS) {
            run(op);
        }
        pgdblink::disconnect_all();
    }
);
