//! The differential core: one dblink call, written in dblink's own SQL call
//! syntax, run through the real dblink (verbatim, in an oracle session) and
//! through pgdblink (a small parser maps it to the Rust call, or to the C
//! ABI's), with every outcome in one comparable form.
//!
//! Two users: the scenario runner (`tests/scenarios.rs`, scenario files in
//! `tests/scenarios/`, the language in CONTRIBUTING.md "Adding a
//! scenario"), and the Rust tests that need threads, faults or process-wide
//! state ([`Pair`]: the same calls, step by step, in the oracle and the
//! Rust worlds).
//!
//! A [`World`] is one [`Side`]: the oracle world sends each statement to its
//! session on database `oracle`; the pgdblink world parses it ([`Call`]) and
//! calls pgdblink's Rust API ([`dispatch`]); the C world parses it the same
//! way and calls the C ABI, `pgdblink::ffi` ([`dispatch_c`]: the same
//! overload resolution, the header's encodings decoded, NOTICEs through a C
//! callback). The library worlds evaluate any argument that is not a
//! literal in a plain session. Each world has its own per-world values
//! (LISTEN channels, tables, backend pids: [`World::define_unique`]), and
//! every outcome is rendered with those values masked back to their
//! `:name`, so the worlds' transcripts compare verbatim.
#![allow(dead_code)]
// An outcome is a `Result<Value, Report>` (as [`Outcome`] holds it), the C
// world's functions return one.
#![allow(clippy::result_large_err)]

use std::collections::{BTreeMap, HashMap};
use std::ffi::{CStr, CString};
use std::fmt::Write as _;
use std::os::raw::{c_char, c_int};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pgdblink as pg;
use pgdblink::ffi;

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
            let arg = self.arg(first, self.pos);
            Parser::check_expr(&arg)?;
            args.push(arg);
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

    /// An argument expression may not call dblink: it would run in the real
    /// dblink in both worlds (pgdblink's arguments are evaluated in a plain
    /// session).
    fn check_expr(arg: &Arg) -> Result<(), String> {
        match arg {
            Arg::Expr(e) if e.to_ascii_lowercase().contains("dblink") => {
                Err(format!("an argument expression may not call dblink: {e}"))
            }
            _ => Ok(()),
        }
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
    /// pgdblink's Rust API, in this process.
    Pgdblink,
    /// pgdblink's C ABI (`pgdblink::ffi`, [`dispatch_c`]), in this process.
    /// Its world records NOTICEs through a C notice callback, which
    /// replaces the process-wide notice handler while the world lives
    /// (`notices::install_c`, undone when it is dropped): only for a binary
    /// that runs one world at a time (the scenario runner), never beside
    /// other tests' worlds ([`Pair`] does not use it).
    C,
}

impl Side {
    fn tag(self) -> &'static str {
        match self {
            Side::Dblink => "o",
            Side::Pgdblink => "p",
            Side::C => "c",
        }
    }
}

static NEXT_UNIQUE: AtomicUsize = AtomicUsize::new(1);

/// One side of a differential test: its session(s), variables, the remote
/// backend pid of each connection it made, and what to clean up.
pub struct World {
    pub side: Side,
    /// The oracle world's dblink session; in the library worlds (Rust, C) a
    /// plain session (pg_stat_activity probes, argument expressions).
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
        if side == Side::C {
            notices::install_c();
        }
        let mut session = server.oracle();
        // No step may hang the tests: the oracle's calls are bounded too.
        session
            .query("set statement_timeout = '120s'")
            .unwrap_or_else(|r| panic!("statement_timeout: {r}"));
        World {
            side,
            session,
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
            Side::Pgdblink | Side::C => self.call_library(call),
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

    fn call_library(&mut self, call: &Call) -> Outcome {
        let values = self.eval(&call.args);
        library_outcome(self.side, call, values)
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
            Side::C => {
                let query = Resolved::Query {
                    exec: false,
                    target: conn,
                    sql: "select pg_backend_pid()",
                    fail: true,
                };
                match run_c("dblink", query) {
                    Ok(Value::Rows(rows)) => rows
                        .into_iter()
                        .next()
                        .and_then(|r| r.into_iter().next().flatten()),
                    other => panic!("pgdblink (C): the remote pid of {conn:?}: {other:?}"),
                }
            }
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
                Side::C => match run_c("dblink_is_busy", Resolved::IsBusy(conn)) {
                    Ok(Value::Scalar(Some(v))) => v == "1",
                    other => panic!("dblink_is_busy (C): {other:?}"),
                },
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
        if self.side != Side::Dblink {
            for conn in std::mem::take(&mut self.connected) {
                let _ = pg::disconnect(conn.as_deref());
            }
            notices::take();
        }
        if self.side == Side::C {
            notices::reinstall();
        }
        // The oracle's dblink connections close with its session.
        for t in &self.tables {
            let _ = shared().psql("postgres", &format!("drop table if exists {t}"));
        }
    }
}

/// The outcome of `call` with its evaluated arguments (`None`: NULL) in a
/// library world (`side`: Pgdblink, the Rust API; C, the C ABI), NOTICEs
/// included: the call itself, which needs no [`World`] (so it can run in a
/// thread of its own, see [`World::run_via`]).
fn library_outcome(side: Side, call: &Call, values: Vec<Option<String>>) -> Outcome {
    notices::take();
    let result = if values.iter().any(Option::is_none) {
        // dblink's functions are STRICT: a NULL argument, no call.
        Ok(match call.shape {
            Shape::Scalar => Value::Scalar(None),
            Shape::Set { .. } => Value::Rows(Vec::new()),
        })
    } else {
        let v: Vec<String> = values.into_iter().flatten().collect();
        match side {
            Side::C => dispatch_c(call, &v),
            Side::Pgdblink | Side::Dblink => {
                dispatch(call, &v).map_err(|e| report_of_error("ERROR", &e))
            }
        }
    };
    let notices = notices::take()
        .iter()
        .map(|(_, e)| report_of_error("NOTICE", e))
        .collect();
    let result = result.map(|v| match (v, &call.shape) {
        (Value::Rows(rows), Shape::Set { columns, select }) => {
            Value::Rows(project(rows, columns, select.as_deref()).unwrap_or_else(|e| panic!("{e}")))
        }
        (v, _) => v,
    });
    Outcome { notices, result }
}

/// Rows projected from `columns` to `select`.
fn project(rows: Rows, columns: &[String], select: Option<&[String]>) -> Result<Rows, String> {
    if let Some(row) = rows.iter().find(|r| r.len() != columns.len()) {
        return Err(format!(
            "pgdblink returned {} columns where the column definition list names {} \
             ({columns:?}): make them match (dblink would raise 42804 here)",
            row.len(),
            columns.len()
        ));
    }
    let Some(select) = select else {
        return Ok(rows);
    };
    let idx: Vec<usize> = select
        .iter()
        .filter_map(|s| columns.iter().position(|c| c == s))
        .collect();
    Ok(rows
        .into_iter()
        .map(|row| idx.iter().map(|&i| row.get(i).cloned().flatten()).collect())
        .collect())
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

/// One call with dblink's overload resolved and its arguments converted:
/// what both library worlds run ([`dispatch`], [`dispatch_c`]), so they
/// resolve overloads the same way.
#[derive(Debug)]
enum Resolved<'a> {
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
fn resolve<'a>(call: &Call, v: &'a [String]) -> pg::Result<Resolved<'a>> {
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

/// Maps a call to pgdblink's Rust API.
fn dispatch(call: &Call, v: &[String]) -> pg::Result<Value> {
    run_rust(resolve(call, v)?)
}

fn run_rust(r: Resolved<'_>) -> pg::Result<Value> {
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

// ===========================================================================
// The C world: the same calls through the C ABI (`pgdblink::ffi`)

/// Maps a call to pgdblink's C ABI (the functions of `include/pgdblink.h`,
/// called from Rust), decoding what it returns as a C caller would: 1 for
/// 'OK' and 1/0 for dblink's 1/0, a `char *` for text (freed with
/// `dblink_free`), a `dblink_result *` for rows (read with
/// `dblink_result_ntuples` / `_nfields` / `_getisnull` / `_getvalue`, freed
/// with `dblink_result_free`), and on -1 or NULL the thread's last error
/// (`dblink_last()`). A NULL the call records no error for is dblink's
/// NULL. The overloads resolve as in [`dispatch`] ([`resolve`]); the C
/// layer must only convert and delegate, so the outcome must be the Rust
/// API's.
///
/// The checks of the C encoding that have no place in a transcript (a
/// success leaves no last error, `dblink_last()` agrees with the
/// `dblink_last_*` readers, a result's status agrees with its error and
/// shape) panic, naming the function.
pub fn dispatch_c(call: &Call, v: &[String]) -> Result<Value, Report> {
    let r = resolve(call, v).map_err(|e| report_of_error("ERROR", &e))?;
    run_c(&call.func, r)
}

/// A C string argument (scenario values come from SQL text, which holds no
/// NUL byte).
fn cstring(s: &str) -> CString {
    CString::new(s).unwrap_or_else(|_| panic!("a NUL byte in a C argument: {s:?}"))
}

fn opt_cstring(s: Option<&str>) -> Option<CString> {
    s.map(cstring)
}

fn cptr(s: &Option<CString>) -> *const c_char {
    s.as_ref().map_or(std::ptr::null(), |s| s.as_ptr())
}

/// A C string the C API returned or lent, copied; `None` for NULL.
///
/// # Safety
/// `p` is NULL or a NUL-terminated string valid during the call.
unsafe fn copied(p: *const c_char) -> Option<String> {
    // SAFETY: our caller's promise, passed on.
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
}

/// The thread's last error as `dblink_last()` gives it (`None`: the last
/// call that can fail succeeded), checked against the `dblink_last_*`
/// readers.
fn c_last_error(func: &str) -> Option<Report> {
    let e = ffi::dblink_last();
    // SAFETY: a non-NULL dblink_last() points to the thread's last error,
    // valid until the thread's next call that can fail (none is made here);
    // its strings are NULL or NUL-terminated.
    let report = unsafe { e.as_ref() }.map(|e| unsafe {
        Report {
            severity: "ERROR".to_owned(),
            sqlstate: copied(e.sqlstate).unwrap_or_default(),
            message: copied(e.message).unwrap_or_default(),
            detail: copied(e.detail),
            hint: copied(e.hint),
            context: copied(e.context),
        }
    });
    // SAFETY: the readers return NULL or a NUL-terminated string of the
    // thread's last error, valid as above.
    let readers = unsafe {
        (
            copied(ffi::dblink_last_sqlstate()),
            copied(ffi::dblink_last_error()),
            copied(ffi::dblink_last_detail()),
            copied(ffi::dblink_last_hint()),
            copied(ffi::dblink_last_context()),
        )
    };
    let from_struct = report.as_ref().map_or((None, None, None, None, None), |r| {
        (
            Some(r.sqlstate.clone()),
            Some(r.message.clone()),
            r.detail.clone(),
            r.hint.clone(),
            r.context.clone(),
        )
    });
    assert_eq!(
        from_struct, readers,
        "C {func}: dblink_last() and the dblink_last_* readers disagree"
    );
    report
}

/// After a C call that succeeded: its value, checking that it cleared the
/// thread's last error.
fn c_ok(func: &str, v: Value) -> Result<Value, Report> {
    if let Some(e) = c_last_error(func) {
        panic!("C {func} succeeded, but dblink_last() still holds an error: {e:?}");
    }
    Ok(v)
}

/// A C call's NULL: its ERROR, or dblink's NULL when it recorded none.
fn c_null(func: &str) -> Result<Value, Report> {
    match c_last_error(func) {
        Some(e) => Err(e),
        None => Ok(Value::Scalar(None)),
    }
}

/// An `int` outcome: -1 is the ERROR, else `value(n)` (a -1 that
/// records no error shows as the value '-1').
fn c_int(func: &str, n: c_int, value: impl FnOnce(c_int) -> String) -> Result<Value, Report> {
    if n == -1 {
        if let Some(e) = c_last_error(func) {
            return Err(e);
        }
        return Ok(Value::Scalar(Some(n.to_string())));
    }
    c_ok(func, Value::Scalar(Some(value(n))))
}

/// 'OK' for dblink's 1 (any other int shows as itself).
fn c_ok_int(func: &str, n: c_int) -> Result<Value, Report> {
    c_int(
        func,
        n,
        |n| if n == 1 { "OK".into() } else { n.to_string() },
    )
}

/// A `char *` outcome (freed here).
fn c_text(func: &str, p: *mut c_char) -> Result<Value, Report> {
    if p.is_null() {
        return c_null(func);
    }
    // SAFETY: a non-NULL text a C function returned is a NUL-terminated
    // string the caller owns until dblink_free, which follows.
    let text = unsafe { copied(p) };
    // SAFETY: `p` came from pgdblink and is freed once, here.
    unsafe { ffi::dblink_free(p) };
    c_ok(func, Value::Scalar(text))
}

/// A `dblink_result *` outcome as its rows (freed here); `columns`: the
/// column names the function documents, checked.
fn c_rows(func: &str, r: *mut pg::DblinkResult, columns: Option<&[&str]>) -> Result<Value, Report> {
    if r.is_null() {
        return c_null(func);
    }
    let rows = {
        // SAFETY: `r` is a result a C function returned, not yet freed (it
        // is freed after this block); the same for every accessor call here.
        let (status, nt, nf, err, state) = unsafe {
            (
                ffi::dblink_result_status(r),
                ffi::dblink_result_ntuples(r),
                ffi::dblink_result_nfields(r),
                copied(ffi::dblink_result_error_message(r)),
                copied(ffi::dblink_result_sqlstate(r)),
            )
        };
        assert!(
            nt >= 0 && nf >= 0,
            "C {func}: a result of {nt} rows and {nf} columns"
        );
        let is_error = status == pg::Status::Error;
        assert_eq!(
            (is_error, is_error),
            (err.is_some(), state.is_some()),
            "C {func}: a {status:?} result with the error {state:?} {err:?}"
        );
        match status {
            pg::Status::Done => assert_eq!((nt, nf), (0, 0), "C {func}: a Done result's shape"),
            pg::Status::Command => {
                assert_eq!((nt, nf), (1, 1), "C {func}: a Command result's shape");
                // SAFETY: as above.
                let name = unsafe { copied(ffi::dblink_result_fname(r, 0)) };
                assert_eq!(
                    name.as_deref(),
                    Some("status"),
                    "C {func}: a Command result's column"
                );
            }
            _ => {}
        }
        if let Some(want) = columns {
            // SAFETY: as above.
            let got: Vec<Option<String>> = (0..nf)
                .map(|c| unsafe { copied(ffi::dblink_result_fname(r, c)) })
                .collect();
            let want: Vec<Option<String>> = want.iter().map(|c| Some((*c).to_owned())).collect();
            assert_eq!(got, want, "C {func}: the result's columns");
        }
        (0..nt)
            .map(|row| {
                (0..nf)
                    .map(|col| {
                        // SAFETY: as above; the cell's text is valid until
                        // the result is freed, and copied before.
                        let (isnull, v) = unsafe {
                            (
                                ffi::dblink_result_getisnull(r, row, col),
                                copied(ffi::dblink_result_getvalue(r, row, col)),
                            )
                        };
                        match isnull {
                            1 => {
                                assert!(v.is_none(), "C {func}: a NULL cell with a value");
                                None
                            }
                            0 => Some(v.unwrap_or_else(|| {
                                panic!("C {func}: getvalue NULL for a cell that is not NULL")
                            })),
                            n => panic!("C {func}: getisnull({row}, {col}) = {n} in range"),
                        }
                    })
                    .collect()
            })
            .collect()
    };
    // SAFETY: `r` came from pgdblink and is freed once, here.
    unsafe { ffi::dblink_result_free(r) };
    c_ok(func, Value::Rows(rows))
}

fn run_c(func: &str, r: Resolved<'_>) -> Result<Value, Report> {
    let f = func;
    let fail_int = |b: bool| c_int::from(b);
    let flag_int = |n: c_int| match n {
        0 | 1 => flag(n == 1),
        n => n.to_string(),
    };
    match r {
        Resolved::Connect { u, name, connstr } => {
            let (name, connstr) = (opt_cstring(name), cstring(connstr));
            // SAFETY: NULL or NUL-terminated strings, alive during the call.
            let n = unsafe {
                if u {
                    ffi::dblink_connect_u(cptr(&name), connstr.as_ptr())
                } else {
                    ffi::dblink_connect(cptr(&name), connstr.as_ptr())
                }
            };
            c_ok_int(f, n)
        }
        Resolved::Disconnect(name) => {
            let name = opt_cstring(name);
            // SAFETY: NULL or a NUL-terminated string, alive during the call.
            c_ok_int(f, unsafe { ffi::dblink_disconnect(cptr(&name)) })
        }
        Resolved::Query {
            exec,
            target,
            sql,
            fail,
        } => {
            let (target, sql) = (opt_cstring(target), cstring(sql));
            if exec {
                // SAFETY: NULL or NUL-terminated strings, alive during the call.
                let p = unsafe { ffi::dblink_exec(cptr(&target), sql.as_ptr(), fail_int(fail)) };
                c_text(f, p)
            } else {
                // SAFETY: as above.
                let r = unsafe { ffi::dblink(cptr(&target), sql.as_ptr(), fail_int(fail)) };
                c_rows(f, r, None)
            }
        }
        Resolved::Open {
            conn,
            cursor,
            sql,
            fail,
        } => {
            let (conn, cursor, sql) = (opt_cstring(conn), cstring(cursor), cstring(sql));
            // SAFETY: NULL or NUL-terminated strings, alive during the call.
            let p = unsafe {
                ffi::dblink_open(cptr(&conn), cursor.as_ptr(), sql.as_ptr(), fail_int(fail))
            };
            c_text(f, p)
        }
        Resolved::Fetch {
            conn,
            cursor,
            count,
            fail,
        } => {
            let (conn, cursor) = (opt_cstring(conn), cstring(cursor));
            // SAFETY: NULL or NUL-terminated strings, alive during the call.
            let r =
                unsafe { ffi::dblink_fetch(cptr(&conn), cursor.as_ptr(), count, fail_int(fail)) };
            c_rows(f, r, None)
        }
        Resolved::Close { conn, cursor, fail } => {
            let (conn, cursor) = (opt_cstring(conn), cstring(cursor));
            // SAFETY: NULL or NUL-terminated strings, alive during the call.
            let p = unsafe { ffi::dblink_close(cptr(&conn), cursor.as_ptr(), fail_int(fail)) };
            c_text(f, p)
        }
        Resolved::SendQuery { conn, sql } => {
            let (conn, sql) = (cstring(conn), cstring(sql));
            // SAFETY: NUL-terminated strings, alive during the call.
            let n = unsafe { ffi::dblink_send_query(conn.as_ptr(), sql.as_ptr()) };
            c_int(f, n, flag_int)
        }
        Resolved::IsBusy(conn) => {
            let conn = cstring(conn);
            // SAFETY: a NUL-terminated string, alive during the call.
            c_int(f, unsafe { ffi::dblink_is_busy(conn.as_ptr()) }, flag_int)
        }
        Resolved::GetResult { conn, fail } => {
            let conn = cstring(conn);
            // SAFETY: a NUL-terminated string, alive during the call.
            let r = unsafe { ffi::dblink_get_result(conn.as_ptr(), fail_int(fail)) };
            c_rows(f, r, None)
        }
        Resolved::CancelQuery(conn) => {
            let conn = cstring(conn);
            // SAFETY: a NUL-terminated string, alive during the call.
            c_text(f, unsafe { ffi::dblink_cancel_query(conn.as_ptr()) })
        }
        Resolved::ErrorMessage(conn) => {
            let conn = cstring(conn);
            // SAFETY: a NUL-terminated string, alive during the call.
            c_text(f, unsafe { ffi::dblink_error_message(conn.as_ptr()) })
        }
        Resolved::GetNotify(conn) => {
            let conn = opt_cstring(conn);
            // SAFETY: NULL or a NUL-terminated string, alive during the call.
            let r = unsafe { ffi::dblink_get_notify(cptr(&conn)) };
            c_rows(f, r, Some(&["notify_name", "be_pid", "extra"][..]))
        }
        Resolved::GetConnections => {
            let names = ffi::dblink_get_connections();
            if names.is_null() {
                return c_null(f);
            }
            let mut list = Vec::new();
            // SAFETY: a non-NULL dblink_get_connections() is a
            // NULL-terminated array of NUL-terminated strings, the caller's
            // until dblink_free_strings, which follows the reads.
            unsafe {
                for k in 0.. {
                    let p = *names.add(k);
                    if p.is_null() {
                        break;
                    }
                    list.extend(copied(p));
                }
                ffi::dblink_free_strings(names);
            }
            list.sort();
            c_ok(f, Value::Scalar(Some(format_text_array(&list))))
        }
        Resolved::GetPkey(rel) => on_local_database_c(|local| {
            let rel = cstring(rel);
            // SAFETY: NUL-terminated strings, alive during the call.
            let r = unsafe { ffi::dblink_get_pkey(local.as_ptr(), rel.as_ptr()) };
            c_rows(f, r, Some(&["position", "colname"][..]))
        }),
        Resolved::BuildInsert {
            update,
            rel,
            pk,
            src,
            tgt,
        } => {
            if src.len() != pk.len() || tgt.len() != pk.len() {
                // The C functions take `pknumatts` values in each array: a
                // C caller cannot pass arrays of another length, so there
                // is no C call to compare (the Rust API's 2202E).
                return run_rust(Resolved::BuildInsert {
                    update,
                    rel,
                    pk,
                    src,
                    tgt,
                })
                .map_err(|e| report_of_error("ERROR", &e));
            }
            on_local_database_c(|local| {
                let rel = cstring(rel);
                let (src, tgt) = (CStrings::new(&src), CStrings::new(&tgt));
                let n = c_int::try_from(pk.len()).unwrap_or(c_int::MAX);
                // SAFETY: NUL-terminated strings; `pk` holds `n` ints and
                // each array `n` pointers, NULL or NUL-terminated strings,
                // all alive during the call.
                let p = unsafe {
                    if update {
                        ffi::dblink_build_sql_update(
                            local.as_ptr(),
                            rel.as_ptr(),
                            pk.as_ptr(),
                            n,
                            src.as_ptr(),
                            tgt.as_ptr(),
                        )
                    } else {
                        ffi::dblink_build_sql_insert(
                            local.as_ptr(),
                            rel.as_ptr(),
                            pk.as_ptr(),
                            n,
                            src.as_ptr(),
                            tgt.as_ptr(),
                        )
                    }
                };
                c_text(f, p)
            })
        }
        Resolved::BuildDelete { rel, pk, tgt } => {
            if tgt.len() != pk.len() {
                // As for insert: not expressible in C.
                return run_rust(Resolved::BuildDelete { rel, pk, tgt })
                    .map_err(|e| report_of_error("ERROR", &e));
            }
            on_local_database_c(|local| {
                let rel = cstring(rel);
                let tgt = CStrings::new(&tgt);
                let n = c_int::try_from(pk.len()).unwrap_or(c_int::MAX);
                // SAFETY: as for insert.
                let p = unsafe {
                    ffi::dblink_build_sql_delete(
                        local.as_ptr(),
                        rel.as_ptr(),
                        pk.as_ptr(),
                        n,
                        tgt.as_ptr(),
                    )
                };
                c_text(f, p)
            })
        }
    }
}

/// A `const char *const *` array argument (NULL entries: SQL NULL).
struct CStrings {
    _owned: Vec<Option<CString>>,
    ptrs: Vec<*const c_char>,
}

impl CStrings {
    fn new(items: &[Option<String>]) -> CStrings {
        let owned: Vec<Option<CString>> = items.iter().map(|s| opt_cstring(s.as_deref())).collect();
        let ptrs = owned.iter().map(cptr).collect();
        CStrings {
            _owned: owned,
            ptrs,
        }
    }

    fn as_ptr(&self) -> *const *const c_char {
        self.ptrs.as_ptr()
    }
}

// ===========================================================================
// dblink's local database (dblink_get_pkey, dblink_build_sql_*)

/// A connection name for [`on_local_database`], unique in the process.
fn local_name() -> String {
    format!(
        "scenario_local_{}_{}",
        std::process::id(),
        NEXT_UNIQUE.fetch_add(1, Ordering::Relaxed)
    )
}

/// Runs `f` on a pgdblink connection to what dblink's build functions call
/// the local database: the oracle world's database (`oracle` of the shared
/// server), so both worlds read the same catalog. The connection is open
/// for this call only, so it never shows in dblink_get_connections.
fn on_local_database<T>(f: impl FnOnce(&str) -> pg::Result<T>) -> pg::Result<T> {
    let local = local_name();
    pg::connect(Some(&local), &shared().connstr_db("oracle"))?;
    let out = f(&local);
    pg::disconnect(Some(&local))?;
    out
}

/// [`on_local_database`] in the C world: connected and disconnected through
/// the C ABI.
fn on_local_database_c(f: impl FnOnce(&CStr) -> Result<Value, Report>) -> Result<Value, Report> {
    let local = cstring(&local_name());
    let connstr = cstring(&shared().connstr_db("oracle"));
    // SAFETY: NUL-terminated strings, alive during the call.
    let n = unsafe { ffi::dblink_connect(local.as_ptr(), connstr.as_ptr()) };
    c_ok_int("dblink_connect", n)?;
    let out = f(&local);
    // SAFETY: a NUL-terminated string, alive during the call.
    let n = unsafe { ffi::dblink_disconnect(local.as_ptr()) };
    c_ok_int("dblink_disconnect", n)?;
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
            let side = self.side;
            move || library_outcome(side, &call, values)
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
