//! PostgreSQL text arrays (dblink_get_connections).

/// The elements of a one-dimensional text array literal (no NULLs).
fn parse_text_array(s: &str) -> Result<Vec<String>, String> {
    parse_text_array_nulls(s)?
        .into_iter()
        .map(|e| e.ok_or_else(|| format!("a NULL element in {s}")))
        .collect()
}

/// The elements of a one-dimensional text array literal; an unquoted NULL
/// is `None`.
pub(super) fn parse_text_array_nulls(s: &str) -> Result<Vec<Option<String>>, String> {
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
pub(super) fn format_text_array(items: &[String]) -> String {
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
pub(super) fn sorted_array(v: Option<String>) -> Result<Option<String>, String> {
    v.map(|s| {
        let mut items = parse_text_array(&s)?;
        items.sort();
        Ok(format_text_array(&items))
    })
    .transpose()
}
