//! Parsing a call.

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
    pub(super) fn is_bool(&self) -> bool {
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
