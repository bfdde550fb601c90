//! The handle API (`pgdblink::Connection`) and borrowed rows (`Row`), through
//! a real server: every method, the handle's view of its name (08003 once
//! the name was disconnected or reconnected elsewhere), the same connection
//! seen by name and from C, and each error of the typed getters.

mod support;

use std::ffi::CString;
use std::time::Duration;

use pgdblink::{Connection, Status};
use support::{shared, unique_name};

fn open(prefix: &str) -> Connection {
    let name = unique_name(prefix);
    Connection::open(&name, &shared().connstr()).expect("open a handle")
}

/// Reads results until Done, returning the non-Done ones.
fn drain(conn: &Connection) -> Vec<pgdblink::DblinkResult> {
    let mut out = Vec::new();
    for _ in 0..100 {
        let r = conn.get_result(true).expect("get_result");
        if r.status() == Status::Done {
            return out;
        }
        out.push(r);
    }
    panic!("no Done after 100 results");
}

#[test]
fn every_method_of_the_handle() {
    let conn = open("h_all");
    let name = conn.name().to_owned();
    assert!(conn.is_open());
    assert!(format!("{conn:?}").contains(&name));

    // send / is_busy / get_result
    conn.send_query("select 1 as one").expect("send");
    let rs = drain(&conn);
    assert_eq!(rs.len(), 1);
    assert_eq!(
        rs[0].iter().next().map(|r| r.parse::<i32, _>("one")),
        Some(Ok(Some(1)))
    );
    assert!(!conn.is_busy().expect("is_busy"));

    // a refused send is an Err (not a silent false)
    conn.send_query("select pg_sleep(0.3)").expect("send sleep");
    let err = conn.send_query("select 2").expect_err("refused while busy");
    assert_eq!(err.sqlstate, "08006");
    assert_eq!(
        err.message,
        "could not send query: another command is already in progress"
    );
    assert!(
        conn.error_message()
            .expect("error_message")
            .contains("another command")
    );
    let late = conn
        .get_result_timeout(true, Duration::from_millis(20))
        .expect_err("timed out");
    assert_eq!(late.sqlstate, "57014");
    let _ = drain(&conn);

    // params, chunked
    conn.send_query_params("select $1::int * 2, $2::text is null", &[Some("21"), None])
        .expect("send params");
    let rs = drain(&conn);
    let row = rs[0].row(0).expect("a row");
    assert_eq!(row.parse::<i64, _>(0), Ok(Some(42)));
    assert_eq!(row.get(1), Ok(Some("t")));
    conn.send_query_chunked("select generate_series(1, 5)", 2)
        .expect("chunked");
    let chunks = drain(&conn);
    let total: usize = chunks.iter().map(|c| c.ntuples()).sum();
    assert_eq!(total, 5);

    // cancel, socket, consume_input, notify
    assert_eq!(conn.cancel_query().expect("cancel"), "OK");
    assert_eq!(
        conn.cancel_query_timeout(Duration::from_secs(5))
            .expect("cancel"),
        "OK"
    );
    assert!(conn.socket().expect("socket") >= 0);
    assert!(conn.consume_input().expect("consume"));
    assert_eq!(conn.exec("listen h_chan", true).expect("listen"), "LISTEN");
    assert_eq!(
        conn.exec("notify h_chan, 'hi'", true).expect("notify"),
        "NOTIFY"
    );
    let notes = conn.get_notify().expect("get_notify");
    assert_eq!(notes.len(), 1);
    assert_eq!(
        (notes[0].notify_name.as_str(), notes[0].extra.as_str()),
        ("h_chan", "hi")
    );

    // dblink(), dblink_params, exec, cursors
    let res = conn
        .query("select 'a' as x union all select 'b'", true)
        .expect("query");
    let xs: Vec<&str> = res
        .iter()
        .filter_map(|r| r.get("x").ok().flatten())
        .collect();
    assert_eq!(xs, ["a", "b"]);
    let res = conn
        .query_params("select $1::text || '!'", &[Some("hey")], true)
        .expect("qp");
    assert_eq!(res.get(0, 0), Some("hey!"));
    assert_eq!(
        conn.exec("select 1", false).expect_err("2F003").sqlstate,
        "2F003"
    );
    assert_eq!(
        conn.open_cursor("hc", "select generate_series(1, 3)", true),
        Ok("OK".into())
    );
    assert_eq!(conn.fetch("hc", 2, true).expect("fetch").ntuples(), 2);
    assert_eq!(conn.close_cursor("hc", true), Ok("OK".into()));

    // wait_any / wait_all over handles
    let other = open("h_all2");
    conn.send_query("select pg_sleep(5)").expect("slow");
    other.send_query("select 1").expect("fast");
    assert_eq!(
        Connection::wait_any(&[&conn, &other], Some(Duration::from_secs(5))),
        Ok(vec![1])
    );
    assert_eq!(
        Connection::wait_all(&[&conn, &other], Some(Duration::from_millis(50))),
        Ok(false)
    );
    assert_eq!(conn.cancel_query().expect("cancel"), "OK");
    assert_eq!(Connection::wait_all(&[&conn, &other], None), Ok(true));
    let _ = conn.get_result(false);
    let _ = drain(&conn);
    let _ = drain(&other);

    // reset, then disconnect
    conn.reset().expect("reset");
    assert_eq!(
        conn.query("select 1", true).expect("after reset").get(0, 0),
        Some("1")
    );
    other.disconnect().expect("disconnect other");
    conn.disconnect().expect("disconnect");
    assert_eq!(
        pgdblink::disconnect(Some(&name))
            .expect_err("gone")
            .sqlstate,
        "08003"
    );
}

#[test]
fn a_handle_follows_its_connection_not_its_name() {
    let conn = open("h_follow");
    let name = conn.name().to_owned();
    let copy = conn.clone();
    pgdblink::disconnect(Some(&name)).expect("disconnect by name");
    assert!(!conn.is_open());
    let e = conn.query("select 1", true).expect_err("closed");
    assert_eq!(e.sqlstate, "08003");
    assert_eq!(e.message, format!("connection \"{name}\" not available"));

    // The name is connected again elsewhere: the old handle still says 08003.
    pgdblink::connect(Some(&name), &shared().connstr()).expect("reconnect");
    assert_eq!(
        copy.send_query("select 1")
            .expect_err("old handle")
            .sqlstate,
        "08003"
    );
    assert_eq!(copy.is_busy().expect_err("old handle").sqlstate, "08003");
    assert_eq!(
        copy.clone()
            .disconnect()
            .expect_err("not its entry")
            .sqlstate,
        "08003"
    );
    // ... and the new connection under the name is untouched.
    assert_eq!(
        pgdblink::dblink(Some(&name), "select 2", true)
            .expect("new")
            .get(0, 0),
        Some("2")
    );
    let fresh = Connection::attach(&name).expect("attach");
    assert_eq!(
        fresh.exec("set application_name = 'h'", true),
        Ok("SET".into())
    );
    fresh.disconnect().expect("disconnect");
    assert_eq!(
        Connection::attach(&name).expect_err("gone").sqlstate,
        "08003"
    );
}

#[test]
fn the_name_api_and_c_see_a_connection_a_handle_opened() {
    let conn = open("h_seen");
    let name = conn.name().to_owned();
    assert!(
        pgdblink::get_connections()
            .unwrap_or_default()
            .contains(&name)
    );
    assert_eq!(
        pgdblink::exec(Some(&name), "create temp table h(x int)", true),
        Ok("CREATE TABLE".into())
    );
    // The same session: the temp table is there through the handle.
    assert_eq!(
        conn.exec("insert into h values (1)", true),
        Ok("INSERT 0 1".into())
    );
    let cname = CString::new(name.as_str()).expect("name");
    let sql = CString::new("select count(*) from h").expect("sql");
    // SAFETY: valid NUL-terminated strings for the call; the result is
    // read and freed below, once.
    let r = unsafe { pgdblink::ffi::dblink(cname.as_ptr(), sql.as_ptr(), 1) };
    assert!(!r.is_null(), "C dblink on the handle's name");
    // SAFETY: `r` is a live result from dblink above.
    let v = unsafe { pgdblink::ffi::dblink_result_getvalue(r, 0, 0) };
    // SAFETY: a non-NULL value is a NUL-terminated string owned by `r`.
    let text = unsafe { std::ffi::CStr::from_ptr(v) }
        .to_str()
        .expect("utf-8")
        .to_owned();
    // SAFETY: `r` came from dblink and is freed once.
    unsafe { pgdblink::ffi::dblink_result_free(r) };
    assert_eq!(text, "1");
    conn.disconnect().expect("disconnect");
}

#[test]
fn typed_getters_name_the_column_and_the_text() {
    let conn = open("h_rows");
    let res = conn
        .query("select 7 as n, 'seven' as word, null::int as nothing", true)
        .expect("query");
    let row = res.row(0).expect("a row");
    assert_eq!(row.len(), 3);
    assert_eq!(row.index(), 0);
    // NULL is Ok(None), distinct from an error.
    assert_eq!(row.parse::<i32, _>("nothing"), Ok(None));
    assert_eq!(row.get("nothing"), Ok(None));
    assert_eq!(row.is_null(2), Ok(true));
    // Bad text.
    let e = row.parse::<i32, _>("word").expect_err("not an i32");
    assert_eq!(e.sqlstate, "22P02");
    assert_eq!(
        e.message,
        "column \"word\": invalid value \"seven\" for i32: invalid digit found in string"
    );
    // By position, the message still names the column.
    let e = row.parse::<bool, _>(0).expect_err("7 is no bool");
    assert_eq!(e.sqlstate, "22P02");
    assert!(
        e.message
            .starts_with("column \"n\": invalid value \"7\" for bool: "),
        "{}",
        e.message
    );
    // Unknown column, by name and by position.
    let e = row.get("nope").expect_err("unknown");
    assert_eq!(
        (e.sqlstate.as_str(), e.message.as_str()),
        ("42703", "column \"nope\" does not exist")
    );
    let e = row.bytes(9).expect_err("out of range");
    assert_eq!(e.sqlstate, "22023");
    assert_eq!(
        e.message,
        "column 9 is out of range: the result has 3 columns"
    );
    // Raw bytes, by index.
    assert_eq!(row.bytes(1), Ok(Some(&b"seven"[..])));
    assert_eq!(res.column_index("word"), Some(1));
    assert!(res.row(1).is_none());
    // Borrowed iteration, also through &DblinkResult.
    let mut n = 0;
    for r in &res {
        n += 1;
        assert_eq!(r.get("n"), Ok(Some("7")));
    }
    assert_eq!(n, 1);
    conn.disconnect().expect("disconnect");
}
