//! dblink_get_pkey and dblink_build_sql_insert/update/delete, run against
//! the database a named connection points at (dblink's "local" database):
//! the catalog is read with parameterised queries on that connection, and
//! the SQL text is built as dblink builds it (identifiers quoted by the
//! server's quote_ident, values as PostgreSQL's quote_literal).

use crate::error::{Error, Result, sqlstate};
use crate::registry;
use crate::result::{DblinkResult, Status};

use super::sync::dblink_params;

/// array_subscript_error: mismatched key array lengths.
const ARRAY_SUBSCRIPT_ERROR: &str = "2202E";
/// cardinality_violation: no row, or more than one, for the source key.
const CARDINALITY_VIOLATION: &str = "21000";

/// A catalog query on the connection; its errors are dblink's own (no
/// dblink context line: the real dblink raises them in its own database).
fn catalog(
    name: Option<&str>,
    sql: &str,
    params: &[Option<&str>],
) -> Result<Vec<Vec<Option<String>>>> {
    if let Some(n) = name {
        if !registry::contains(n) {
            return Err(Error::conn_not_available(name));
        }
    }
    match dblink_params(name, sql, params, true) {
        Ok(r) => Ok(r.rows()),
        Err(mut e) => {
            // Nor the server's line about our query's parameter.
            e.context = None;
            Err(e)
        }
    }
}

/// A relation as dblink opens it: its oid and its name as
/// generate_relation_name gives it (schema-qualified when not visible).
struct Rel {
    oid: String,
    name: String,
    /// Per physical column (attnum - 1): quote_ident(attname), or `None`
    /// for a dropped column.
    columns: Vec<Option<String>>,
}

fn open_rel(name: Option<&str>, relname: &str) -> Result<Rel> {
    // textToQualifiedNameList never reads a number as an OID; regclass would.
    if !relname.is_empty() && relname.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::new(
            "42P01",
            format!("relation \"{relname}\" does not exist"),
        ));
    }
    let rows = catalog(
        name,
        "select c.oid::text, case when pg_catalog.pg_table_is_visible(c.oid) \
                then pg_catalog.quote_ident(c.relname) \
                else pg_catalog.quote_ident(n.nspname) operator(pg_catalog.||) '.' \
                     operator(pg_catalog.||) pg_catalog.quote_ident(c.relname) end, \
                pg_catalog.has_table_privilege(c.oid, 'SELECT')::text, c.relname::text \
         from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace \
         where c.oid = $1::pg_catalog.regclass",
        &[Some(relname)],
    )
    .map_err(|e| missing_schema(name, relname, e))?;
    let row = rows
        .into_iter()
        .next()
        .ok_or_else(|| Error::new("42P01", format!("relation \"{relname}\" does not exist")))?;
    let cell = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
    if cell(2) != "true" {
        return Err(Error::new(
            "42501",
            format!("permission denied for table {}", cell(3)),
        ));
    }
    let oid = cell(0);
    let attrs = catalog(
        name,
        "select a.attnum::text, case when a.attisdropped then null \
                else pg_catalog.quote_ident(a.attname) end \
         from pg_catalog.pg_attribute a where a.attrelid = $1::pg_catalog.oid and a.attnum > 0 \
         order by a.attnum",
        &[Some(&oid)],
    )?;
    Ok(Rel {
        oid,
        name: cell(1),
        columns: attrs
            .into_iter()
            .map(|r| r.into_iter().nth(1).flatten())
            .collect(),
    })
}

/// dblink opens the relation with `table_openrv`, which reports a missing
/// schema as such (3F000); since PostgreSQL 16 a regclass cast reports it as
/// a missing relation (42P01). So, for a 42P01: the schema's error when the
/// name is qualified by a schema that does not exist (its name truncated as
/// an identifier is; `pg_temp`, the alias, is missing while the session has
/// no temporary schema), else `e` as
/// it is (also when the check itself fails, e.g. in an aborted transaction).
fn missing_schema(name: Option<&str>, relname: &str, e: Error) -> Error {
    if e.sqlstate != "42P01" {
        return e;
    }
    let schema = catalog(
        name,
        "select s::pg_catalog.name::text \
         from pg_catalog.parse_ident($1) p, \
              lateral (select p[pg_catalog.array_length(p, 1) - 1]) q(s) \
         where pg_catalog.array_length(p, 1) >= 2 \
           and case when s operator(pg_catalog.=) 'pg_temp' \
                    then pg_catalog.pg_my_temp_schema() operator(pg_catalog.=) 0 \
                    else pg_catalog.to_regnamespace(pg_catalog.quote_ident(s)) is null end",
        &[Some(relname)],
    );
    match schema
        .ok()
        .and_then(|rows| rows.into_iter().next()?.into_iter().next()?)
    {
        Some(schema) => Error::new("3F000", format!("schema \"{schema}\" does not exist")),
        None => e,
    }
}

/// dblink's validate_pkattnums: the 1-based logical attnums (dropped
/// columns not counted) as 0-based physical column indexes.
fn validate_pkattnums(rel: &Rel, pkattnums: &[i32]) -> Result<Vec<usize>> {
    if pkattnums.is_empty() {
        return Err(Error::new(
            sqlstate::INVALID_PARAMETER_VALUE,
            "number of key attributes must be > 0",
        ));
    }
    let natts = rel.columns.len();
    pkattnums
        .iter()
        .map(|&a| {
            let invalid = || {
                Error::new(
                    sqlstate::INVALID_PARAMETER_VALUE,
                    format!("invalid attribute number {a}"),
                )
            };
            let logical = usize::try_from(a).ok().filter(|&l| l >= 1 && l <= natts);
            let logical = logical.ok_or_else(invalid)?;
            rel.columns
                .iter()
                .enumerate()
                .filter(|(_, c)| c.is_some())
                .nth(logical - 1)
                .map(|(i, _)| i)
                .ok_or_else(invalid)
        })
        .collect()
}

/// PostgreSQL's quote_literal_cstr: `'...'` with quotes and backslashes
/// doubled, prefixed with `E` when there is a backslash.
fn quote_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 3);
    if s.contains('\\') {
        out.push('E');
    }
    out.push('\'');
    for c in s.chars() {
        if c == '\'' || c == '\\' {
            out.push(c);
        }
        out.push(c);
    }
    out.push('\'');
    out
}

fn literal_or_null(v: Option<&str>) -> String {
    v.map_or_else(|| "NULL".to_owned(), quote_literal)
}

fn column(rel: &Rel, i: usize) -> &str {
    rel.columns.get(i).and_then(Option::as_deref).unwrap_or("")
}

/// `col = 'v' AND ...` (or `col IS NULL`) over the key columns.
fn key_condition(rel: &Rel, pk: &[usize], vals: &[Option<&str>]) -> String {
    pk.iter()
        .zip(vals)
        .map(|(&i, v)| match v {
            Some(v) => format!("{} = {}", column(rel, i), quote_literal(v)),
            None => format!("{} IS NULL", column(rel, i)),
        })
        .collect::<Vec<_>>()
        .join(" AND ")
}

fn check_len(vals: &[Option<&str>], pk: &[usize], which: &str) -> Result<()> {
    if vals.len() == pk.len() {
        return Ok(());
    }
    Err(Error::new(
        ARRAY_SUBSCRIPT_ERROR,
        format!("{which} key array length must match number of key attributes"),
    ))
}

/// dblink's get_tuple_of_interest: the row matching the source key, one
/// value per physical column (NULL for dropped ones).
fn tuple_of_interest(
    name: Option<&str>,
    rel: &Rel,
    pk: &[usize],
    src: &[Option<&str>],
) -> Result<Vec<Option<String>>> {
    let cols: Vec<&str> = rel
        .columns
        .iter()
        .map(|c| c.as_deref().unwrap_or("NULL"))
        .collect();
    let sql = format!(
        "SELECT {} FROM {} WHERE {}",
        cols.join(", "),
        rel.name,
        key_condition(rel, pk, src)
    );
    let rows = match dblink_params(name, &sql, &[], true) {
        Ok(r) => r.rows(),
        Err(mut e) => {
            // As the real dblink reports it: an error of the lookup's
            // parsing (the literals' input) has no context line.
            e.context = None;
            return Err(e);
        }
    };
    if rows.len() > 1 {
        return Err(Error::new(
            CARDINALITY_VIOLATION,
            "source criteria matched more than one record",
        ));
    }
    rows.into_iter()
        .next()
        .ok_or_else(|| Error::new(CARDINALITY_VIOLATION, "source row not found"))
}

/// The value of physical column `i` in the built statement: the target
/// key's value for a key column, else the source row's.
/// What build_sql_insert and build_sql_update start from, as dblink does:
/// the relation, its checked key attributes, both value arrays checked
/// against them, and the source row the key values find.
fn source_row(
    name: Option<&str>,
    relname: &str,
    pkattnums: &[i32],
    src_pkattvals: &[Option<&str>],
    tgt_pkattvals: &[Option<&str>],
) -> Result<(Rel, Vec<usize>, Vec<Option<String>>)> {
    let rel = open_rel(name, relname)?;
    let pk = validate_pkattnums(&rel, pkattnums)?;
    check_len(src_pkattvals, &pk, "source")?;
    check_len(tgt_pkattvals, &pk, "target")?;
    let row = tuple_of_interest(name, &rel, &pk, src_pkattvals)?;
    Ok((rel, pk, row))
}

fn value_of(i: usize, pk: &[usize], tgt: &[Option<&str>], row: &[Option<String>]) -> String {
    match pk.iter().position(|&k| k == i) {
        Some(key) => literal_or_null(tgt.get(key).copied().flatten()),
        None => literal_or_null(row.get(i).and_then(Option::as_deref)),
    }
}

/// `dblink_get_pkey(relname)`, run in the database the connection `name`
/// points at: the primary key's columns, as a [`Status::Tuples`] result of
/// the columns `position` (1, 2, ...) and `colname`; no rows when the
/// relation has no primary key.
///
/// Errors: the server's, as dblink raises them (42P01 `relation "t" does
/// not exist`, 42602 `invalid name syntax`, 42501); 08003.
///
/// ```rust,no_run
/// let pk = pgdblink::get_pkey(Some("a"), "public.orders")?;
/// assert_eq!(pk.columns(), ["position", "colname"]);
/// for row in pk.rows() {
///     println!("{:?}: {:?}", row[0], row[1]);
/// }
/// # Ok::<(), pgdblink::Error>(())
/// ```
#[must_use = "the result holds the key's columns"]
pub fn get_pkey(name: Option<&str>, relname: &str) -> Result<DblinkResult> {
    let rel = open_rel(name, relname)?;
    let rows = catalog(
        name,
        "select k.ord::text, a.attname::text \
         from pg_catalog.pg_index i \
         cross join lateral pg_catalog.unnest(i.indkey::pg_catalog.int2[]) with ordinality k(attnum, ord) \
         join pg_catalog.pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum \
         where i.indrelid = $1::pg_catalog.oid and i.indisprimary and k.ord <= i.indnkeyatts \
         order by k.ord",
        &[Some(&rel.oid)],
    )?;
    Ok(DblinkResult::owned(
        Status::Tuples,
        vec!["position", "colname"],
        rows,
    ))
}

/// `dblink_build_sql_insert(relname, pkattnums, pknumatts, src_pkattvals,
/// tgt_pkattvals)`, run in the database the connection `name` points at:
/// an INSERT of the row whose key columns (`pkattnums`, 1-based, dropped
/// columns not counted) equal `src_pkattvals`, with the key values replaced
/// by `tgt_pkattvals` (`None` is NULL). The text is dblink's, byte for
/// byte.
///
/// Errors, as dblink's: 22023 `number of key attributes must be > 0`,
/// `invalid attribute number N`; 2202E `source key array length must match
/// number of key attributes` (and target); 21000 `source row not found`,
/// `source criteria matched more than one record`; the relation's errors
/// (42P01, ...); 08003.
///
/// ```rust,no_run
/// let sql = pgdblink::build_sql_insert(Some("local"), "foo", &[1, 2], &[Some("0"), Some("a")], &[Some("99"), Some("xyz")])?;
/// assert_eq!(sql, "INSERT INTO foo(f1,f2,f3) VALUES('99','xyz','{a0,b0,c0}')");
/// # Ok::<(), pgdblink::Error>(())
/// ```
#[must_use = "the text is the built statement"]
pub fn build_sql_insert(
    name: Option<&str>,
    relname: &str,
    pkattnums: &[i32],
    src_pkattvals: &[Option<&str>],
    tgt_pkattvals: &[Option<&str>],
) -> Result<String> {
    let (rel, pk, row) = source_row(name, relname, pkattnums, src_pkattvals, tgt_pkattvals)?;
    let live: Vec<usize> = (0..rel.columns.len())
        .filter(|&i| rel.columns[i].is_some())
        .collect();
    let names: Vec<&str> = live.iter().map(|&i| column(&rel, i)).collect();
    let values: Vec<String> = live
        .iter()
        .map(|&i| value_of(i, &pk, tgt_pkattvals, &row))
        .collect();
    Ok(format!(
        "INSERT INTO {}({}) VALUES({})",
        rel.name,
        names.join(","),
        values.join(",")
    ))
}

/// `dblink_build_sql_update(...)`, run in the database the connection
/// `name` points at: an UPDATE setting every column of the row found by
/// `src_pkattvals` (key columns to `tgt_pkattvals`), WHERE the key equals
/// `tgt_pkattvals`. Arguments and errors as [`build_sql_insert`].
///
/// ```rust,no_run
/// let sql = pgdblink::build_sql_update(Some("local"), "foo", &[1], &[Some("0")], &[Some("99")])?;
/// assert_eq!(sql, "UPDATE foo SET f1 = '99', f2 = 'a', f3 = '{a0,b0,c0}' WHERE f1 = '99'");
/// # Ok::<(), pgdblink::Error>(())
/// ```
#[must_use = "the text is the built statement"]
pub fn build_sql_update(
    name: Option<&str>,
    relname: &str,
    pkattnums: &[i32],
    src_pkattvals: &[Option<&str>],
    tgt_pkattvals: &[Option<&str>],
) -> Result<String> {
    let (rel, pk, row) = source_row(name, relname, pkattnums, src_pkattvals, tgt_pkattvals)?;
    let sets: Vec<String> = (0..rel.columns.len())
        .filter(|&i| rel.columns[i].is_some())
        .map(|i| {
            format!(
                "{} = {}",
                column(&rel, i),
                value_of(i, &pk, tgt_pkattvals, &row)
            )
        })
        .collect();
    Ok(format!(
        "UPDATE {} SET {} WHERE {}",
        rel.name,
        sets.join(", "),
        key_condition(&rel, &pk, tgt_pkattvals)
    ))
}

/// `dblink_build_sql_delete(relname, pkattnums, pknumatts,
/// tgt_pkattvals)`, run in the database the connection `name` points at:
/// a DELETE of the row whose key equals `tgt_pkattvals` (`None`: `IS
/// NULL`). Errors as [`build_sql_insert`]'s (no source row is read).
///
/// ```rust,no_run
/// let sql = pgdblink::build_sql_delete(Some("local"), "foo", &[1, 2], &[Some("0"), Some("a")])?;
/// assert_eq!(sql, "DELETE FROM foo WHERE f1 = '0' AND f2 = 'a'");
/// # Ok::<(), pgdblink::Error>(())
/// ```
#[must_use = "the text is the built statement"]
pub fn build_sql_delete(
    name: Option<&str>,
    relname: &str,
    pkattnums: &[i32],
    tgt_pkattvals: &[Option<&str>],
) -> Result<String> {
    let rel = open_rel(name, relname)?;
    let pk = validate_pkattnums(&rel, pkattnums)?;
    check_len(tgt_pkattvals, &pk, "target")?;
    Ok(format!(
        "DELETE FROM {} WHERE {}",
        rel.name,
        key_condition(&rel, &pk, tgt_pkattvals)
    ))
}
