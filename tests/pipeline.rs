//! Pipeline mode against a real server: order of results, an error in the
//! middle and the aborted statements after it, sync points, NULL
//! parameters, leaving pipeline mode with results unread, exec_batch.

mod support;

use pgdblink::Status;
use support::shared;

fn connect(prefix: &str) -> String {
    support::connect_new(prefix, &shared().connstr())
}

/// Every result up to and including the next sync point, as (status, rows
/// or error sqlstate).
fn until_sync(name: &str) -> Vec<(Status, String)> {
    let mut seen = Vec::new();
    loop {
        let r = pgdblink::get_result(Some(name), false).expect("get_result");
        let what = match r.status() {
            Status::Error => r.error().map(|e| e.sqlstate.clone()).unwrap_or_default(),
            _ => format!("{:?}", r.rows()),
        };
        let st = r.status();
        seen.push((st, what));
        if st == Status::PipelineSync {
            return seen;
        }
        assert!(seen.len() < 100, "no sync point: {seen:?}");
    }
}

fn rows(v: &str) -> String {
    format!("[[Some({v:?})]]")
}

#[test]
fn results_come_in_order_with_sync_points_errors_and_aborted_statements() {
    let a = connect("pl");
    let done = (Status::Done, "[]".to_owned());
    let sync = (Status::PipelineSync, "[]".to_owned());
    pgdblink::pipeline_begin(Some(&a)).expect("begin");
    assert!(pgdblink::in_pipeline(Some(&a)).expect("in_pipeline"));
    for i in 1..=3 {
        let v = i.to_string();
        assert!(
            pgdblink::send_query_params(Some(&a), "select $1::int * 10", &[Some(&v)])
                .expect("send")
        );
    }
    assert!(
        pgdblink::send_query_params(Some(&a), "select $1::text is null", &[None]).expect("send")
    );
    pgdblink::pipeline_sync(Some(&a)).expect("sync");
    // The second segment: an error in the middle.
    assert!(
        pgdblink::send_query_params(Some(&a), "create temp table pl_t (x int)", &[]).expect("send")
    );
    assert!(pgdblink::send_query_params(Some(&a), "select 1/0", &[]).expect("send"));
    assert!(
        pgdblink::send_query_params(Some(&a), "insert into pl_t values (1)", &[]).expect("send")
    );
    assert!(pgdblink::send_query_params(Some(&a), "select 2", &[]).expect("send"));
    pgdblink::pipeline_sync(Some(&a)).expect("sync");
    // The third: after the error, a new implicit transaction.
    assert!(pgdblink::send_query_params(Some(&a), "select 'after'", &[]).expect("send"));
    pgdblink::pipeline_sync(Some(&a)).expect("sync");

    assert_eq!(
        until_sync(&a),
        vec![
            (Status::Tuples, rows("10")),
            done.clone(),
            (Status::Tuples, rows("20")),
            done.clone(),
            (Status::Tuples, rows("30")),
            done.clone(),
            (Status::Tuples, rows("t")),
            done.clone(),
            sync.clone(),
        ]
    );
    assert_eq!(
        until_sync(&a),
        vec![
            (Status::Command, rows("CREATE TABLE")),
            done.clone(),
            (Status::Error, "22012".to_owned()),
            done.clone(),
            (Status::PipelineAborted, "[]".to_owned()),
            done.clone(),
            (Status::PipelineAborted, "[]".to_owned()),
            done.clone(),
            sync.clone(),
        ]
    );
    assert_eq!(
        until_sync(&a),
        vec![(Status::Tuples, rows("after")), done.clone(), sync]
    );
    pgdblink::pipeline_end(Some(&a)).expect("end");
    assert!(!pgdblink::in_pipeline(Some(&a)).expect("in_pipeline"));
    // The failed segment was one transaction: the table is not there.
    let r = pgdblink::dblink(Some(&a), "select to_regclass('pg_temp.pl_t') is null", true)
        .expect("dblink");
    assert_eq!(r.get(0, 0), Some("t"));
    pgdblink::disconnect(Some(&a)).expect("disconnect");
}

#[test]
fn an_error_with_fail_on_error_is_err_then_done() {
    let a = connect("pl_fail");
    pgdblink::pipeline_begin(Some(&a)).expect("begin");
    assert!(pgdblink::send_query_params(Some(&a), "select 1/0", &[]).expect("send"));
    pgdblink::pipeline_sync(Some(&a)).expect("sync");
    let e = pgdblink::get_result(Some(&a), true).unwrap_err();
    assert_eq!(e.sqlstate, "22012");
    assert_eq!(
        pgdblink::get_result(Some(&a), true).expect("done").status(),
        Status::Done
    );
    assert_eq!(
        pgdblink::get_result(Some(&a), true).expect("sync").status(),
        Status::PipelineSync
    );
    pgdblink::pipeline_end(Some(&a)).expect("end");
    pgdblink::disconnect(Some(&a)).expect("disconnect");
}

#[test]
fn leaving_with_results_unread_is_a_clear_error() {
    let a = connect("pl_unread");
    pgdblink::pipeline_begin(Some(&a)).expect("begin");
    assert!(pgdblink::send_query_params(Some(&a), "select 1", &[]).expect("send"));
    pgdblink::pipeline_sync(Some(&a)).expect("sync");
    let e = pgdblink::pipeline_end(Some(&a)).unwrap_err();
    assert_eq!(e.sqlstate, "55000");
    // "... with uncollected results", or "... while busy" before they arrived.
    assert!(
        e.message
            .starts_with("could not leave pipeline mode: cannot exit pipeline mode "),
        "{e:#}"
    );
    assert!(pgdblink::in_pipeline(Some(&a)).expect("in_pipeline"));
    // dblink() is refused in pipeline mode.
    let e = pgdblink::dblink(Some(&a), "select 1", true).unwrap_err();
    assert_eq!(e.sqlstate, "55000");
    assert_eq!(until_sync(&a).len(), 3);
    pgdblink::pipeline_end(Some(&a)).expect("end");
    // sync outside pipeline mode; begin twice; begin while busy.
    let e = pgdblink::pipeline_sync(Some(&a)).unwrap_err();
    assert_eq!(
        e.message,
        format!("connection \"{a}\" is not in pipeline mode")
    );
    assert!(pgdblink::send_query(Some(&a), "select pg_sleep(0.2)").expect("send"));
    let e = pgdblink::pipeline_begin(Some(&a)).unwrap_err();
    assert_eq!(e.sqlstate, "55000");
    assert!(
        e.message.starts_with("could not enter pipeline mode"),
        "{e:#}"
    );
    while pgdblink::get_result(Some(&a), true)
        .expect("drain")
        .status()
        != Status::Done
    {}
    pgdblink::pipeline_end(Some(&a)).expect("end when not in pipeline mode is a no-op");
    assert_eq!(
        pgdblink::dblink(Some(&a), "select 7", true)
            .expect("dblink")
            .get(0, 0),
        Some("7")
    );
    pgdblink::disconnect(Some(&a)).expect("disconnect");
}

#[test]
fn exec_batch_runs_many_rows_in_one_transaction() {
    let a = connect("pl_batch");
    pgdblink::exec(
        Some(&a),
        "create temp table items (id int primary key, label text)",
        true,
    )
    .expect("create");
    let owned: Vec<String> = (1..=500).map(|i| i.to_string()).collect();
    let rows: Vec<Vec<Option<&str>>> = owned
        .iter()
        .map(|i| {
            vec![
                Some(i.as_str()),
                if i.ends_with('0') { None } else { Some("x") },
            ]
        })
        .collect();
    let slices: Vec<&[Option<&str>]> = rows.iter().map(Vec::as_slice).collect();
    let n = pgdblink::exec_batch(Some(&a), "insert into items values ($1, $2)", &slices)
        .expect("batch");
    assert_eq!(n, 500);
    let r = pgdblink::dblink(Some(&a), "select count(*), count(label) from items", true)
        .expect("count");
    assert_eq!(r.rows(), [[Some("500".to_owned()), Some("450".to_owned())]]);
    // A duplicate in the middle: nothing of the batch is kept.
    let again: Vec<&[Option<&str>]> = vec![
        &[Some("1000"), None],
        &[Some("1"), None],
        &[Some("1001"), None],
    ];
    let e =
        pgdblink::exec_batch(Some(&a), "insert into items values ($1, $2)", &again).unwrap_err();
    assert_eq!(e.sqlstate, "23505");
    assert_eq!(
        e.context.as_deref(),
        Some(format!("while executing batch on dblink connection named \"{a}\"").as_str())
    );
    let r = pgdblink::dblink(Some(&a), "select count(*) from items", true).expect("count");
    assert_eq!(r.get(0, 0), Some("500"));
    assert!(!pgdblink::in_pipeline(Some(&a)).expect("in_pipeline"));
    assert_eq!(
        pgdblink::exec_batch(Some(&a), "select 1", &[]).expect("empty batch"),
        0
    );
    pgdblink::disconnect(Some(&a)).expect("disconnect");
}

/// In pipeline mode the synchronous functions, which could read their
/// results only after a sync point, fail at once with 55000 (before this,
/// exec and the cursor functions waited for results that never came
/// without a sync) and the pipeline stays usable.
#[test]
fn synchronous_functions_are_refused_in_pipeline_mode() {
    let a = connect("pl_sync");
    pgdblink::pipeline_begin(Some(&a)).expect("begin");
    for (what, outcome) in [
        (
            "dblink()",
            pgdblink::dblink(Some(&a), "select 1", true).map(|_| ()),
        ),
        (
            "dblink_exec",
            pgdblink::exec(Some(&a), "set x.y = 1", true).map(|_| ()),
        ),
        (
            "dblink_open",
            pgdblink::open(Some(&a), "c", "select 1", true).map(|_| ()),
        ),
        (
            "dblink_fetch",
            pgdblink::fetch(Some(&a), "c", 1, true).map(|_| ()),
        ),
        (
            "dblink_close",
            pgdblink::close(Some(&a), "c", true).map(|_| ()),
        ),
    ] {
        let e = outcome.expect_err(what);
        assert_eq!(e.sqlstate, "55000", "{what}: {e:?}");
        assert_eq!(e.message, format!("{what} cannot be used in pipeline mode"));
    }
    pgdblink::send_query_params(Some(&a), "select $1::int", &[Some("7")]).expect("queue");
    pgdblink::pipeline_sync(Some(&a)).expect("sync");
    let seen = until_sync(&a);
    assert!(seen.iter().any(|(_, v)| v.contains('7')), "{seen:?}");
    pgdblink::pipeline_end(Some(&a)).expect("end");
    assert_eq!(
        pgdblink::dblink(Some(&a), "select 2", true)
            .expect("after")
            .get(0, 0),
        Some("2")
    );
    pgdblink::disconnect(Some(&a)).expect("disconnect");
}
