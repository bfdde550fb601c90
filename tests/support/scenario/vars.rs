//! Variables: `:name` / `:'name'` interpolation and masking.

use std::collections::BTreeMap;

use crate::support::oracle::lit;
use crate::support::server::Server;

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
