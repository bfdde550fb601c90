//! The C packaging, tested the way a C user meets it: `scripts/install.sh`
//! installs the library into a temporary prefix (once per run of this test
//! binary; it is a release build, so the first run on a fresh machine takes
//! minutes), then the example programs `examples/c/*.c` are compiled with
//! nothing but `cc` and what `pkg-config` prints for that prefix — once
//! against the shared library, once against the static one — and run
//! against the throwaway test server, also under valgrind.
//!
//! Needs `cc`, `pkg-config`, `readelf` (binutils) and valgrind; without them
//! these tests fail rather than skip.

mod support;

use support::process::{show, wait_limited};

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The exit code given to valgrind for "errors or definite/indirect leaks".
const VALGRIND_ERROR_EXIT: i32 = 99;

/// The crate root.
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// This run's scratch directory (per process, so that two runs do not
/// share one); the directories of earlier runs whose process is gone are
/// removed.
fn scratch() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
        if let Ok(entries) = std::fs::read_dir(base) {
            for entry in entries.filter_map(Result::ok) {
                let name = entry.file_name().to_string_lossy().into_owned();
                if let Some(pid) = name.strip_prefix("packaging-") {
                    if !Path::new("/proc").join(pid).exists() {
                        let _ = std::fs::remove_dir_all(entry.path());
                    }
                }
            }
        }
        let dir = base.join(format!("packaging-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("bin")).expect("create the scratch directory");
        dir
    })
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs `cmd` to completion; panics when it cannot be started.
fn output(cmd: &mut Command, what: &str) -> Output {
    cmd.stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"))
}

/// Runs `cmd` and returns its stdout; panics with its output when it fails.
fn run_ok(cmd: &mut Command, what: &str) -> String {
    let out = output(cmd, what);
    assert!(out.status.success(), "{what} failed\n{}", show(&out));
    stdout(&out)
}

/// Where `scripts/install.sh` installed the library for this run.
struct Installed {
    prefix: PathBuf,
    /// What the script printed (cargo's output included), for diagnosis.
    log: String,
}

impl Installed {
    fn lib(&self) -> PathBuf {
        self.prefix.join("lib")
    }

    /// `pkg-config <args> pgdblink` against this prefix, split into words.
    fn pkg_config(&self, args: &[&str]) -> Vec<String> {
        let out = run_ok(
            Command::new("pkg-config")
                .env("PKG_CONFIG_PATH", self.lib().join("pkgconfig"))
                .args(args)
                .arg("pgdblink"),
            &format!(
                "pkg-config {} pgdblink (is pkg-config installed?)",
                args.join(" ")
            ),
        );
        out.split_whitespace().map(str::to_owned).collect()
    }
}

/// `PREFIX=<scratch>/prefix scripts/install.sh`, once per test binary.
fn installed() -> &'static Installed {
    static INSTALLED: OnceLock<Result<Installed, String>> = OnceLock::new();
    let result = INSTALLED.get_or_init(|| {
        let prefix = scratch().join("prefix");
        let out = Command::new(root().join("scripts/install.sh"))
            .current_dir(scratch())
            .env("PREFIX", &prefix)
            .env_remove("DESTDIR")
            .env_remove("LIBDIR")
            .env_remove("INCLUDEDIR")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run scripts/install.sh: {e}"))?;
        if !out.status.success() {
            return Err(format!("scripts/install.sh failed\n{}", show(&out)));
        }
        Ok(Installed {
            prefix,
            log: show(&out),
        })
    });
    match result {
        Ok(i) => i,
        Err(e) => panic!("{e}"),
    }
}

/// `readelf -d <file>`.
fn readelf_dynamic(file: &Path) -> String {
    run_ok(
        Command::new("readelf").arg("-d").arg(file),
        "readelf -d (binutils)",
    )
}

/// The names in the `(NEEDED)` entries of `readelf -d` output.
fn needed(dynamic: &str) -> Vec<String> {
    dynamic
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .filter_map(|l| Some(l.split_once('[')?.1.split_once(']')?.0.to_owned()))
        .collect()
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

/// The warnings every example must compile without; they add no include or
/// library paths, so what finds pgdblink is pkg-config's output alone.
const WARNINGS: [&str; 4] = ["-Wall", "-Wextra", "-Werror", "-g"];

/// How an example is linked.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Link {
    /// `cc prog.c $(pkg-config --cflags --libs pgdblink) -Wl,-rpath,<libdir>`
    Shared,
    /// `cc prog.c $(pkg-config --cflags pgdblink) <libdir>/libpgdblink.a
    ///  -Wl,--as-needed $(pkg-config --static --libs pgdblink)`
    Static,
}

/// Compiles `examples/c/<name>.c` against the installed pgdblink.
fn build_example(name: &str, link: Link) -> PathBuf {
    let inst = installed();
    let src = root().join("examples/c").join(format!("{name}.c"));
    // A fresh file per build: tests build the same example concurrently.
    static BUILDS: AtomicUsize = AtomicUsize::new(0);
    let exe = scratch().join("bin").join(format!(
        "{name}-{}-{}",
        format!("{link:?}").to_lowercase(),
        BUILDS.fetch_add(1, Ordering::Relaxed)
    ));
    let mut cmd = cc();
    cmd.args(WARNINGS).arg("-o").arg(&exe).arg(&src);
    match link {
        Link::Shared => {
            cmd.args(inst.pkg_config(&["--cflags", "--libs"]))
                .arg(format!("-Wl,-rpath,{}", inst.lib().display()));
        }
        Link::Static => {
            let libdir = inst.pkg_config(&["--variable=libdir"]).join(" ");
            cmd.args(inst.pkg_config(&["--cflags"]))
                .arg(Path::new(&libdir).join("libpgdblink.a"))
                // The archive has resolved everything; the -lpgdblink that
                // pkg-config's Libs also names must not add the shared one.
                .arg("-Wl,--as-needed")
                .args(inst.pkg_config(&["--static", "--libs"]));
        }
    }
    let out = output(&mut cmd, "the C compiler (set CC?)");
    assert!(
        out.status.success(),
        "compiling {} ({link:?}) failed: {cmd:?}\n{}",
        src.display(),
        show(&out)
    );
    let dynamic = readelf_dynamic(&exe);
    let deps = needed(&dynamic);
    match link {
        // The program asks for the SONAME, not the unversioned dev link.
        Link::Shared => assert!(
            deps.iter().any(|d| d == "libpgdblink.so.0"),
            "{name} should need libpgdblink.so.0:\n{dynamic}"
        ),
        Link::Static => assert!(
            !deps.iter().any(|d| d.starts_with("libpgdblink")),
            "{name} linked statically still needs a shared pgdblink:\n{dynamic}"
        ),
    }
    exe
}

/// Runs an example (optionally under valgrind) with `PGDBLINK_DSN` set to
/// the test server and no `LD_LIBRARY_PATH` (cargo sets one; the shared
/// build must find its library through its rpath alone).
fn run_example(exe: &Path, args: &[&str], valgrind: bool) -> Output {
    let server = support::shared();
    let mut cmd = if valgrind {
        let mut c = Command::new("valgrind");
        c.args([
            &format!("--error-exitcode={VALGRIND_ERROR_EXIT}"),
            "--leak-check=full",
            "--errors-for-leak-kinds=definite,indirect",
            "--show-leak-kinds=definite,indirect",
            "--num-callers=40",
        ])
        .arg(exe);
        c
    } else {
        Command::new(exe)
    };
    cmd.args(args)
        .env("PGDBLINK_DSN", server.connstr())
        .env_remove("LD_LIBRARY_PATH")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let what = format!("{} {}", exe.display(), args.join(" "));
    let child = cmd.spawn().unwrap_or_else(|e| {
        panic!("cannot start {what}: {e} (valgrind: apt-get install valgrind)")
    });
    let out = wait_limited(child, &what);
    if valgrind {
        assert_ne!(
            out.status.code(),
            Some(VALGRIND_ERROR_EXIT),
            "valgrind found memory errors or leaks in {what}\n{}",
            show(&out)
        );
    }
    out
}

/// The SQL the fanout checks use: three rows per connection, a NULL, and
/// the backend's pid (each connection is its own backend).
const FANOUT_SQL: &str = "select g as n, 'row' || g as label, null::text as nothing, \
                          pg_backend_pid() as pid from generate_series(1, 3) g";

/// Runs fanout with three connections and checks every line it prints.
fn check_fanout(exe: &Path, valgrind: bool) {
    let out = run_example(exe, &["-n", "3", FANOUT_SQL], valgrind);
    assert_eq!(out.status.code(), Some(0), "fanout failed\n{}", show(&out));
    let text = stdout(&out);
    let mut pids = Vec::new();
    for c in 1..=3 {
        let name = format!("fanout{c}");
        let rows: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with(&format!("{name} row ")))
            .collect();
        assert_eq!(rows.len(), 3, "{name}: three rows expected\n{text}");
        for (j, line) in rows.iter().enumerate() {
            let n = j + 1;
            let prefix = format!("{name} row {n}: n={n} label=row{n} nothing=NULL pid=");
            let pid = line
                .strip_prefix(&prefix)
                .unwrap_or_else(|| panic!("{name}: expected `{prefix}<pid>`, got `{line}`"));
            assert!(pid.parse::<u32>().is_ok(), "a pid, got {line}");
            if j == 0 {
                pids.push(pid.to_owned());
            }
        }
        let done = format!("{name} done: 3 rows in ");
        assert!(
            text.lines()
                .any(|l| l.starts_with(&done) && l.ends_with(" ms")),
            "{name}: no `{done}... ms` line\n{text}"
        );
    }
    pids.sort();
    pids.dedup();
    assert_eq!(pids.len(), 3, "three backends expected\n{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("fanout: 3 connections, 9 rows, 0 failed, ")),
        "no summary line\n{text}"
    );
}

/// fanout's failures: a remote error (exit 1, printed with SQLSTATE), a
/// connection string that cannot connect (08001 with libpq's DETAIL), and
/// no DSN at all (exit 2).
fn check_fanout_errors(exe: &Path, valgrind: bool) {
    let out = run_example(exe, &["-n", "2", "select 1/0"], valgrind);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let err = stderr(&out);
    for c in 1..=2 {
        assert!(
            err.contains(&format!("fanout: fanout{c}: ERROR 22012: division by zero")),
            "{}",
            show(&out)
        );
        assert!(
            stdout(&out).contains(&format!("fanout{c} done: 0 rows in ")),
            "{}",
            show(&out)
        );
    }
    assert!(stdout(&out).contains("fanout: 2 connections, 0 rows, 2 failed, "));

    let dead = support::shared().dead_port_connstr();
    let out = run_example(exe, &["-n", "2", "-c", &dead], valgrind);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let err = stderr(&out);
    assert!(
        err.contains("fanout: connect: ERROR 08001: could not establish connection\nDETAIL: "),
        "{}",
        show(&out)
    );
    assert!(
        err.contains("fanout: 0 of 2 connections opened"),
        "{}",
        show(&out)
    );

    let out = run_example(exe, &["-c", ""], valgrind);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(
        stderr(&out).contains("no connection string"),
        "{}",
        show(&out)
    );
}

/// Runs parallel_loop and returns the sum it printed after checking its
/// lines: one per worker, then `sum = S, expected S: ok`.
fn check_parallel_loop(exe: &Path, n: u64, m: u64, valgrind: bool) -> u64 {
    let (ns, ms) = (n.to_string(), m.to_string());
    let out = run_example(exe, &["-n", &ns, "-m", &ms], valgrind);
    assert_eq!(
        out.status.code(),
        Some(0),
        "parallel_loop failed\n{}",
        show(&out)
    );
    let text = stdout(&out);
    let expected = m * (m + 1) / 2;
    assert!(
        text.starts_with(&format!("parallel_loop: {n} workers, sum of 1..{m}\n")),
        "{text}"
    );
    // Each worker's part, computed here independently.
    for i in 1..=n {
        let part: u64 = (1..=m).filter(|g| g % n == i - 1).sum();
        let line = format!("w{i}: g % {n} = {}: {part}", i - 1);
        assert!(
            text.lines()
                .any(|l| l == line || l.starts_with(&format!("{line} "))),
            "missing `{line}`\n{text}"
        );
    }
    let last = format!("sum = {expected}, expected {expected}: ok");
    assert!(text.lines().any(|l| l == last), "missing `{last}`\n{text}");
    expected
}

#[test]
fn install_sh_installs_versioned_library_links_header_and_pc() {
    let inst = installed();
    let lib = inst.lib();
    let version = env!("CARGO_PKG_VERSION");
    let major = env!("CARGO_PKG_VERSION_MAJOR");
    let real = format!("libpgdblink.so.{version}");
    let soname = format!("libpgdblink.so.{major}");

    let meta = std::fs::symlink_metadata(lib.join(&real))
        .unwrap_or_else(|e| panic!("{real} not installed: {e}\n{}", inst.log));
    assert!(meta.is_file(), "{real} should be a regular file");
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(meta.permissions().mode() & 0o777, 0o755, "{real} mode");
    for (link, target) in [(&soname, &real), (&"libpgdblink.so".to_owned(), &soname)] {
        let got = std::fs::read_link(lib.join(link))
            .unwrap_or_else(|e| panic!("{link} should be a symlink: {e}\n{}", inst.log));
        assert_eq!(got, Path::new(target), "{link} points to");
    }
    let archive = std::fs::read(lib.join("libpgdblink.a")).expect("libpgdblink.a installed");
    assert!(
        archive.starts_with(b"!<arch>\n"),
        "libpgdblink.a is an ar archive"
    );
    let header = std::fs::read(inst.prefix.join("include/pgdblink.h")).expect("header installed");
    let committed = std::fs::read(root().join("include/pgdblink.h")).expect("include/pgdblink.h");
    assert_eq!(
        header, committed,
        "the installed header is include/pgdblink.h"
    );

    // The SONAME (set by build.rs) is what linked programs load.
    let dynamic = readelf_dynamic(&lib.join(&real));
    assert!(
        dynamic.contains(&format!("Library soname: [{soname}]")),
        "libpgdblink.so has no SONAME {soname}: build.rs must pass \
         -Wl,-soname,{soname} to the cdylib\n{dynamic}"
    );

    // pgdblink.pc: valid, versioned, with the prefix's paths.
    let pc_dir = lib.join("pkgconfig");
    let pc = std::fs::read_to_string(pc_dir.join("pgdblink.pc")).expect("pgdblink.pc installed");
    assert!(
        pc.lines()
            .any(|l| l == format!("prefix={}", inst.prefix.display())),
        "{pc}"
    );
    inst.pkg_config(&["--validate"]);
    assert_eq!(inst.pkg_config(&["--modversion"]), [version]);
    assert_eq!(
        inst.pkg_config(&["--cflags"]),
        [format!("-I{}", inst.prefix.join("include").display())]
    );
    assert_eq!(
        inst.pkg_config(&["--libs"]),
        [format!("-L{}", lib.display()), "-lpgdblink".to_owned()]
    );
    // Libs.private: what the static library needs besides itself — rustc's
    // list, in which the bundled libpq's OpenSSL comes first.
    let private = inst.pkg_config(&["--static", "--libs"]);
    for needed in ["-lpgdblink", "-lssl", "-lcrypto", "-lpthread", "-lc"] {
        assert!(
            private.iter().any(|w| w == needed),
            "{needed} in {private:?}\n{pc}"
        );
    }
}

#[test]
fn install_sh_with_destdir_stages_files_and_keeps_prefix_in_pc() {
    // After the first install the release build is fresh: this one only
    // copies (and replays cargo's cached output).
    installed();
    let stage = scratch().join("stage");
    let out = output(
        Command::new(root().join("scripts/install.sh"))
            .args(["--prefix", "/opt/pgdblink"])
            .env("DESTDIR", &stage)
            .env_remove("PREFIX")
            .env_remove("LIBDIR")
            .env_remove("INCLUDEDIR"),
        "scripts/install.sh",
    );
    assert!(out.status.success(), "{}", show(&out));
    let version = env!("CARGO_PKG_VERSION");
    let root_dir = stage.join("opt/pgdblink");
    for f in [
        format!("lib/libpgdblink.so.{version}"),
        "lib/libpgdblink.a".to_owned(),
        "include/pgdblink.h".to_owned(),
    ] {
        assert!(
            root_dir.join(&f).is_file(),
            "{f} not staged\n{}",
            show(&out)
        );
    }
    assert_eq!(
        std::fs::read_link(root_dir.join("lib/libpgdblink.so")).expect("dev symlink staged"),
        Path::new(&format!(
            "libpgdblink.so.{}",
            env!("CARGO_PKG_VERSION_MAJOR")
        ))
    );
    let pc = std::fs::read_to_string(root_dir.join("lib/pkgconfig/pgdblink.pc"))
        .expect("pgdblink.pc staged");
    assert!(pc.starts_with("prefix=/opt/pgdblink\n"), "{pc}");
    assert!(
        !pc.contains(&*stage.to_string_lossy()),
        "DESTDIR leaked into the .pc\n{pc}"
    );
    assert!(pc.contains("libdir=${prefix}/lib\n"), "{pc}");

    // Bad arguments are refused with the usage text.
    let out = output(
        Command::new(root().join("scripts/install.sh")).arg("--no-such-option"),
        "scripts/install.sh",
    );
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(stderr(&out).contains("Usage:"), "{}", show(&out));
}

#[test]
fn fanout_c_built_with_pkg_config_runs_against_the_server() {
    let exe = build_example("fanout", Link::Shared);
    // The rpath finds the installed library: its SONAME link in the prefix.
    let ldd = run_ok(
        Command::new("ldd").arg(&exe).env_remove("LD_LIBRARY_PATH"),
        "ldd",
    );
    let expected = format!(
        "libpgdblink.so.0 => {}",
        installed().lib().join("libpgdblink.so.0").display()
    );
    assert!(ldd.contains(&expected), "expected `{expected}` in\n{ldd}");
    check_fanout(&exe, false);
    check_fanout_errors(&exe, false);
}

#[test]
fn parallel_loop_c_built_with_pkg_config_sums_correctly() {
    let exe = build_example("parallel_loop", Link::Shared);
    check_parallel_loop(&exe, 4, 100_000, false);
    // More workers than numbers: some slices are empty (NULL sums).
    check_parallel_loop(&exe, 5, 3, false);
}

#[test]
fn examples_linked_statically_run_against_the_server() {
    let fanout = build_example("fanout", Link::Static);
    check_fanout(&fanout, false);
    let parallel = build_example("parallel_loop", Link::Static);
    check_parallel_loop(&parallel, 3, 10_000, false);
}

#[test]
fn examples_under_valgrind_have_no_errors_or_leaks() {
    let fanout = build_example("fanout", Link::Shared);
    check_fanout(&fanout, true);
    check_fanout_errors(&fanout, true);
    let parallel = build_example("parallel_loop", Link::Shared);
    check_parallel_loop(&parallel, 4, 10_000, true);
}

/// The PL/pgSQL in parallel_loop.c's header comment is the real thing: it
/// runs on the real dblink (the oracle) and gives the sum the C port gives.
#[test]
fn parallel_loop_plpgsql_original_runs_on_real_dblink_with_the_same_sum() {
    let src = std::fs::read_to_string(root().join("examples/c/parallel_loop.c"))
        .expect("read examples/c/parallel_loop.c");
    let body: Vec<&str> = src
        .lines()
        .skip_while(|l| !l.contains("-- BEGIN PL/pgSQL"))
        .skip(1)
        .take_while(|l| !l.contains("-- END PL/pgSQL"))
        .map(|l| {
            l.strip_prefix(" * ")
                .or_else(|| l.strip_prefix(" *"))
                .unwrap_or(l)
        })
        .collect();
    assert!(
        body.len() > 10,
        "no PL/pgSQL between the BEGIN/END markers in parallel_loop.c"
    );
    let function = body.join("\n");
    let server = support::shared();
    let mut oracle = server.oracle();
    oracle
        .query(&function)
        .unwrap_or_else(|e| panic!("the PL/pgSQL does not compile: {e:?}\n{function}"));
    let (n, m) = (4, 100_000);
    let plpgsql = oracle
        .value(&format!(
            "select parallel_sum({}, {n}, {m})",
            support::lit(&server.connstr())
        ))
        .unwrap_or_else(|e| panic!("parallel_sum failed on the real dblink: {e:?}"))
        .expect("parallel_sum returned NULL");
    // The PL/pgSQL leaves no connection behind in the oracle session.
    assert_eq!(
        oracle
            .value("select dblink_get_connections()")
            .expect("dblink_get_connections"),
        None
    );
    let exe = build_example("parallel_loop", Link::Shared);
    let c = check_parallel_loop(&exe, n, m, false);
    assert_eq!(
        plpgsql,
        c.to_string(),
        "PL/pgSQL on real dblink vs the C port"
    );
}
