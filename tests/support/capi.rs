//! What the C tests know about the built C library: its SONAME and the
//! functions of the header.

use std::path::Path;

/// The SONAME scripts/build-c.sh gives the shared library:
/// libpgdblink.so.0.MINOR while the version is 0.x, libpgdblink.so.MAJOR
/// from 1.0 (CHANGELOG.md, "ABI policy").
pub fn soname() -> String {
    match env!("CARGO_PKG_VERSION_MAJOR") {
        "0" => format!("libpgdblink.so.0.{}", env!("CARGO_PKG_VERSION_MINOR")),
        major => format!("libpgdblink.so.{major}"),
    }
}

/// The names of the functions a cbindgen header declares: an identifier
/// starting with `dblink` followed by `(` on a line that is not a comment
/// or a preprocessor line.
pub fn declared_functions(header: &str) -> Vec<String> {
    let mut names = Vec::new();
    for line in header.lines() {
        let t = line.trim_start();
        if t.starts_with('*') || t.starts_with("/*") || t.starts_with("//") || t.starts_with('#') {
            continue;
        }
        if let Some(open) = t.find('(') {
            let before = t[..open].trim_end();
            let start = before
                .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .map_or(0, |i| i + 1);
            let name = &before[start..];
            if name.starts_with("dblink") && !names.iter().any(|n| n == name) {
                names.push(name.to_owned());
            }
        }
    }
    names
}

/// The functions of the committed `include/pgdblink.h`, sorted.
pub fn header_functions() -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("include/pgdblink.h");
    let header =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let mut names = declared_functions(&header);
    names.sort();
    names
}
