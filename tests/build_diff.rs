//! Differential tests of dblink_get_pkey and dblink_build_sql_*: each call
//! runs through the real dblink, which reads the catalog of its local
//! database (the oracle database), and through pgdblink, on a connection to
//! that same database ([`Pair`]; see `on_local_database` in
//! `support/scenario/`). Texts and errors (SQLSTATE, message, detail,
//! hint, context) must be equal. Also dblink()'s partial rows before a
//! remote error (single-row reading), against the real dblink.

mod support;

use support::scenario::Pair;
use support::{Oracle, ServerExt, lit, shared, unique_name};

fn int2vector(nums: &[i32]) -> String {
    let list: Vec<String> = nums.iter().map(i32::to_string).collect();
    format!("'{}'::int2vector", list.join(" "))
}

fn text_array(vals: &[Option<&str>]) -> String {
    let items: Vec<String> = vals
        .iter()
        .map(|v| v.map_or_else(|| "NULL".to_owned(), lit))
        .collect();
    format!("array[{}]::text[]", items.join(","))
}

/// Runs `sql` in the oracle database (the tables the calls read).
fn setup(oracle: &mut Oracle, sql: &str) {
    oracle
        .query(sql)
        .unwrap_or_else(|e| panic!("setup failed: {e}\n{sql}"));
}

fn insert(p: &mut Pair, rel: &str, pk: &[i32], src: &[Option<&str>], tgt: &[Option<&str>]) {
    p.step(&format!(
        "SELECT dblink_build_sql_insert({}, {}, {}, {}, {})",
        lit(rel),
        int2vector(pk),
        pk.len(),
        text_array(src),
        text_array(tgt)
    ));
}

fn update(p: &mut Pair, rel: &str, pk: &[i32], src: &[Option<&str>], tgt: &[Option<&str>]) {
    p.step(&format!(
        "SELECT dblink_build_sql_update({}, {}, {}, {}, {})",
        lit(rel),
        int2vector(pk),
        pk.len(),
        text_array(src),
        text_array(tgt)
    ));
}

fn delete(p: &mut Pair, rel: &str, pk: &[i32], tgt: &[Option<&str>]) {
    p.step(&format!(
        "SELECT dblink_build_sql_delete({}, {}, {}, {})",
        lit(rel),
        int2vector(pk),
        pk.len(),
        text_array(tgt)
    ));
}

fn pkey(p: &mut Pair, rel: &str) {
    p.step(&format!("SELECT * FROM dblink_get_pkey({})", lit(rel)));
}

#[test]
fn build_sql_and_get_pkey_match_the_real_dblink() {
    let mut p = Pair::new();
    let t = unique_name("bt");
    let q = format!("\"{t} Mixed\"\"Case\"");
    setup(
        &mut shared().oracle(),
        &format!(
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
        ),
    );
    let q_rel = format!("\"{t} Mixed\"\"Case\"");
    let hidden = format!("bt_hidden.{t}");
    let nopk = format!("{t}_nopk");

    pkey(&mut p, &t);
    pkey(&mut p, &q_rel);
    pkey(&mut p, &hidden);
    pkey(&mut p, &nopk);
    pkey(&mut p, "no_such_table");
    pkey(&mut p, "bad\"name");

    // Quoting of identifiers and values, NULLs, a schema not on the path.
    insert(
        &mut p,
        &t,
        &[1, 2],
        &[Some("0"), Some("a")],
        &[Some("99"), Some("x'y")],
    );
    insert(&mut p, &t, &[1], &[Some("1")], &[None]);
    insert(
        &mut p,
        &t,
        &[2],
        &[Some("it's a \\ backslash")],
        &[Some("\\N")],
    );
    insert(&mut p, &q_rel, &[1], &[Some("1")], &[Some("10")]);
    insert(&mut p, &q_rel, &[3], &[Some("ünï")], &[Some("ü")]); // attnum 3 is "end" (dropped column skipped)
    insert(&mut p, &hidden, &[1], &[Some("7")], &[Some("8")]);
    update(
        &mut p,
        &t,
        &[1, 2],
        &[Some("0"), Some("a")],
        &[Some("99"), Some("z")],
    );
    update(&mut p, &q_rel, &[1], &[Some("2")], &[None]);
    update(&mut p, &hidden, &[2], &[Some("seven")], &[Some("o'clock")]);
    delete(&mut p, &t, &[1, 2], &[Some("0"), None]);
    delete(&mut p, &q_rel, &[2, 1], &[Some("we\"ird"), Some("1")]);
    delete(&mut p, &hidden, &[1], &[Some("7")]);

    // Errors: attnums out of range (dropped columns not counted), lengths,
    // missing and ambiguous source rows, bad input, unknown relations.
    insert(&mut p, &q_rel, &[4], &[Some("1")], &[Some("1")]);
    insert(&mut p, &t, &[0], &[Some("1")], &[Some("1")]);
    insert(&mut p, &t, &[-1], &[Some("1")], &[Some("1")]);
    update(&mut p, &t, &[9], &[Some("1")], &[Some("1")]);
    delete(&mut p, &q_rel, &[4], &[Some("1")]);
    insert(&mut p, &t, &[1], &[Some("1"), Some("2")], &[Some("1")]);
    insert(&mut p, &t, &[1], &[Some("1")], &[Some("1"), Some("2")]);
    update(&mut p, &t, &[1, 2], &[Some("1")], &[Some("1"), Some("2")]);
    delete(&mut p, &t, &[1, 2], &[Some("1")]);
    insert(&mut p, &t, &[1], &[Some("42")], &[Some("1")]);
    update(
        &mut p,
        &t,
        &[1, 2],
        &[Some("0"), Some("nope")],
        &[Some("1"), Some("2")],
    );
    insert(&mut p, &nopk, &[1], &[Some("1")], &[Some("2")]);
    insert(&mut p, &t, &[1], &[Some("not a number")], &[Some("1")]);
    insert(&mut p, "no_such_table", &[1], &[Some("1")], &[Some("1")]);
    delete(&mut p, "no_such_schema.t", &[1], &[Some("1")]);
    delete(&mut p, "1259", &[1], &[Some("1")]);
    insert(&mut p, &t, &[], &[], &[]);
}

#[test]
fn dblink_keeps_the_rows_before_a_remote_error() {
    let mut p = Pair::new();
    let t = unique_name("partial");
    setup(
        &mut shared().oracle(),
        &format!(
            "create table {t} (f1 int); insert into {t} select g from generate_series(0, 9) g"
        ),
    );
    p.set("n", &unique_name("local"));
    p.set("cs", &shared().connstr_db("oracle"));
    for sql in [
        format!("select 1/(f1 - 3) from {t} order by f1"),
        format!("select 1; select 1/(f1 - 3) from {t} order by f1"),
        format!("select f1 from {t} where f1 < 2; select 1/0"),
        format!("select f1 from {t} order by f1"),
    ] {
        p.set("sql", &sql);
        p.step("SELECT dblink_connect(:'n', :'cs')");
        // The rows before the error, and the error as a NOTICE.
        p.step("SELECT * FROM dblink(:'n', :'sql', false) AS t(x int)")
            .rows();
        p.step("SELECT dblink_disconnect(:'n')");
    }
}
