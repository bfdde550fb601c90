//! The pgdblink world: the calls through pgdblink's Rust API.

use pgdblink as pg;

use super::local::on_local_database;
use super::outcome::Value;
use super::parse::Call;
use super::resolve::{Resolved, flag, resolve};
use super::text_array::format_text_array;

/// Maps a call to pgdblink's Rust API.
pub(super) fn dispatch(call: &Call, v: &[String]) -> pg::Result<Value> {
    run_rust(resolve(call, v)?)
}

pub(super) fn run_rust(r: Resolved<'_>) -> pg::Result<Value> {
    let s = |x: &str| Ok(Value::Scalar(Some(x.to_owned())));
    let text = |t: pg::Result<String>| t.map(|t| Value::Scalar(Some(t)));
    let set = |r: pg::Result<pg::DblinkResult>| r.map(|r| Value::Rows(r.rows()));
    match r {
        Resolved::Connect { u, name, connstr } => {
            if u {
                pg::connect_u(name, connstr)?;
            } else {
                pg::connect(name, connstr)?;
            }
            s("OK")
        }
        Resolved::Disconnect(name) => {
            pg::disconnect(name)?;
            s("OK")
        }
        Resolved::Query {
            exec: false,
            target,
            sql,
            fail,
        } => set(pg::dblink(target, sql, fail)),
        Resolved::Query {
            exec: true,
            target,
            sql,
            fail,
        } => text(pg::exec(target, sql, fail)),
        Resolved::Open {
            conn,
            cursor,
            sql,
            fail,
        } => text(pg::open(conn, cursor, sql, fail)),
        Resolved::Fetch {
            conn,
            cursor,
            count,
            fail,
        } => set(pg::fetch(conn, cursor, count, fail)),
        Resolved::Close { conn, cursor, fail } => text(pg::close(conn, cursor, fail)),
        Resolved::SendQuery { conn, sql } => {
            pg::send_query(Some(conn), sql).map(|b| Value::Scalar(Some(flag(b))))
        }
        Resolved::IsBusy(conn) => pg::is_busy(Some(conn)).map(|b| Value::Scalar(Some(flag(b)))),
        Resolved::GetResult { conn, fail } => set(pg::get_result(Some(conn), fail)),
        Resolved::CancelQuery(conn) => text(pg::cancel_query(Some(conn))),
        Resolved::ErrorMessage(conn) => text(pg::error_message(Some(conn))),
        Resolved::GetNotify(conn) => pg::get_notify(conn).map(|notes| {
            Value::Rows(
                notes
                    .into_iter()
                    .map(|n| {
                        vec![
                            Some(n.notify_name),
                            Some(n.be_pid.to_string()),
                            Some(n.extra),
                        ]
                    })
                    .collect(),
            )
        }),
        Resolved::GetConnections => Ok(Value::Scalar(pg::get_connections().map(|mut names| {
            names.sort();
            format_text_array(&names)
        }))),
        Resolved::GetPkey(rel) => on_local_database(|local| {
            let r = pg::get_pkey(Some(local), rel)?;
            assert_eq!(r.columns(), ["position", "colname"], "get_pkey's columns");
            Ok(Value::Rows(r.rows()))
        }),
        Resolved::BuildInsert {
            update,
            rel,
            pk,
            src,
            tgt,
        } => on_local_database(|local| {
            let (src, tgt) = (opt_strs(&src), opt_strs(&tgt));
            text(if update {
                pg::build_sql_update(Some(local), rel, &pk, &src, &tgt)
            } else {
                pg::build_sql_insert(Some(local), rel, &pk, &src, &tgt)
            })
        }),
        Resolved::BuildDelete { rel, pk, tgt } => on_local_database(|local| {
            text(pg::build_sql_delete(Some(local), rel, &pk, &opt_strs(&tgt)))
        }),
    }
}

fn opt_strs(v: &[Option<String>]) -> Vec<Option<&str>> {
    v.iter().map(Option::as_deref).collect()
}
