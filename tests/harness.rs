//! Self-test of the integration-test harness (tests/support).

mod support;

use support::{Server, ServerExt, lit, shared, unique_name, unnamed_lock};

#[test]
fn server_starts_and_psql_works() {
    let server = shared();
    assert_eq!(server.psql("postgres", "select 1").as_deref(), Ok("1"));
    assert_eq!(
        server
            .psql("postgres", "select 1, 'a'; select 2, 'b'")
            .as_deref(),
        Ok("1|a\n2|b")
    );
    assert_eq!(
        server
            .psql(
                "oracle",
                "select extname from pg_extension where extname = 'dblink'"
            )
            .as_deref(),
        Ok("dblink")
    );
    let err = server
        .psql("postgres", "select * from no_such_table")
        .expect_err("a bad query must fail");
    assert!(err.contains("no_such_table"), "{err}");
    if !server.is_external() {
        assert!(server.bindir().is_some());
        assert!(server.socket_dir().is_some_and(|d| d.is_dir()));
        assert!(
            server
                .connstr()
                .contains(&format!("port={}", server.port()))
        );
    }
}

#[test]
fn connstrs_work_from_libpq_clients() {
    let server = shared();
    for connstr in [
        server.connstr(),
        server.tcp_connstr(),
        server.connstr_db("oracle"),
    ] {
        let mut client = postgres::Client::connect(&connstr, postgres::NoTls)
            .unwrap_or_else(|e| panic!("connect {connstr}: {e}"));
        let row = client
            .query_one("select current_database()", &[])
            .expect("select current_database()");
        let db: String = row.get(0);
        let expected = if connstr.contains("dbname=oracle") {
            "oracle"
        } else {
            "postgres"
        };
        assert_eq!(db, expected, "{connstr}");
    }
    assert!(
        postgres::Client::connect(&server.dead_port_connstr(), postgres::NoTls).is_err(),
        "nothing may listen on the dead port"
    );
}

#[test]
fn oracle_select_one() {
    let mut oracle = shared().oracle();
    assert_eq!(oracle.value("select 1"), Ok(Some("1".into())));
    assert_eq!(oracle.value("select null"), Ok(None));
    assert_eq!(
        oracle.query("select 1, null::text union all select 2, 'x'"),
        Ok(vec![
            vec![Some("1".into()), None],
            vec![Some("2".into()), Some("x".into())]
        ])
    );
    assert_eq!(lit("it's"), "'it''s'");
    assert_eq!(
        oracle.value(&format!("select {}", lit("a'b\\c"))),
        Ok(Some("a'b\\c".into()))
    );
}

#[test]
fn oracle_dblink_duplicate_connection_name() {
    let server = shared();
    let mut oracle = server.oracle();
    let name = unique_name("harness");
    let connect = format!(
        "select dblink_connect({}, {})",
        lit(&name),
        lit(&server.connstr())
    );
    assert_eq!(oracle.value(&connect), Ok(Some("OK".into())));
    let err = oracle.error(&connect);
    assert_eq!(err.severity, "ERROR");
    assert_eq!(err.sqlstate, "42710");
    assert_eq!(err.message, "duplicate connection name");
    assert_eq!(
        oracle.value(&format!(
            "select x from dblink({}, 'select 41 + 1') as t(x int)",
            lit(&name)
        )),
        Ok(Some("42".into()))
    );

    // TCP connstr works from inside the server too.
    let tcp = unique_name("harness_tcp");
    assert_eq!(
        oracle.value(&format!(
            "select dblink_connect({}, {})",
            lit(&tcp),
            lit(&server.tcp_connstr())
        )),
        Ok(Some("OK".into()))
    );
    assert_eq!(
        oracle.value(&format!("select dblink_disconnect({})", lit(&tcp))),
        Ok(Some("OK".into()))
    );

    // Nothing listens on the dead port.
    let err = oracle.error(&format!(
        "select dblink_connect({}, {})",
        lit(&unique_name("harness_dead")),
        lit(&server.dead_port_connstr())
    ));
    assert_eq!(err.sqlstate, "08001", "{err}");
    assert_eq!(err.message, "could not establish connection");
    assert!(err.detail.is_some(), "{err}");
}

#[test]
fn oracle_captures_notices() {
    let server = shared();
    let mut oracle = server.oracle();
    oracle
        .query("DO $$ BEGIN RAISE NOTICE 'hi'; END $$")
        .expect("DO block");
    let notices = oracle.take_notices();
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert_eq!(notices[0].severity, "NOTICE");
    assert_eq!(notices[0].sqlstate, "00000");
    assert_eq!(notices[0].message, "hi");
    assert!(oracle.take_notices().is_empty());

    // A dblink-generated notice.
    let name = unique_name("harness_busy");
    let n = lit(&name);
    assert_eq!(
        oracle.value(&format!(
            "select dblink_connect({n}, {})",
            lit(&server.connstr())
        )),
        Ok(Some("OK".into()))
    );
    assert_eq!(
        oracle.value(&format!(
            "select dblink_send_query({n}, 'select pg_sleep(0.2)')"
        )),
        Ok(Some("1".into()))
    );
    assert_eq!(
        oracle.value(&format!("select dblink_send_query({n}, 'select 1')")),
        Ok(Some("0".into()))
    );
    let notices = oracle.take_notices();
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert_eq!(
        notices[0].message,
        "could not send query: another command is already in progress"
    );
    oracle
        .query(&format!(
            "select * from dblink_get_result({n}) as t(x text)"
        ))
        .expect("dblink_get_result");
    assert_eq!(
        oracle.value(&format!("select dblink_disconnect({n})")),
        Ok(Some("OK".into()))
    );
}

#[test]
fn restart_immediate_breaks_sessions() {
    if shared().is_external() {
        assert!(shared().restart_immediate().is_err());
        return;
    }
    // A private cluster: the shared one is in use by parallel tests.
    let server = Server::start().expect("start a private cluster");
    let dir = server
        .socket_dir()
        .and_then(|s| s.parent())
        .expect("private cluster has a directory")
        .to_path_buf();
    let port = server.port();
    let mut oracle = server.oracle();
    assert_eq!(oracle.value("select 1"), Ok(Some("1".into())));

    server.restart_immediate().expect("restart_immediate");
    assert_eq!(server.port(), port);
    assert!(oracle.client().simple_query("select 1").is_err());
    assert!(oracle.is_closed());

    let mut fresh = server.oracle();
    assert_eq!(fresh.value("select 1"), Ok(Some("1".into())));
    drop(fresh);
    drop(oracle);

    drop(server);
    assert!(!dir.exists(), "{} must be removed on drop", dir.display());
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the dropped cluster must not listen any more"
    );
}

#[test]
fn unique_names_and_unnamed_lock() {
    let a = unique_name("x");
    let b = unique_name("x");
    assert_ne!(a, b);
    assert!(a.starts_with("x_"));

    let poisoner = std::thread::spawn(|| {
        let _guard = unnamed_lock();
        panic!("poison the unnamed lock on purpose");
    });
    assert!(poisoner.join().is_err());
    drop(unnamed_lock());
}
