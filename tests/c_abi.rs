//! The C ABI tested from C: each `tests/c/*.c` program is compiled against
//! the committed header `include/pgdblink.h` and the built cdylib
//! (`target/<profile>/libpgdblink.so`), then run under valgrind memcheck,
//! which must report no errors and no definitely/indirectly lost bytes.
//!
//! The programs get the throwaway server's connstr in `PGDBLINK_DSN` and a
//! connstr to a port where nothing listens in `PGDBLINK_DEAD_DSN`. Each one
//! prints what it checks and exits nonzero at the first failed check.
//!
//! valgrind is required (`apt-get install valgrind`); without it these
//! tests fail rather than skip.

mod support;

use support::process::{show, wait_limited};

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The exit code valgrind uses when it found errors (or definite/indirect
/// leaks, with `--errors-for-leak-kinds`).
const VALGRIND_ERROR_EXIT: i32 = 99;

/// The crate root (where `include/` and `tests/c/` live).
fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The directory holding the cdylib: the test binary lives in
/// `target/<profile>/deps/`, the library in `target/<profile>/`.
fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the path of the test binary");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test binary lives in target/<profile>/deps/")
        .to_path_buf();
    let lib = dir.join(format!(
        "{}pgdblink{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ));
    assert!(
        lib.is_file(),
        "the cdylib {} is missing: run `scripts/build-c.sh` first (scripts/test.sh does)",
        lib.display()
    );
    // Programs linked with -lpgdblink load the library's SONAME; build-c.sh
    // leaves a link of that name beside the library it built.
    let soname = dir.join(support::capi::soname());
    assert!(
        std::fs::read_link(&soname).is_ok_and(|t| t == Path::new(lib.file_name().expect("name"))),
        "{} -> {} is missing: run `scripts/build-c.sh` first (scripts/test.sh does)",
        soname.display(),
        lib.display()
    );
    let built = modified(&lib);
    if let Some(newer) = newest_source(&manifest_dir().join("src")).filter(|(t, _)| *t > built) {
        panic!(
            "the cdylib {} is older than {}: `cargo test` does not rebuild it; run \
             `scripts/build-c.sh` first (scripts/test.sh does)",
            lib.display(),
            newer.1.display()
        );
    }
    dir
}

fn modified(path: &Path) -> std::time::SystemTime {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .unwrap_or_else(|e| panic!("mtime of {}: {e}", path.display()))
}

/// The most recently modified file below `dir`.
fn newest_source(dir: &Path) -> Option<(std::time::SystemTime, PathBuf)> {
    let entries = std::fs::read_dir(dir).ok()?;
    entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let path = e.path();
            if path.is_dir() {
                newest_source(&path)
            } else {
                Some((modified(&path), path))
            }
        })
        .max_by_key(|(t, _)| *t)
}

/// Fails with an install hint when valgrind cannot be run.
fn require_valgrind() {
    let ok = Command::new("valgrind")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "valgrind is required for the C ABI tests and was not found: \
         apt-get install valgrind"
    );
}

/// The C compiler command: `$CC` (may carry flags) or `cc`.
fn cc() -> Command {
    let cc = std::env::var("CC")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "cc".to_owned());
    let mut parts = cc.split_whitespace();
    let mut cmd = Command::new(parts.next().expect("CC is not blank"));
    cmd.args(parts);
    cmd
}

/// The flags every C test program is compiled with, after its language
/// standard.
const WARNINGS: [&str; 3] = ["-Wall", "-Wextra", "-Werror"];

/// Compiles `tests/c/<name>.c` (C11, or the standard flags `std` give) into a
/// fresh binary and returns its path.
fn compile(name: &str, std: &[&str]) -> PathBuf {
    let root = manifest_dir();
    let lib = lib_dir();
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("c_abi");
    std::fs::create_dir_all(&out_dir).expect("create the C test build directory");
    let exe = out_dir.join(name);
    let src = root.join("tests/c").join(format!("{name}.c"));
    let out = cc()
        .current_dir(&root)
        .args(if std.is_empty() {
            &["-std=c11"][..]
        } else {
            std
        })
        .args(WARNINGS)
        .args(["-g", "-I"])
        .arg(root.join("include"))
        .arg("-o")
        .arg(&exe)
        .arg(&src)
        .arg("-L")
        .arg(&lib)
        .arg("-lpgdblink")
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .arg("-lpthread")
        .output()
        .unwrap_or_else(|e| panic!("cannot run the C compiler (set CC?): {e}"));
    assert!(
        out.status.success(),
        "compiling {} failed\n{}",
        src.display(),
        show(&out)
    );
    exe
}

/// Compiles `tests/c/<name>.c`, runs it under valgrind against the test
/// server and asserts a clean exit.
fn run_c_program(name: &str) {
    run_c_program_as(name, &[]);
}

/// [`run_c_program`] with the language standard flags `std` (C11 when empty).
fn run_c_program_as(name: &str, std: &[&str]) {
    require_valgrind();
    let server = support::shared();
    let exe = compile(name, std);
    let root = manifest_dir();
    let mut cmd = Command::new("valgrind");
    cmd.args([
        &format!("--error-exitcode={VALGRIND_ERROR_EXIT}"),
        "--leak-check=full",
        "--errors-for-leak-kinds=definite,indirect",
        "--show-leak-kinds=definite,indirect",
        "--num-callers=40",
    ]);
    let supp = root.join("tests/c/valgrind.supp");
    if supp.is_file() {
        cmd.arg(format!("--suppressions={}", supp.display()));
    }
    cmd.arg(&exe)
        .env("PGDBLINK_DSN", server.connstr())
        .env("PGDBLINK_DEAD_DSN", server.dead_port_connstr())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start valgrind: {e} (apt-get install valgrind)"));
    let out = wait_limited(child, name);
    let verdict = match out.status.code() {
        Some(0) => {
            // The checks and valgrind's summaries, shown with --nocapture.
            println!("{}", show(&out));
            return;
        }
        Some(VALGRIND_ERROR_EXIT) => "valgrind found memory errors or leaks",
        Some(_) => "a check failed",
        None => "the program was killed by a signal",
    };
    panic!("tests/c/{name}.c: {verdict}\n{}", show(&out));
}

#[test]
fn async_sequence_from_c() {
    run_c_program("async");
}

#[test]
fn sync_functions_and_cursors_from_c() {
    run_c_program("sync");
}

#[test]
fn cancel_from_another_thread_from_c() {
    run_c_program("threads");
}

#[test]
fn bad_input_from_c() {
    run_c_program("bad_input");
}

#[test]
fn beyond_dblink_from_c() {
    run_c_program("beyond");
}

#[test]
fn last_error_rules_from_c() {
    run_c_program("last_error");
}

/// The version and SQLSTATE macros and `dblink_error`, from a program built
/// as strict C89.
#[test]
fn versions_from_c89() {
    run_c_program_as("c89", &C89);
}

/// ISO C89 with every pedantic diagnostic an error.
const C89: [&str; 3] = ["-std=c89", "-pedantic", "-pedantic-errors"];

/// The header alone, and a C89 program using it, pass `-std=c89 -pedantic
/// -Werror -fsyntax-only`; and they compile as C++ (`$CXX`, `c++` or `g++`,
/// when one is installed: the C tests need a C compiler only).
#[test]
fn the_header_compiles_as_c89_and_as_cxx() {
    let root = manifest_dir();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("c_abi");
    std::fs::create_dir_all(&dir).expect("create the C test build directory");
    let only = dir.join("header_only.c");
    std::fs::write(
        &only,
        "#include <pgdblink.h>\nint main(void) { return 0; }\n",
    )
    .expect("write header_only.c");
    let sources = [only, root.join("tests/c/c89.c")];
    for src in &sources {
        let out = cc()
            .args(C89)
            .args(WARNINGS)
            .arg("-fsyntax-only")
            .arg("-I")
            .arg(root.join("include"))
            .arg(src)
            .output()
            .unwrap_or_else(|e| panic!("cannot run the C compiler (set CC?): {e}"));
        assert!(
            out.status.success(),
            "{} is not clean ISO C89 with include/pgdblink.h\n{}",
            src.display(),
            show(&out)
        );
    }
    let Some(cxx) = cxx() else {
        println!("no C++ compiler (CXX, c++, g++): the C++ check is skipped");
        return;
    };
    for src in &sources {
        let out = Command::new(&cxx[0])
            .args(&cxx[1..])
            // C++11: the first C++ with `long long`, which the C contract of
            // dblink_copy_between and dblink_exec_batch requires.
            .args(["-x", "c++", "-std=c++11", "-pedantic-errors"])
            .args(WARNINGS)
            .arg("-fsyntax-only")
            .arg("-I")
            .arg(root.join("include"))
            .arg(src)
            .output()
            .expect("run the C++ compiler");
        assert!(
            out.status.success(),
            "{} does not compile as C++11 with include/pgdblink.h\n{}",
            src.display(),
            show(&out)
        );
    }
}

/// The C++ compiler and its flags: `$CXX`, else `c++` or `g++` when one
/// runs.
fn cxx() -> Option<Vec<String>> {
    let runs = |c: &str| {
        Command::new(c)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let cmd = std::env::var("CXX")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .or_else(|| {
            ["c++", "g++"]
                .into_iter()
                .find(|c| runs(c))
                .map(str::to_owned)
        })?;
    Some(cmd.split_whitespace().map(str::to_owned).collect())
}

/// `examples/python/fanout.py` (ctypes, standard library only) against the
/// test server, with the freshly built library: every row of every
/// connection, NULL told by getisnull, the summary; then a query whose
/// second statement fails, whose ERROR the program reads with dblink_last()
/// just after rebinding a variable freed the previous result (`__del__`):
/// the free must leave the error in place.
#[test]
fn python_fanout_example() {
    let root = manifest_dir();
    let lib = lib_dir().join(format!(
        "{}pgdblink{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ));
    let server = support::shared();
    let run = |sql: &str| {
        let child = Command::new("python3")
            .arg(root.join("examples/python/fanout.py"))
            .args(["-n", "3", "-c", &server.connstr(), sql])
            .env("PGDBLINK_LIB", &lib)
            .env_remove("PGDBLINK_DSN")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run python3 (apt-get install python3): {e}"));
        let out = wait_limited(child, "examples/python/fanout.py");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status.code(), stdout, stderr, show(&out))
    };

    let sql = "select g as n, g * g as sq, nullif(g % 2, 1) as even \
               from generate_series(1, 3) g";
    let (code, stdout, stderr, all) = run(sql);
    assert_eq!(code, Some(0), "fanout.py failed\n{all}");
    assert!(stderr.is_empty(), "fanout.py wrote to stderr\n{all}");
    let v = pgdblink::libpq_version();
    assert!(
        stdout.starts_with(&format!(
            "pgdblink {}, libpq {}.{}\n",
            env!("CARGO_PKG_VERSION"),
            v / 10000,
            v % 10000
        )),
        "{all}"
    );
    for i in 1..=3 {
        for line in [
            format!("fanout{i} row 1: n=1 sq=1 even=NULL\n"),
            format!("fanout{i} row 2: n=2 sq=4 even=0\n"),
            format!("fanout{i} row 3: n=3 sq=9 even=NULL\n"),
            format!("fanout{i} done: 3 rows\n"),
        ] {
            assert!(stdout.contains(&line), "missing {line:?}\n{all}");
        }
    }
    assert!(
        stdout.ends_with("fanout: 3 connections, 9 rows, 0 failed\n"),
        "{all}"
    );
    println!("{all}");

    let (code, stdout, stderr, all) = run("select 'first' as step; select 1/0");
    assert_eq!(code, Some(1), "a failed query is exit status 1\n{all}");
    for i in 1..=3 {
        let line = format!("fanout{i} row 1: step=first\n");
        assert!(stdout.contains(&line), "missing {line:?}\n{all}");
        let error = format!(
            "fanout: fanout{i}: ERROR 22012: division by zero\n\
             CONTEXT: while executing query on dblink connection named \"fanout{i}\"\n"
        );
        assert!(stderr.contains(&error), "missing {error:?}\n{all}");
        let done = format!("fanout{i} done: 1 rows (failed)\n");
        assert!(stdout.contains(&done), "missing {done:?}\n{all}");
    }
    assert!(
        stdout.ends_with("fanout: 3 connections, 3 rows, 3 failed\n"),
        "{all}"
    );
    println!("{all}");
}

#[test]
fn copy_pipeline_and_build_sql_from_c() {
    run_c_program("move");
}

/// Every function the header declares is called by at least one program.
#[test]
fn every_header_function_is_exercised() {
    let root = manifest_dir();
    let header =
        std::fs::read_to_string(root.join("include/pgdblink.h")).expect("read include/pgdblink.h");
    let mut sources = String::new();
    for entry in std::fs::read_dir(root.join("tests/c")).expect("list tests/c") {
        let path = entry.expect("a tests/c entry").path();
        if path.extension().is_some_and(|e| e == "c" || e == "h") {
            sources.push_str(&std::fs::read_to_string(&path).expect("read a C test"));
        }
    }
    let declared = declared_functions(&header);
    assert!(
        declared.len() >= 30,
        "expected the header's ~30 functions, parsed {declared:?}"
    );
    let missing: Vec<&String> = declared.iter().filter(|f| !calls(&sources, f)).collect();
    assert!(
        missing.is_empty(),
        "functions of include/pgdblink.h no C test calls: {missing:?}"
    );
}

/// The names of the functions a cbindgen header declares: an identifier
/// followed by `(` on a line that is not a comment.
fn declared_functions(header: &str) -> Vec<String> {
    let mut names = Vec::new();
    for line in header.lines() {
        let t = line.trim_start();
        if t.starts_with('*') || t.starts_with("/*") || t.starts_with("//") || t.starts_with('#') {
            continue;
        }
        if let Some(open) = t.find('(') {
            let before = &t[..open];
            let name: String = before
                .chars()
                .rev()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            if name.starts_with("dblink") && !names.contains(&name) {
                names.push(name);
            }
        }
    }
    names
}

/// Whether `src` calls `f` (the name followed by optional spaces and `(`).
fn calls(src: &str, f: &str) -> bool {
    src.match_indices(f).any(|(i, _)| {
        let before_ok = src[..i]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_'));
        let after = src[i + f.len()..].trim_start();
        before_ok && after.starts_with('(')
    })
}
