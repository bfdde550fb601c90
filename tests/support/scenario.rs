//! The differential core: one dblink call, written in dblink's own SQL call
//! syntax, run through the real dblink (verbatim, in an oracle session) and
//! through pgdblink (a small parser maps it to the Rust call), with both
//! outcomes in one comparable form.
//!
//! Two users: the scenario runner (`tests/scenarios.rs`, scenario files in
//! `tests/scenarios/`, the language in CONTRIBUTING.md "Adding a
//! scenario"), and the Rust tests that need threads, faults or process-wide
//! state ([`Pair`]: the same calls, step by step, in both worlds).
//!
//! A [`World`] is one side: the oracle world sends each statement to its
//! session on database `oracle`; the pgdblink world parses it ([`Call`]) and
//! calls pgdblink, evaluating any argument that is not a literal in a plain
//! session. Each world has its own per-world values (LISTEN channels,
//! tables, backend pids: [`World::define`]), and every outcome is rendered
//! with those values masked back to their `:name`, so the two worlds'
//! transcripts compare verbatim.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pgdblink as pg;

use super::notices;
use super::oracle::{Oracle, Report, Rows, ServerExt, lit};
use super::server::{Server, shared};

// ===========================================================================
// Outcomes

/// What a call returned: a scalar (NULL is `None`) or a set of rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Scalar(Option<String>),
    Rows(Rows),
}

/// One call's outcome: the NOTICEs it raised, then its value or its ERROR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub notices: Vec<Report>,
    pub result: Result<Value, Report>,
}

impl Outcome {
    fn value(v: Value) -> Outcome {
        Outcome {
            notices: Vec::new(),
            result: Ok(v),
        }
    }

    /// The scalar; panics on rows or an ERROR.
    pub fn scalar(&self) -> Option<&str> {
        match &self.result {
            Ok(Value::Scalar(v)) => v.as_deref(),
            other => panic!("expected a scalar, got {other:?}"),
        }
    }

    /// The rows; panics on a scalar or an ERROR.
    pub fn rows(&self) -> &Rows {
        match &self.result {
            Ok(Value::Rows(r)) => r,
            other => panic!("expected rows, got {other:?}"),
        }
    }

    /// The ERROR; panics on a value.
    pub fn err(&self) -> &Report {
        match &self.result {
            Err(e) => e,
            other => panic!("expected an ERROR, got {other:?}"),
        }
    }

    /// The transcript lines of this outcome (see CONTRIBUTING.md).
    pub fn render(&self) -> String {
        let mut out = String::new();
        for n in &self.notices {
            render_report(&mut out, n);
        }
        match &self.result {
            Ok(Value::Scalar(v)) => {
                let _ = writeln!(out, "= {}", literal(v.as_deref()));
            }
            Ok(Value::Rows(rows)) => {
                for row in rows {
                    for v in row {
                        let _ = write!(out, "| {} ", literal(v.as_deref()));
                    }
                    out.pop();
                    out.push('\n');
                }
                let s = if rows.len() == 1 { "" } else { "s" };
                let _ = writeln!(out, "({} row{s})", rows.len());
            }
            Err(e) => render_report(&mut out, e),
        }
        out
    }
}

fn render_report(out: &mut String, r: &Report) {
    let _ = writeln!(out, "{} {}: {}", r.severity, r.sqlstate, escape(&r.message));
    for (label, field) in [
        ("DETAIL", &r.detail),
        ("HINT", &r.hint),
        ("CONTEXT", &r.context),
    ] {
        if let Some(f) = field {
            let _ = writeln!(out, "{label}: {}", escape(f));
        }
    }
}

/// A line-safe form of a message: newline, tab, CR and backslash escaped.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out
}

/// A value as an SQL literal: `NULL`, `'text'`, or `E'..'` when it holds a
/// newline, tab, CR or backslash.
fn literal(v: Option<&str>) -> String {
    match v {
        None => "NULL".to_owned(),
        Some(s) if s.contains(['\n', '\t', '\r', '\\']) => {
            format!("E'{}'", escape(s).replace('\'', "''"))
        }
        Some(s) => lit(s),
    }
}

/// True for a line of a rendered outcome (the rest of a transcript is the
/// scenario's own lines; the parser refuses scenario lines that look like
/// outcome lines).
pub fn is_outcome_line(line: &str) -> bool {
    const PREFIXES: [&str; 12] = [
        "= ",
        "| ",
        "ERROR ",
        "NOTICE ",
        "WARNING ",
        "INFO ",
        "LOG ",
        "DEBUG",
        "FATAL ",
        "DETAIL: ",
        "HINT: ",
        "CONTEXT: ",
    ];
    PREFIXES.iter().any(|p| line.starts_with(p))
        || (line.starts_with('(')
            && (line.ends_with(" row)") || line.ends_with(" rows)"))
            && line[1..]
                .split(' ')
                .next()
                .is_some_and(|n| n.parse::<usize>().is_ok()))
}

fn report_of_error(severity: &str, e: &pg::Error) -> Report {
    Report {
        severity: severity.to_owned(),
        sqlstate: e.sqlstate.clone(),
        message: e.message.clone(),
        detail: e.detail.clone(),
        hint: e.hint.clone(),
        context: e.context.clone(),
    }
}

// ===========================================================================
// Parsing a call

/// An argument as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    Text(String),
    Int(i64),
    Bool(bool),
    Null,
    /// Any other expression: evaluated as `SELECT (expr)::text`.
    Expr(String),
}

impl Arg {
    fn is_bool(&self) -> bool {
        matches!(self, Arg::Bool(_))
    }
}

/// What the statement selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shape {
    /// `SELECT fn(..)`.
    Scalar,
    /// `SELECT * | a, b FROM fn(..) [AS t(a int, b text)]`: `columns` are
    /// the column definition's names (or the function's own), `select` the
    /// projection (`None`: all).
    Set {
        columns: Vec<String>,
        select: Option<Vec<String>>,
    },
}

/// One dblink call: `SELECT fn(args)` or `SELECT .. FROM fn(args) AS t(..)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub func: String,
    pub args: Vec<Arg>,
    pub shape: Shape,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(String),
    Punct(&'static str),
}

fn tokenize(sql: &str) -> Result<Vec<(Tok, usize, usize)>, String> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let escaped = (c == b'E' || c == b'e') && b.get(i + 1) == Some(&b'\'');
        if c == b'\'' || escaped {
            i += if escaped { 2 } else { 1 };
            let mut s = String::new();
            loop {
                let Some(&ch) = b.get(i) else {
                    return Err(format!("unterminated string literal at byte {start}"));
                };
                if ch == b'\'' {
                    if b.get(i + 1) == Some(&b'\'') {
                        s.push('\'');
                        i += 2;
                        continue;
                    }
                    i += 1;
                    break;
                }
                if escaped && ch == b'\\' {
                    let esc = b.get(i + 1).copied().ok_or("a dangling backslash")?;
                    s.push(match esc {
                        b'n' => '\n',
                        b't' => '\t',
                        b'r' => '\r',
                        b'\\' => '\\',
                        b'\'' => '\'',
                        other => return Err(format!("unsupported escape \\{}", other as char)),
                    });
                    i += 2;
                    continue;
                }
                // A whole UTF-8 character.
                let len = sql[i..].chars().next().map_or(1, char::len_utf8);
                s.push_str(&sql[i..i + len]);
                i += len;
            }
            out.push((Tok::Str(s), start, i));
        } else if c.is_ascii_alphabetic() || c == b'_' {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push((Tok::Ident(sql[start..i].to_ascii_lowercase()), start, i));
        } else if c.is_ascii_digit() {
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            out.push((Tok::Num(sql[start..i].to_owned()), start, i));
        } else if c == b':' && b.get(i + 1) == Some(&b':') {
            i += 2;
            out.push((Tok::Punct("::"), start, i));
        } else {
            let p = match c {
                b'(' => "(",
                b')' => ")",
                b',' => ",",
                b'*' => "*",
                b'-' => "-",
                b'[' => "[",
                b']' => "]",
                b'|' => "|",
                b'+' => "+",
                b'.' => ".",
                _ => {
                    return Err(format!(
                        "unexpected character {:?} at byte {start}",
                        sql[start..].chars().next().unwrap_or('?')
                    ));
                }
            };
            i += 1;
            out.push((Tok::Punct(p), start, i));
        }
    }
    Ok(out)
}

/// The output columns of the set-returning functions that have their own.
fn own_columns(func: &str) -> Option<Vec<String>> {
    let cols: &[&str] = match func {
        "dblink_get_notify" => &["notify_name", "be_pid", "extra"],
        "dblink_get_pkey" => &["position", "colname"],
        _ => return None,
    };
    Some(cols.iter().map(|c| (*c).to_owned()).collect())
}

impl Call {
    /// Parses one statement (without its `;`).
    pub fn parse(sql: &str) -> Result<Call, String> {
        let toks = tokenize(sql)?;
        let mut p = Parser {
            sql,
            toks: &toks,
            pos: 0,
        };
        let call = p.statement()?;
        if p.pos != toks.len() {
            return Err(format!(
                "unexpected text after the call: {:?}",
                &sql[toks[p.pos].1..]
            ));
        }
        Ok(call)
    }
}

struct Parser<'a> {
    sql: &'a str,
    toks: &'a [(Tok, usize, usize)],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.0)
    }

    fn peek_at(&self, k: usize) -> Option<&Tok> {
        self.toks.get(self.pos + k).map(|t| &t.0)
    }

    fn eat_punct(&mut self, p: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Punct(q)) if *q == p) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn eat_keyword(&mut self, k: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Ident(i)) if i == k) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect_punct(&mut self, p: &str) -> Result<(), String> {
        if self.eat_punct(p) {
            Ok(())
        } else {
            Err(format!("expected `{p}`, found {:?}", self.peek()))
        }
    }

    fn ident(&mut self) -> Result<String, String> {
        match self.peek() {
            Some(Tok::Ident(i)) => {
                let i = i.clone();
                self.pos += 1;
                Ok(i)
            }
            other => Err(format!("expected a name, found {other:?}")),
        }
    }

    fn statement(&mut self) -> Result<Call, String> {
        if !self.eat_keyword("select") {
            return Err("a call starts with SELECT".into());
        }
        let scalar = matches!(self.peek(), Some(Tok::Ident(_)))
            && matches!(self.peek_at(1), Some(Tok::Punct("(")));
        if scalar {
            let (func, args) = self.call()?;
            if self.eat_keyword("as") {
                self.ident()?;
            }
            return Ok(Call {
                func,
                args,
                shape: Shape::Scalar,
            });
        }
        let select = if self.eat_punct("*") {
            None
        } else {
            let mut cols = vec![self.ident()?];
            while self.eat_punct(",") {
                cols.push(self.ident()?);
            }
            Some(cols)
        };
        if !self.eat_keyword("from") {
            return Err("expected FROM after the select list".into());
        }
        let (func, args) = self.call()?;
        let mut columns = None;
        if self.eat_keyword("as") || matches!(self.peek(), Some(Tok::Ident(_))) {
            self.ident()?;
            if self.eat_punct("(") {
                let mut names = Vec::new();
                loop {
                    names.push(self.ident()?);
                    // The type: everything up to the next top-level `,` or `)`.
                    let mut depth = 0;
                    loop {
                        match self.peek() {
                            None => return Err("unterminated column definition list".into()),
                            Some(Tok::Punct("(")) => depth += 1,
                            Some(Tok::Punct(")")) if depth == 0 => break,
                            Some(Tok::Punct(")")) => depth -= 1,
                            Some(Tok::Punct(",")) if depth == 0 => break,
                            _ => {}
                        }
                        self.pos += 1;
                    }
                    if !self.eat_punct(",") {
                        break;
                    }
                }
                self.expect_punct(")")?;
                columns = Some(names);
            }
        }
        let columns = match (columns, own_columns(&func)) {
            (Some(c), _) | (None, Some(c)) => c,
            (None, None) => {
                return Err(format!("{func} needs a column definition list (AS t(..))"));
            }
        };
        if let Some(sel) = &select {
            if let Some(missing) = sel.iter().find(|s| !columns.contains(s)) {
                return Err(format!("column {missing} is not in {columns:?}"));
            }
        }
        Ok(Call {
            func,
            args,
            shape: Shape::Set { columns, select },
        })
    }

    fn call(&mut self) -> Result<(String, Vec<Arg>), String> {
        let func = self.ident()?;
        self.expect_punct("(")?;
        let mut args = Vec::new();
        if self.eat_punct(")") {
            return Ok((func, args));
        }
        loop {
            let first = self.pos;
            let mut depth = 0;
            while let Some(t) = self.peek() {
                match t {
                    // `[`..`]`: an ARRAY[..] constructor's elements.
                    Tok::Punct("(" | "[") => depth += 1,
                    Tok::Punct(")") if depth == 0 => break,
                    Tok::Punct(")" | "]") => depth -= 1,
                    Tok::Punct(",") if depth == 0 => break,
                    _ => {}
                }
                self.pos += 1;
            }
            if self.pos == first {
                return Err(format!("an empty argument in {func}()"));
            }
            args.push(self.arg(first, self.pos));
            if self.eat_punct(")") {
                return Ok((func, args));
            }
            self.expect_punct(",")?;
        }
    }

    /// The argument made of tokens `from..to`.
    fn arg(&self, from: usize, to: usize) -> Arg {
        let toks: Vec<&Tok> = self.toks[from..to].iter().map(|t| &t.0).collect();
        // A trailing `::type` cast on a literal is dropped.
        let base: &[&Tok] = match toks.iter().position(|t| **t == Tok::Punct("::")) {
            Some(k) if matches!(toks.get(k + 1), Some(Tok::Ident(_))) && k + 2 == toks.len() => {
                &toks[..k]
            }
            _ => &toks,
        };
        match base {
            [Tok::Str(s)] => Arg::Text(s.clone()),
            [Tok::Num(n)] => n.parse().map_or_else(|_| self.expr(from, to), Arg::Int),
            [Tok::Punct("-"), Tok::Num(n)] => format!("-{n}")
                .parse()
                .map_or_else(|_| self.expr(from, to), Arg::Int),
            [Tok::Ident(i)] if i == "true" => Arg::Bool(true),
            [Tok::Ident(i)] if i == "false" => Arg::Bool(false),
            [Tok::Ident(i)] if i == "null" => Arg::Null,
            _ => self.expr(from, to),
        }
    }

    fn expr(&self, from: usize, to: usize) -> Arg {
        Arg::Expr(self.sql[self.toks[from].1..self.toks[to - 1].2].to_owned())
    }
}

// ===========================================================================
// PostgreSQL text arrays (dblink_get_connections)

/// The elements of a one-dimensional text array literal (no NULLs).
fn parse_text_array(s: &str) -> Result<Vec<String>, String> {
    parse_text_array_nulls(s)?
        .into_iter()
        .map(|e| e.ok_or_else(|| format!("a NULL element in {s}")))
        .collect()
}

/// The elements of a one-dimensional text array literal; an unquoted NULL
/// is `None`.
fn parse_text_array_nulls(s: &str) -> Result<Vec<Option<String>>, String> {
    let inner = s
        .strip_prefix('{')
        .and_then(|s| s.strip_suffix('}'))
        .ok_or_else(|| format!("not an array literal: {s}"))?;
    let mut out = Vec::new();
    if inner.is_empty() {
        return Ok(out);
    }
    let mut chars = inner.chars().peekable();
    loop {
        let mut el = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('\\') => el.extend(chars.next()),
                    Some('"') => break,
                    Some(c) => el.push(c),
                    None => return Err(format!("unterminated element in {s}")),
                }
            }
            out.push(Some(el));
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                el.push(c);
                chars.next();
            }
            out.push((!el.eq_ignore_ascii_case("null")).then_some(el));
        }
        match chars.next() {
            None => return Ok(out),
            Some(',') => {}
            Some(c) => return Err(format!("unexpected {c:?} in {s}")),
        }
    }
}

/// A text array literal, quoting elements as PostgreSQL's array_out does.
fn format_text_array(items: &[String]) -> String {
    let quoted: Vec<String> = items
        .iter()
        .map(|e| {
            let needs = e.is_empty()
                || e.eq_ignore_ascii_case("null")
                || e.chars()
                    .any(|c| matches!(c, '{' | '}' | ',' | '"' | '\\') || c.is_ascii_whitespace());
            if needs {
                format!("\"{}\"", e.replace('\\', "\\\\").replace('"', "\\\""))
            } else {
                e.clone()
            }
        })
        .collect();
    format!("{{{}}}", quoted.join(","))
}

/// dblink_get_connections() in a comparable form: dblink lists the names in
/// its hash table's order, so both worlds' arrays are compared sorted.
fn sorted_array(v: Option<String>) -> Result<Option<String>, String> {
    v.map(|s| {
        let mut items = parse_text_array(&s)?;
        items.sort();
        Ok(format_text_array(&items))
    })
    .transpose()
}

// ===========================================================================
// Variables

/// The values `:name` / `:'name'` stand for, and which of them are masked
/// back to `:name` in outcomes (per-world values, and run-specific ones such
/// as ports and directories).
#[derive(Debug, Clone, Default)]
pub struct Vars {
    values: BTreeMap<String, String>,
    masked: Vec<String>,
}

impl Vars {
    /// The built-in variables for `server`.
    pub fn builtin(server: &Server) -> Vars {
        let mut v = Vars::default();
        let dead = server.dead_port_connstr();
        let dead_port = dead
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix("port="))
            .unwrap_or("1")
            .trim_matches('\'')
            .to_owned();
        v.set("dsn", &server.connstr(), true);
        v.set("tcp_dsn", &server.tcp_connstr(), true);
        v.set("dead_dsn", &dead, true);
        v.set("dead_port", &dead_port, true);
        v.set("port", &server.port().to_string(), true);
        if let Some(dir) = server.socket_dir() {
            v.set("socket_dir", &dir.to_string_lossy(), true);
        }
        v
    }

    /// Defines `:name`; `mask`: outcomes show `:name` instead of the value.
    pub fn set(&mut self, name: &str, value: &str, mask: bool) {
        self.values.insert(name.to_owned(), value.to_owned());
        self.masked.retain(|n| n != name);
        if mask {
            self.masked.push(name.to_owned());
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// `sql` with every defined `:name` replaced by its value and every
    /// `:'name'` by the value as a literal (also inside string literals;
    /// undefined names and `::` casts are left alone).
    pub fn interpolate(&self, sql: &str) -> String {
        interpolate_by(sql, |name| self.values.get(name).map(String::as_str))
    }

    /// `text` with every masked value replaced by `:name` (longest values
    /// first; a number only where no digit touches it).
    pub fn mask(&self, text: &str) -> String {
        let mut pairs: Vec<(&str, &str)> = self
            .masked
            .iter()
            .filter_map(|n| self.values.get(n).map(|v| (n.as_str(), v.as_str())))
            .filter(|(_, v)| !v.is_empty())
            .collect();
        pairs.sort_by_key(|(_, v)| std::cmp::Reverse(v.len()));
        let mut out = text.to_owned();
        for (name, value) in pairs {
            let numeric = value.bytes().all(|b| b.is_ascii_digit());
            out = if numeric {
                replace_number(&out, value, &format!(":{name}"))
            } else {
                out.replace(value, &format!(":{name}"))
            };
        }
        out
    }
}

/// `sql` with `:name` replaced by `value(name)` and `:'name'` by it as a
/// literal, wherever `value` knows the name (see [`Vars::interpolate`]).
pub fn interpolate_by<'v>(sql: &str, value: impl Fn(&str) -> Option<&'v str>) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(k) = rest.find(':') {
        out.push_str(&rest[..k]);
        let after = &rest[k + 1..];
        if let Some(a) = after.strip_prefix(':') {
            out.push_str("::");
            rest = a;
            continue;
        }
        let (quoted, body) = match after.strip_prefix('\'') {
            Some(b) => (true, b),
            None => (false, after),
        };
        let len = body
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(body.len());
        let closes = !quoted || body[len..].starts_with('\'');
        match value(&body[..len]) {
            Some(v) if len > 0 && closes => {
                if quoted {
                    out.push_str(&lit(v));
                    rest = &body[len + 1..];
                } else {
                    out.push_str(v);
                    rest = &body[len..];
                }
            }
            _ => {
                out.push(':');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn replace_number(text: &str, number: &str, with: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut from = 0;
    let mut at = 0;
    while let Some(k) = text[at..].find(number).map(|k| k + at) {
        let end = k + number.len();
        let touches =
            (k > 0 && b[k - 1].is_ascii_digit()) || b.get(end).is_some_and(u8::is_ascii_digit);
        if !touches {
            out.push_str(&text[from..k]);
            out.push_str(with);
            from = end;
        }
        at = end;
    }
    out.push_str(&text[from..]);
    out
}

// ===========================================================================
// The two worlds

/// Which side a [`World`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The real dblink, in an oracle session.
    Dblink,
    /// pgdblink, in this process.
    Pgdblink,
}

impl Side {
    fn tag(self) -> &'static str {
        match self {
            Side::Dblink => "o",
            Side::Pgdblink => "p",
        }
    }
}

static NEXT_UNIQUE: AtomicUsize = AtomicUsize::new(1);

/// One side of a differential test: its session(s), variables, the remote
/// backend pid of each connection it made, and what to clean up.
pub struct World {
    pub side: Side,
    /// The oracle world's dblink session; in the pgdblink world a plain
    /// session (pg_stat_activity probes, argument expressions).
    session: Oracle,
    pub vars: Vars,
    pids: HashMap<Option<String>, i32>,
    /// The connection names made in this world (pgdblink's registry is
    /// process-wide: they are disconnected at the end).
    connected: Vec<Option<String>>,
    tables: Vec<String>,
}

/// How long the waiting meta commands wait.
const WAIT: Duration = Duration::from_secs(20);
/// How long `\retry` retries.
const RETRY: Duration = Duration::from_secs(10);

impl World {
    pub fn new(side: Side, server: &Server) -> World {
        notices::install();
        World {
            side,
            session: server.oracle(),
            vars: Vars::builtin(server),
            pids: HashMap::new(),
            connected: Vec::new(),
            tables: Vec::new(),
        }
    }

    /// A per-world identifier for `:name` (masked in outcomes).
    pub fn define_unique(&mut self, name: &str) -> String {
        let value = format!(
            "{name}_{}{}_{}",
            self.side.tag(),
            std::process::id(),
            NEXT_UNIQUE.fetch_add(1, Ordering::Relaxed)
        );
        self.vars.set(name, &value, true);
        value
    }

    /// A per-world table `:name` in database postgres, with `columns` (e.g.
    /// `(x int, y text)`), dropped when the world is.
    pub fn define_table(&mut self, name: &str, columns: &str) {
        let table = self.define_unique(name);
        shared()
            .psql("postgres", &format!("create table {table} {columns}"))
            .unwrap_or_else(|e| panic!("create table {table}: {e}"));
        self.tables.push(table);
    }

    /// Defines `:var` as the remote backend pid of connection `conn` (masked).
    pub fn define_pid(&mut self, conn: Option<&str>, var: &str) {
        let pid = self.pid(conn);
        self.vars.set(var, &pid.to_string(), true);
    }

    /// The remote backend pid of connection `conn`, recorded when it connected.
    pub fn pid(&self, conn: Option<&str>) -> i32 {
        *self
            .pids
            .get(&conn.map(str::to_owned))
            .unwrap_or_else(|| panic!("no remote pid recorded for connection {conn:?}"))
    }

    /// Runs one statement (`;` optional) in this world.
    pub fn run(&mut self, statement: &str) -> Outcome {
        let sql = self
            .vars
            .interpolate(statement.trim().trim_end_matches(';'));
        let call = Call::parse(&sql).unwrap_or_else(|e| panic!("{e}\nin: {sql}"));
        self.call(&call, &sql)
    }

    /// Runs `call` (`sql`: its interpolated text, for the oracle).
    pub fn call(&mut self, call: &Call, sql: &str) -> Outcome {
        let out = match self.side {
            Side::Dblink => self.call_dblink(call, sql),
            Side::Pgdblink => self.call_pgdblink(call),
        };
        self.track(call, &out);
        out
    }

    /// The outcome with this world's masked values shown as `:name`.
    pub fn render(&self, out: &Outcome) -> String {
        self.vars.mask(&out.render())
    }

    fn call_dblink(&mut self, call: &Call, sql: &str) -> Outcome {
        let result = self.session.query(sql).map(|rows| match &call.shape {
            Shape::Scalar => {
                let v = match <[_; 1]>::try_from(rows) {
                    Ok([row]) => match <[_; 1]>::try_from(row) {
                        Ok([v]) => v,
                        Err(row) => panic!("a scalar call gave {} columns: {sql}", row.len()),
                    },
                    Err(rows) => panic!("a scalar call gave {} rows: {sql}", rows.len()),
                };
                if call.func == "dblink_get_connections" {
                    Value::Scalar(sorted_array(v).unwrap_or_else(|e| panic!("{e}")))
                } else {
                    Value::Scalar(v)
                }
            }
            Shape::Set { .. } => Value::Rows(rows),
        });
        Outcome {
            notices: self.session.take_notices(),
            result,
        }
    }

    /// Evaluates the arguments: `None` for NULL (and for an expression that
    /// gives NULL).
    fn eval(&mut self, args: &[Arg]) -> Vec<Option<String>> {
        args.iter()
            .map(|a| match a {
                Arg::Text(s) => Some(s.clone()),
                Arg::Int(n) => Some(n.to_string()),
                Arg::Bool(b) => Some(b.to_string()),
                Arg::Null => None,
                Arg::Expr(e) => self
                    .session
                    .value(&format!("select ({e})::text"))
                    .unwrap_or_else(|r| panic!("evaluating argument {e}: {r}")),
            })
            .collect()
    }

    fn call_pgdblink(&mut self, call: &Call) -> Outcome {
        let values = self.eval(&call.args);
        pgdblink_outcome(call, values)
    }

    /// Keeps the bookkeeping of connects and disconnects: the remote pid of
    /// each new connection, and the names to close at the end.
    fn track(&mut self, call: &Call, out: &Outcome) {
        let ok = matches!(&out.result, Ok(Value::Scalar(Some(v))) if v == "OK");
        if !ok {
            return;
        }
        let name = |s: &mut World, n: usize| -> Option<Option<String>> {
            match call.args.len() {
                x if x == n => Some(None),
                x if x == n + 1 => s.eval(&call.args[..1]).pop(),
                _ => None,
            }
        };
        match call.func.as_str() {
            "dblink_connect" | "dblink_connect_u" => {
                let Some(conn) = name(self, 1) else { return };
                let pid = self.remote_pid(conn.as_deref());
                self.pids.insert(conn.clone(), pid);
                if !self.connected.contains(&conn) {
                    self.connected.push(conn);
                }
            }
            "dblink_disconnect" => {
                if let Some(conn) = name(self, 0) {
                    self.pids.remove(&conn);
                }
            }
            _ => {}
        }
    }

    fn remote_pid(&mut self, conn: Option<&str>) -> i32 {
        let text = match self.side {
            Side::Dblink => {
                let target = conn.map(|c| format!("{}, ", lit(c))).unwrap_or_default();
                self.session
                    .value(&format!(
                        "select * from dblink({target}'select pg_backend_pid()') as t(p int)"
                    ))
                    .unwrap_or_else(|r| panic!("dblink: the remote pid of {conn:?}: {r}"))
            }
            Side::Pgdblink => pg::dblink(conn, "select pg_backend_pid()", true)
                .unwrap_or_else(|e| panic!("pgdblink: the remote pid of {conn:?}: {e}"))
                .get(0, 0)
                .map(str::to_owned),
        };
        text.and_then(|t| t.parse().ok())
            .unwrap_or_else(|| panic!("no remote pid for {conn:?}"))
    }

    // -- meta commands -------------------------------------------------------

    fn backend_state(&mut self, pid: i32) -> Option<String> {
        self.session
            .query(&format!(
                "select state from pg_stat_activity where pid = {pid}"
            ))
            .unwrap_or_else(|r| panic!("pg_stat_activity: {r}"))
            .into_iter()
            .next()
            .and_then(|row| row.into_iter().next().flatten())
    }

    /// `\state`: the state of `conn`'s remote backend.
    pub fn state(&mut self, conn: Option<&str>) -> Outcome {
        let pid = self.pid(conn);
        Outcome::value(Value::Scalar(self.backend_state(pid)))
    }

    /// `\wait_idle`: waits until `conn`'s backend is not active; its state.
    pub fn wait_idle(&mut self, conn: Option<&str>) -> Outcome {
        let pid = self.pid(conn);
        let start = Instant::now();
        loop {
            let state = self.backend_state(pid);
            if state.as_deref() != Some("active") || start.elapsed() > WAIT {
                return Outcome::value(Value::Scalar(state));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// `\wait_active`: waits until `conn`'s backend is active (panics after
    /// the wait bound).
    pub fn wait_active(&mut self, conn: Option<&str>) {
        let pid = self.pid(conn);
        let start = Instant::now();
        while self.backend_state(pid).as_deref() != Some("active") {
            assert!(
                start.elapsed() < WAIT,
                "{:?}: the backend of {conn:?} did not become active",
                self.side
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// `\wait_not_busy`: polls dblink_is_busy(conn) until 0.
    pub fn wait_not_busy(&mut self, conn: &str) {
        let start = Instant::now();
        loop {
            let busy = match self.side {
                Side::Dblink => {
                    self.session
                        .value(&format!("select dblink_is_busy({})", lit(conn)))
                        .unwrap_or_else(|r| panic!("dblink_is_busy: {r}"))
                        .as_deref()
                        == Some("1")
                }
                Side::Pgdblink => {
                    pg::is_busy(Some(conn)).unwrap_or_else(|e| panic!("is_busy: {e}"))
                }
            };
            if !busy {
                return;
            }
            assert!(start.elapsed() < WAIT, "{conn} stayed busy");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// `\terminate`: pg_terminate_backend of `conn`'s backend (waiting for it).
    pub fn terminate(&mut self, conn: Option<&str>) -> Outcome {
        let pid = self.pid(conn);
        let v = self
            .session
            .value(&format!("select pg_terminate_backend({pid}, 20000)::text"))
            .unwrap_or_else(|r| panic!("pg_terminate_backend: {r}"));
        Outcome::value(Value::Scalar(v))
    }

    /// `\retry`: runs `statement` until it returns at least one row.
    pub fn retry(&mut self, statement: &str) -> Outcome {
        let start = Instant::now();
        loop {
            let out = self.run(statement);
            let got = matches!(&out.result, Ok(Value::Rows(r)) if !r.is_empty());
            if got || start.elapsed() > RETRY {
                return out;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for World {
    fn drop(&mut self) {
        if self.side == Side::Pgdblink {
            for conn in std::mem::take(&mut self.connected) {
                let _ = pg::disconnect(conn.as_deref());
            }
            notices::take();
        }
        // The oracle's dblink connections close with its session.
        for t in &self.tables {
            let _ = shared().psql("postgres", &format!("drop table if exists {t}"));
        }
    }
}

/// The pgdblink world's outcome of `call` with its evaluated arguments
/// (`None`: NULL), NOTICEs included: the call itself, which needs no
/// [`World`] (so it can run in a thread of its own, see [`World::run_via`]).
fn pgdblink_outcome(call: &Call, values: Vec<Option<String>>) -> Outcome {
    notices::take();
    let result = if values.iter().any(Option::is_none) {
        // dblink's functions are STRICT: a NULL argument, no call.
        Ok(match call.shape {
            Shape::Scalar => Value::Scalar(None),
            Shape::Set { .. } => Value::Rows(Vec::new()),
        })
    } else {
        let v: Vec<String> = values.into_iter().flatten().collect();
        dispatch(call, &v).map_err(|e| report_of_error("ERROR", &e))
    };
    let notices = notices::take()
        .iter()
        .map(|(_, e)| report_of_error("NOTICE", e))
        .collect();
    let result = result.map(|v| match (v, &call.shape) {
        (Value::Rows(rows), Shape::Set { columns, select }) => {
            Value::Rows(project(rows, columns, select.as_deref()))
        }
        (v, _) => v,
    });
    Outcome { notices, result }
}

/// Rows projected from `columns` to `select`.
fn project(rows: Rows, columns: &[String], select: Option<&[String]>) -> Rows {
    let Some(select) = select else { return rows };
    let idx: Vec<usize> = select
        .iter()
        .filter_map(|s| columns.iter().position(|c| c == s))
        .collect();
    rows.into_iter()
        .map(|row| idx.iter().map(|&i| row.get(i).cloned().flatten()).collect())
        .collect()
}

fn flag(b: bool) -> String {
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

/// Maps a call to pgdblink, resolving dblink's overloads by the arguments'
/// types (a `true`/`false` literal is the fail_on_error flag).
fn dispatch(call: &Call, v: &[String]) -> pg::Result<Value> {
    let a = &call.args;
    let n = a.len();
    let last_bool = a.last().is_some_and(Arg::is_bool);
    let s = |x: &str| Ok(Value::Scalar(Some(x.to_owned())));
    let set = |r: pg::Result<pg::DblinkResult>| r.map(|r| Value::Rows(r.rows()));
    let sig = || format!("{}({n} arguments)", call.func);
    match (call.func.as_str(), n) {
        ("dblink_connect" | "dblink_connect_u", 1 | 2) => {
            let (name, connstr) = if n == 1 {
                (None, v[0].as_str())
            } else {
                (Some(v[0].as_str()), v[1].as_str())
            };
            if call.func == "dblink_connect" {
                pg::connect(name, connstr)?;
            } else {
                pg::connect_u(name, connstr)?;
            }
            s("OK")
        }
        ("dblink_disconnect", 0 | 1) => {
            pg::disconnect(v.first().map(String::as_str))?;
            s("OK")
        }
        ("dblink" | "dblink_exec", 1..=3) => {
            let (target, sql, fail) = match (n, last_bool) {
                (1, _) => (None, &v[0], true),
                (2, true) => (None, &v[0], bool_arg(&v[1])),
                (2, false) => (Some(v[0].as_str()), &v[1], true),
                _ => (Some(v[0].as_str()), &v[1], bool_arg(&v[2])),
            };
            if call.func == "dblink" {
                set(pg::dblink(target, sql, fail))
            } else {
                pg::exec(target, sql, fail).map(|t| Value::Scalar(Some(t)))
            }
        }
        ("dblink_open", 2..=4) => {
            let (conn, cur, sql, fail) = match (n, last_bool) {
                (2, _) => (None, &v[0], &v[1], true),
                (3, true) => (None, &v[0], &v[1], bool_arg(&v[2])),
                (3, false) => (Some(v[0].as_str()), &v[1], &v[2], true),
                _ => (Some(v[0].as_str()), &v[1], &v[2], bool_arg(&v[3])),
            };
            pg::open(conn, cur, sql, fail).map(|t| Value::Scalar(Some(t)))
        }
        ("dblink_fetch", 2..=4) => {
            let (conn, cur, count, fail) = match (n, last_bool) {
                (2, _) => (None, &v[0], &v[1], true),
                (3, true) => (None, &v[0], &v[1], bool_arg(&v[2])),
                (3, false) => (Some(v[0].as_str()), &v[1], &v[2], true),
                _ => (Some(v[0].as_str()), &v[1], &v[2], bool_arg(&v[3])),
            };
            set(pg::fetch(conn, cur, int_arg(count)?, fail))
        }
        ("dblink_close", 1..=3) => {
            let (conn, cur, fail) = match (n, last_bool) {
                (1, _) => (None, &v[0], true),
                (2, true) => (None, &v[0], bool_arg(&v[1])),
                (2, false) => (Some(v[0].as_str()), &v[1], true),
                _ => (Some(v[0].as_str()), &v[1], bool_arg(&v[2])),
            };
            pg::close(conn, cur, fail).map(|t| Value::Scalar(Some(t)))
        }
        ("dblink_send_query", 2) => {
            pg::send_query(Some(&v[0]), &v[1]).map(|b| Value::Scalar(Some(flag(b))))
        }
        ("dblink_is_busy", 1) => pg::is_busy(Some(&v[0])).map(|b| Value::Scalar(Some(flag(b)))),
        ("dblink_get_result", 1 | 2) => {
            let fail = v.get(1).is_none_or(|f| bool_arg(f));
            set(pg::get_result(Some(&v[0]), fail))
        }
        ("dblink_cancel_query", 1) => pg::cancel_query(Some(&v[0])).map(|t| Value::Scalar(Some(t))),
        ("dblink_error_message", 1) => {
            pg::error_message(Some(&v[0])).map(|t| Value::Scalar(Some(t)))
        }
        ("dblink_get_notify", 0 | 1) => {
            pg::get_notify(v.first().map(String::as_str)).map(|notes| {
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
            })
        }
        ("dblink_get_connections", 0) => {
            Ok(Value::Scalar(pg::get_connections().map(|mut names| {
                names.sort();
                format_text_array(&names)
            })))
        }
        ("dblink_get_pkey", 1) => on_local_database(|local| {
            let r = pg::get_pkey(Some(local), &v[0])?;
            assert_eq!(r.columns(), ["position", "colname"], "get_pkey's columns");
            Ok(Value::Rows(r.rows()))
        }),
        ("dblink_build_sql_insert" | "dblink_build_sql_update", 5) => {
            let pk = pkattnums(&v[1], &v[2])?;
            let (src, tgt) = (text_array_arg(&v[3])?, text_array_arg(&v[4])?);
            let (src, tgt) = (opt_strs(&src), opt_strs(&tgt));
            on_local_database(|local| {
                let built = if call.func == "dblink_build_sql_insert" {
                    pg::build_sql_insert(Some(local), &v[0], &pk, &src, &tgt)
                } else {
                    pg::build_sql_update(Some(local), &v[0], &pk, &src, &tgt)
                };
                built.map(|t| Value::Scalar(Some(t)))
            })
        }
        ("dblink_build_sql_delete", 4) => {
            let pk = pkattnums(&v[1], &v[2])?;
            let tgt = text_array_arg(&v[3])?;
            on_local_database(|local| {
                pg::build_sql_delete(Some(local), &v[0], &pk, &opt_strs(&tgt))
                    .map(|t| Value::Scalar(Some(t)))
            })
        }
        _ => panic!("the scenario language does not know {}", sig()),
    }
}

// ===========================================================================
// dblink's local database (dblink_get_pkey, dblink_build_sql_*)

/// Runs `f` on a pgdblink connection to what dblink's build functions call
/// the local database: the oracle world's database (`oracle` of the shared
/// server), so both worlds read the same catalog. The connection is open
/// for this call only, so it never shows in dblink_get_connections.
fn on_local_database<T>(f: impl FnOnce(&str) -> pg::Result<T>) -> pg::Result<T> {
    let local = format!(
        "scenario_local_{}_{}",
        std::process::id(),
        NEXT_UNIQUE.fetch_add(1, Ordering::Relaxed)
    );
    pg::connect(Some(&local), &shared().connstr_db("oracle"))?;
    let out = f(&local);
    pg::disconnect(Some(&local))?;
    out
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

fn opt_strs(v: &[Option<String>]) -> Vec<Option<&str>> {
    v.iter().map(Option::as_deref).collect()
}

// ===========================================================================
// Pair: the Rust tests' way to run calls in both worlds

/// Both worlds, for Rust tests that run calls step by step (threads, faults,
/// process-wide state): [`Pair::step`] runs a statement in the oracle world,
/// then in the pgdblink world, and asserts that their rendered outcomes are
/// equal. Names are the test's own (`unique_name`): the tests of a binary
/// run in parallel and pgdblink's registry is process-wide.
pub struct Pair {
    pub theirs: World,
    pub mine: World,
}

impl Default for Pair {
    fn default() -> Self {
        Pair::new()
    }
}

impl Pair {
    pub fn new() -> Pair {
        Pair::on(shared())
    }

    pub fn on(server: &Server) -> Pair {
        Pair {
            theirs: World::new(Side::Dblink, server),
            mine: World::new(Side::Pgdblink, server),
        }
    }

    /// Defines `:name` as `value` in both worlds (not masked).
    pub fn set(&mut self, name: &str, value: &str) {
        self.theirs.vars.set(name, value, false);
        self.mine.vars.set(name, value, false);
    }

    /// Runs `statement` in both worlds; panics if the outcomes differ.
    /// Returns the (common) outcome, as the oracle gave it.
    #[track_caller]
    pub fn step(&mut self, statement: &str) -> Outcome {
        let (theirs, mine) = self.both(statement);
        let (t, m) = (self.theirs.render(&theirs), self.mine.render(&mine));
        assert_eq!(
            t, m,
            "pgdblink differs from dblink in: {statement}\n--- dblink\n{t}--- pgdblink\n{m}"
        );
        theirs
    }

    /// Runs `statement` in both worlds and returns both outcomes.
    pub fn both(&mut self, statement: &str) -> (Outcome, Outcome) {
        (self.theirs.run(statement), self.mine.run(statement))
    }

    /// A per-world identifier `:name` (a LISTEN channel, say).
    pub fn unique(&mut self, name: &str) {
        self.theirs.define_unique(name);
        self.mine.define_unique(name);
    }

    /// The oracle's server_version_num.
    pub fn oracle_version(&mut self) -> i32 {
        self.theirs.server_version()
    }
}

impl World {
    /// The server_version_num of this world's session's server.
    pub fn server_version(&mut self) -> i32 {
        self.session
            .value("show server_version_num")
            .ok()
            .flatten()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("server_version_num"))
    }
}

// ===========================================================================
// Calls run elsewhere (the fault tests bound them in time)

/// A pgdblink call ready to run, on any thread.
pub type PgdblinkCall = Box<dyn FnOnce() -> Outcome + Send>;

impl World {
    /// Like [`run`](Self::run), but in the pgdblink world the pgdblink call
    /// itself is handed to `exec`, which runs it and returns its outcome
    /// (e.g. in a thread of its own, failing the test if it hangs; its
    /// NOTICEs are the outcome's whatever thread runs it). The arguments
    /// are evaluated, and connects recorded, here. In the oracle world
    /// `exec` is not used.
    pub fn run_via(
        &mut self,
        statement: &str,
        exec: impl FnOnce(PgdblinkCall) -> Outcome,
    ) -> Outcome {
        if self.side == Side::Dblink {
            return self.run(statement);
        }
        let sql = self
            .vars
            .interpolate(statement.trim().trim_end_matches(';'));
        let call = Call::parse(&sql).unwrap_or_else(|e| panic!("{e}\nin: {sql}"));
        let values = self.eval(&call.args);
        let out = exec(Box::new({
            let call = call.clone();
            move || pgdblink_outcome(&call, values)
        }));
        self.track(&call, &out);
        out
    }
}

impl Pair {
    /// Like [`step`](Self::step), with pgdblink's call run by `exec` (see
    /// [`World::run_via`]).
    #[track_caller]
    pub fn step_via(
        &mut self,
        statement: &str,
        exec: impl FnOnce(PgdblinkCall) -> Outcome,
    ) -> Outcome {
        let theirs = self.theirs.run(statement);
        let mine = self.mine.run_via(statement, exec);
        self.assert_same(statement, &theirs, &mine);
        theirs
    }

    /// Panics unless the two worlds' outcomes of `statement`, each run on
    /// its own (e.g. in threads), render the same.
    #[track_caller]
    pub fn assert_same(&self, statement: &str, theirs: &Outcome, mine: &Outcome) {
        let (t, m) = (self.theirs.render(theirs), self.mine.render(mine));
        assert_eq!(
            t, m,
            "pgdblink differs from dblink in: {statement}\n--- dblink\n{t}--- pgdblink\n{m}"
        );
    }
}
