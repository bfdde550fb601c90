//! Outcomes: what a call gave, and its transcript lines.

use std::fmt::Write as _;

use pgdblink as pg;

use crate::support::oracle::{Report, Rows, lit};

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
    pub(super) fn value(v: Value) -> Outcome {
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

pub(super) fn report_of_error(severity: &str, e: &pg::Error) -> Report {
    Report {
        severity: severity.to_owned(),
        sqlstate: e.sqlstate.clone(),
        message: e.message.clone(),
        detail: e.detail.clone(),
        hint: e.hint.clone(),
        context: e.context.clone(),
    }
}
