//! Differential tests of dblink_get_pkey and dblink_build_sql_*: the real
//! dblink runs them in the oracle database; pgdblink runs them on a named
//! connection to that same database. Texts and errors (SQLSTATE, message,
//! detail, hint, context) must be equal. Also dblink()'s partial rows
//! before a remote error (single-row reading), against the real dblink.

// `Rep` is returned by value on purpose (compared field by field).
#![allow(clippy::result_large_err)]

mod support;

use support::{Oracle, Rep, ServerExt, lit, lit_opt, shared, unique_name};

/// The oracle's answer to `select <call>`, as one text value or an error.
fn oracle_text(o: &mut Oracle, call: &str) -> Result<Option<String>, Rep> {
    o.value(&format!("select {call}"))
        .map_err(|r| Rep::from(&r))
}

fn int2vector(nums: &[i32]) -> String {
    let list: Vec<String> = nums.iter().map(i32::to_string).collect();
    format!("'{}'::int2vector", list.join(" "))
}

fn text_array(vals: &[Option<&str>]) -> String {
    let items: Vec<String> = vals.iter().map(|v| lit_opt(*v)).collect();
    format!("array[{}]::text[]", items.join(","))
}

struct World {
    oracle: Oracle,
    name: String,
}

impl World {
    fn new() -> World {
        let server = shared();
        let oracle = server.oracle();
        let name = unique_name("local");
        pgdblink::connect(Some(&name), &server.connstr_db("oracle")).expect("connect");
        World { oracle, name }
    }

    fn setup(&mut self, sql: &str) {
        self.oracle
            .query(sql)
            .unwrap_or_else(|e| panic!("setup failed: {e}\n{sql}"));
    }

    fn insert(&mut self, rel: &str, pk: &[i32], src: &[Option<&str>], tgt: &[Option<&str>]) {
        let call = format!(
            "dblink_build_sql_insert({}, {}, {}, {}, {})",
            lit(rel),
            int2vector(pk),
            pk.len(),
            text_array(src),
            text_array(tgt)
        );
        let theirs = oracle_text(&mut self.oracle, &call);
        let ours = pgdblink::build_sql_insert(Some(&self.name), rel, pk, src, tgt)
            .map(Some)
            .map_err(|e| Rep::from(&e));
        assert_eq!(ours, theirs, "{call}");
    }

    fn update(&mut self, rel: &str, pk: &[i32], src: &[Option<&str>], tgt: &[Option<&str>]) {
        let call = format!(
            "dblink_build_sql_update({}, {}, {}, {}, {})",
            lit(rel),
            int2vector(pk),
            pk.len(),
            text_array(src),
            text_array(tgt)
        );
        let theirs = oracle_text(&mut self.oracle, &call);
        let ours = pgdblink::build_sql_update(Some(&self.name), rel, pk, src, tgt)
            .map(Some)
            .map_err(|e| Rep::from(&e));
        assert_eq!(ours, theirs, "{call}");
    }

    fn delete(&mut self, rel: &str, pk: &[i32], tgt: &[Option<&str>]) {
        let call = format!(
            "dblink_build_sql_delete({}, {}, {}, {})",
            lit(rel),
            int2vector(pk),
            pk.len(),
            text_array(tgt)
        );
        let theirs = oracle_text(&mut self.oracle, &call);
        let ours = pgdblink::build_sql_delete(Some(&self.name), rel, pk, tgt)
            .map(Some)
            .map_err(|e| Rep::from(&e));
        assert_eq!(ours, theirs, "{call}");
    }

    fn pkey(&mut self, rel: &str) {
        let theirs = self
            .oracle
            .query(&format!("select * from dblink_get_pkey({})", lit(rel)))
            .map_err(|r| Rep::from(&r));
        let ours = pgdblink::get_pkey(Some(&self.name), rel)
            .map(|r| {
                assert_eq!(r.columns(), ["position", "colname"]);
                r.rows()
            })
            .map_err(|e| Rep::from(&e));
        assert_eq!(ours, theirs, "dblink_get_pkey({rel})");
    }
}

#[test]
fn build_sql_and_get_pkey_match_the_real_dblink() {
    let mut w = World::new();
    let t = unique_name("bt");
    let q = format!("\"{t} Mixed\"\"Case\"");
    w.setup(&format!(
        "create table {t} (f1 int, f2 text, f3 text[], primary key (f1, f2));
         insert into {t} values (0, 'a', '{{a0,b0,c0}}'), (1, 'b', null),
                                (2, E'it''s a \\\\ backslash', '{{x}}');
         create table {q} (\"Select\" int primary key, dropme int, \"weird \"\" col\" text, \"end\" text);
         alter table {q} drop column dropme;
         insert into {q} values (1, E'new\\nline', 'ünï'), (2, null, null);
         create schema if not exists bt_hidden;
         create table bt_hidden.{t} (id int primary key, v text);
         insert into bt_hidden.{t} values (7, 'seven');
         create table {t}_nopk (x int, y int);
         insert into {t}_nopk values (1, 1), (1, 2);"
    ));
    let q_rel = format!("\"{t} Mixed\"\"Case\"");
    let hidden = format!("bt_hidden.{t}");
    let nopk = format!("{t}_nopk");

    w.pkey(&t);
    w.pkey(&q_rel);
    w.pkey(&hidden);
    w.pkey(&nopk);
    w.pkey("no_such_table");
    w.pkey("bad\"name");

    // Quoting of identifiers and values, NULLs, a schema not on the path.
    w.insert(
        &t,
        &[1, 2],
        &[Some("0"), Some("a")],
        &[Some("99"), Some("x'y")],
    );
    w.insert(&t, &[1], &[Some("1")], &[None]);
    w.insert(&t, &[2], &[Some("it's a \\ backslash")], &[Some("\\N")]);
    w.insert(&q_rel, &[1], &[Some("1")], &[Some("10")]);
    w.insert(&q_rel, &[3], &[Some("ünï")], &[Some("ü")]); // attnum 3 is "end" (dropped column skipped)
    w.insert(&hidden, &[1], &[Some("7")], &[Some("8")]);
    w.update(
        &t,
        &[1, 2],
        &[Some("0"), Some("a")],
        &[Some("99"), Some("z")],
    );
    w.update(&q_rel, &[1], &[Some("2")], &[None]);
    w.update(&hidden, &[2], &[Some("seven")], &[Some("o'clock")]);
    w.delete(&t, &[1, 2], &[Some("0"), None]);
    w.delete(&q_rel, &[2, 1], &[Some("we\"ird"), Some("1")]);
    w.delete(&hidden, &[1], &[Some("7")]);

    // Errors: attnums out of range (dropped columns not counted), lengths,
    // missing and ambiguous source rows, bad input, unknown relations.
    w.insert(&q_rel, &[4], &[Some("1")], &[Some("1")]);
    w.insert(&t, &[0], &[Some("1")], &[Some("1")]);
    w.insert(&t, &[-1], &[Some("1")], &[Some("1")]);
    w.update(&t, &[9], &[Some("1")], &[Some("1")]);
    w.delete(&q_rel, &[4], &[Some("1")]);
    w.insert(&t, &[1], &[Some("1"), Some("2")], &[Some("1")]);
    w.insert(&t, &[1], &[Some("1")], &[Some("1"), Some("2")]);
    w.update(&t, &[1, 2], &[Some("1")], &[Some("1"), Some("2")]);
    w.delete(&t, &[1, 2], &[Some("1")]);
    w.insert(&t, &[1], &[Some("42")], &[Some("1")]);
    w.update(
        &t,
        &[1, 2],
        &[Some("0"), Some("nope")],
        &[Some("1"), Some("2")],
    );
    w.insert(&nopk, &[1], &[Some("1")], &[Some("2")]);
    w.insert(&t, &[1], &[Some("not a number")], &[Some("1")]);
    w.insert("no_such_table", &[1], &[Some("1")], &[Some("1")]);
    w.delete("no_such_schema.t", &[1], &[Some("1")]);
    w.delete("1259", &[1], &[Some("1")]);
    w.insert(&t, &[], &[], &[]);
    pgdblink::disconnect(Some(&w.name)).expect("disconnect");
}

#[test]
fn dblink_keeps_the_rows_before_a_remote_error() {
    let mut w = World::new();
    let t = unique_name("partial");
    w.setup(&format!(
        "create table {t} (f1 int); insert into {t} select g from generate_series(0, 9) g"
    ));
    let connstr = shared().connstr_db("oracle");
    let name = &w.name.clone();
    for sql in [
        format!("select 1/(f1 - 3) from {t} order by f1"),
        format!("select 1; select 1/(f1 - 3) from {t} order by f1"),
        format!("select f1 from {t} where f1 < 2; select 1/0"),
        format!("select f1 from {t} order by f1"),
    ] {
        w.setup(&format!(
            "select dblink_connect({}, {})",
            lit(name),
            lit(&connstr)
        ));
        let theirs = w
            .oracle
            .query(&format!(
                "select * from dblink({}, {}, false) as t(x int)",
                lit(name),
                lit(&sql)
            ))
            .expect("the real dblink");
        let notices: Vec<Rep> = w.oracle.take_notices().iter().map(Rep::from).collect();
        w.setup(&format!("select dblink_disconnect({})", lit(name)));
        let ours = pgdblink::dblink(Some(name), &sql, false).expect("pgdblink");
        assert_eq!(ours.rows(), theirs, "{sql}");
        assert_eq!(
            ours.error().map(Rep::from),
            notices.first().cloned(),
            "{sql}: the NOTICE"
        );
    }
    pgdblink::disconnect(Some(name)).expect("disconnect");
}
