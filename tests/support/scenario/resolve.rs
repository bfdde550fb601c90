//! dblink's overloads resolved and the arguments converted, for both
//! library worlds.

use pgdblink as pg;

use super::parse::{Arg, Call};
use super::text_array::parse_text_array_nulls;

pub(super) fn flag(b: bool) -> String {
    if b { "1" } else { "0" }.to_owned()
}

fn int_arg(v: &str) -> pg::Result<i32> {
    v.parse().map_err(|_| {
        pg::Error::new(
            "22P02",
            format!("invalid input syntax for type integer: \"{v}\""),
        )
    })
}

fn bool_arg(v: &str) -> bool {
    matches!(v, "true" | "t" | "on" | "yes" | "1")
}

/// One call with dblink's overload resolved and its arguments converted:
/// what both library worlds run ([`dispatch`](super::rust::dispatch),
/// [`dispatch_c`](super::dispatch_c)), so they
/// resolve overloads the same way.
#[derive(Debug)]
pub(super) enum Resolved<'a> {
    /// dblink_connect (`u`: dblink_connect_u).
    Connect {
        u: bool,
        name: Option<&'a str>,
        connstr: &'a str,
    },
    Disconnect(Option<&'a str>),
    /// dblink (`exec`: dblink_exec).
    Query {
        exec: bool,
        target: Option<&'a str>,
        sql: &'a str,
        fail: bool,
    },
    Open {
        conn: Option<&'a str>,
        cursor: &'a str,
        sql: &'a str,
        fail: bool,
    },
    Fetch {
        conn: Option<&'a str>,
        cursor: &'a str,
        count: i32,
        fail: bool,
    },
    Close {
        conn: Option<&'a str>,
        cursor: &'a str,
        fail: bool,
    },
    SendQuery {
        conn: &'a str,
        sql: &'a str,
    },
    IsBusy(&'a str),
    GetResult {
        conn: &'a str,
        fail: bool,
    },
    CancelQuery(&'a str),
    ErrorMessage(&'a str),
    GetNotify(Option<&'a str>),
    GetConnections,
    GetPkey(&'a str),
    /// dblink_build_sql_insert (`update`: _update).
    BuildInsert {
        update: bool,
        rel: &'a str,
        pk: Vec<i32>,
        src: Vec<Option<String>>,
        tgt: Vec<Option<String>>,
    },
    BuildDelete {
        rel: &'a str,
        pk: Vec<i32>,
        tgt: Vec<Option<String>>,
    },
}

/// Resolves dblink's overloads by the arguments' types (a `true`/`false`
/// literal is the fail_on_error flag) and converts the arguments (`v`: their
/// values); an argument dblink would not accept is its ERROR.
pub(super) fn resolve<'a>(call: &Call, v: &'a [String]) -> pg::Result<Resolved<'a>> {
    let a = &call.args;
    let n = a.len();
    let last_bool = a.last().is_some_and(Arg::is_bool);
    let sig = || format!("{}({n} arguments)", call.func);
    Ok(match (call.func.as_str(), n) {
        ("dblink_connect" | "dblink_connect_u", 1 | 2) => {
            let (name, connstr) = if n == 1 {
                (None, v[0].as_str())
            } else {
                (Some(v[0].as_str()), v[1].as_str())
            };
            Resolved::Connect {
                u: call.func == "dblink_connect_u",
                name,
                connstr,
            }
        }
        ("dblink_disconnect", 0 | 1) => Resolved::Disconnect(v.first().map(String::as_str)),
        ("dblink" | "dblink_exec", 1..=3) => {
            let (target, sql, fail) = match (n, last_bool) {
                (1, _) => (None, &v[0], true),
                (2, true) => (None, &v[0], bool_arg(&v[1])),
                (2, false) => (Some(v[0].as_str()), &v[1], true),
                _ => (Some(v[0].as_str()), &v[1], bool_arg(&v[2])),
            };
            Resolved::Query {
                exec: call.func == "dblink_exec",
                target,
                sql,
                fail,
            }
        }
        ("dblink_open", 2..=4) => {
            let (conn, cursor, sql, fail) = match (n, last_bool) {
                (2, _) => (None, &v[0], &v[1], true),
                (3, true) => (None, &v[0], &v[1], bool_arg(&v[2])),
                (3, false) => (Some(v[0].as_str()), &v[1], &v[2], true),
                _ => (Some(v[0].as_str()), &v[1], &v[2], bool_arg(&v[3])),
            };
            Resolved::Open {
                conn,
                cursor,
                sql,
                fail,
            }
        }
        ("dblink_fetch", 2..=4) => {
            let (conn, cursor, count, fail) = match (n, last_bool) {
                (2, _) => (None, &v[0], &v[1], true),
                (3, true) => (None, &v[0], &v[1], bool_arg(&v[2])),
                (3, false) => (Some(v[0].as_str()), &v[1], &v[2], true),
                _ => (Some(v[0].as_str()), &v[1], &v[2], bool_arg(&v[3])),
            };
            Resolved::Fetch {
                conn,
                cursor,
                count: int_arg(count)?,
                fail,
            }
        }
        ("dblink_close", 1..=3) => {
            let (conn, cursor, fail) = match (n, last_bool) {
                (1, _) => (None, &v[0], true),
                (2, true) => (None, &v[0], bool_arg(&v[1])),
                (2, false) => (Some(v[0].as_str()), &v[1], true),
                _ => (Some(v[0].as_str()), &v[1], bool_arg(&v[2])),
            };
            Resolved::Close { conn, cursor, fail }
        }
        ("dblink_send_query", 2) => Resolved::SendQuery {
            conn: &v[0],
            sql: &v[1],
        },
        ("dblink_is_busy", 1) => Resolved::IsBusy(&v[0]),
        ("dblink_get_result", 1 | 2) => Resolved::GetResult {
            conn: &v[0],
            fail: v.get(1).is_none_or(|f| bool_arg(f)),
        },
        ("dblink_cancel_query", 1) => Resolved::CancelQuery(&v[0]),
        ("dblink_error_message", 1) => Resolved::ErrorMessage(&v[0]),
        ("dblink_get_notify", 0 | 1) => Resolved::GetNotify(v.first().map(String::as_str)),
        ("dblink_get_connections", 0) => Resolved::GetConnections,
        ("dblink_get_pkey", 1) => Resolved::GetPkey(&v[0]),
        ("dblink_build_sql_insert" | "dblink_build_sql_update", 5) => Resolved::BuildInsert {
            update: call.func == "dblink_build_sql_update",
            rel: &v[0],
            pk: pkattnums(&v[1], &v[2])?,
            src: text_array_arg(&v[3])?,
            tgt: text_array_arg(&v[4])?,
        },
        ("dblink_build_sql_delete", 4) => Resolved::BuildDelete {
            rel: &v[0],
            pk: pkattnums(&v[1], &v[2])?,
            tgt: text_array_arg(&v[3])?,
        },
        _ => panic!("the scenario language does not know {}", sig()),
    })
}

/// dblink's `pkattnums int2vector, pknumatts int` arguments: the first
/// `pknumatts` attribute numbers (dblink takes no more than the vector has,
/// and none for a count below 1).
fn pkattnums(vector: &str, count: &str) -> pg::Result<Vec<i32>> {
    let nums = vector
        .split_whitespace()
        .map(|n| {
            n.parse::<i16>().map(i32::from).map_err(|_| {
                pg::Error::new(
                    "22P02",
                    format!("invalid input syntax for type smallint: \"{n}\""),
                )
            })
        })
        .collect::<pg::Result<Vec<i32>>>()?;
    let count = usize::try_from(int_arg(count)?).unwrap_or(0);
    Ok(nums.into_iter().take(count).collect())
}

/// A `text[]` argument (as array_out writes it) as its elements, NULL as
/// `None`.
fn text_array_arg(v: &str) -> pg::Result<Vec<Option<String>>> {
    parse_text_array_nulls(v).map_err(|e| pg::Error::new("22P02", e))
}
