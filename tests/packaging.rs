//! The C packaging, tested the way a C user meets it: `scripts/install.sh`
//! installs the library into a temporary prefix (once per run of this test
//! binary; it is a release build, so the first run on a fresh machine takes
//! minutes), then the example programs `examples/c/*.c` are compiled with
//! nothing but `cc` and what `pkg-config` prints for that prefix — once
//! against the shared library, once against the static one — and run
//! against the throwaway test server, also under valgrind.
//!
//! Also: both libraries export the header's functions and nothing else; a
//! C host using the system libpq itself (`tests/c_host/two_libpqs.c`)
//! keeps its libpq and pgdblink's apart in every link order, shared and
//! static; the build tree works without an install (the SONAME link that
//! `scripts/build-c.sh` leaves); `install.sh --no-build`, its flags, the
//! multiarch libdir, the licences and man pages; and a system-libpq install
//! (a second release build, in `<target>/system-libpq`, as `.ci/run` uses).
//!
//! Needs `cc`, `pkg-config`, binutils (`readelf`, `nm`), valgrind, python3
//! and libpq-dev (the system libpq's headers); `scripts/install-deps.sh`
//! installs them. Without them these tests fail rather than skip.

mod support;

use support::ServerExt as _;
use support::capi::{header_functions, soname};
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

    fn include(&self) -> PathBuf {
        self.prefix.join("include")
    }

    fn pkg_config_path(&self) -> PathBuf {
        self.lib().join("pkgconfig")
    }

    /// `pkg-config <args> pgdblink` against this prefix, split into words.
    fn pkg_config(&self, args: &[&str]) -> Vec<String> {
        let out = run_ok(
            Command::new("pkg-config")
                .env("PKG_CONFIG_PATH", self.pkg_config_path())
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

/// `PREFIX=<prefix> scripts/install.sh <args>`, from the scratch directory;
/// `target_dir` is the CARGO_TARGET_DIR of the build (None: as inherited).
fn install(prefix: PathBuf, args: &[&str], target_dir: Option<&Path>) -> Result<Installed, String> {
    let mut cmd = Command::new(root().join("scripts/install.sh"));
    cmd.args(args)
        .current_dir(scratch())
        .env("PREFIX", &prefix)
        .env_remove("DESTDIR")
        .env_remove("LIBDIR")
        .env_remove("INCLUDEDIR")
        .env_remove("MANDIR")
        .env_remove("DOCDIR")
        .stdin(Stdio::null());
    if let Some(dir) = target_dir {
        cmd.env("CARGO_TARGET_DIR", dir);
    }
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run scripts/install.sh: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "scripts/install.sh {} failed\n{}",
            args.join(" "),
            show(&out)
        ));
    }
    Ok(Installed {
        prefix,
        log: show(&out),
    })
}

/// `PREFIX=<scratch>/prefix scripts/install.sh`, once per test binary.
fn installed() -> &'static Installed {
    static INSTALLED: OnceLock<Result<Installed, String>> = OnceLock::new();
    let result = INSTALLED.get_or_init(|| install(scratch().join("prefix"), &[], None));
    match result {
        Ok(i) => i,
        Err(e) => panic!("{e}"),
    }
}

/// The same install of a build against the system libpq:
/// `CARGO_TARGET_DIR=<target>/system-libpq scripts/install.sh
/// --no-default-features --features system-libpq` (the target directory
/// `.ci/run` tests that mode in), once per test binary.
fn installed_system_libpq() -> &'static Installed {
    static INSTALLED: OnceLock<Result<Installed, String>> = OnceLock::new();
    let result = INSTALLED.get_or_init(|| {
        install(
            scratch().join("prefix-system-libpq"),
            &["--no-default-features", "--features", "system-libpq"],
            Some(&target_root().join("system-libpq")),
        )
    });
    match result {
        Ok(i) => i,
        Err(e) => panic!("{e}"),
    }
}

/// `target/<profile>`: where this test binary (in `deps/`) was built, and
/// where `scripts/build-c.sh` leaves the C libraries of the same profile.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the path of the test binary");
    exe.parent()
        .and_then(Path::parent)
        .expect("the test binary lives in target/<profile>/deps/")
        .to_path_buf()
}

/// cargo's target directory.
fn target_root() -> PathBuf {
    profile_dir()
        .parent()
        .expect("target/<profile> has a parent")
        .to_path_buf()
}

/// The names `nm <args> <file>` lists with a global (upper-case) type,
/// sorted; `U` (undefined) left out.
fn global_symbols(file: &Path, args: &[&str]) -> Vec<String> {
    let out = run_ok(
        Command::new("nm").args(args).arg(file),
        &format!("nm {} {} (binutils)", args.join(" "), file.display()),
    );
    let mut names: Vec<String> = out
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace().rev();
            let name = f.next()?;
            let kind = f.next()?;
            (kind.len() == 1 && kind != "U" && kind.chars().all(|c| c.is_ascii_uppercase()))
                .then(|| name.to_owned())
        })
        .collect();
    names.sort();
    names.dedup();
    names
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
            deps.contains(&soname()),
            "{name} should need {}:\n{dynamic}",
            soname()
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
    let real = format!("libpgdblink.so.{version}");
    let soname = soname();

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

    // The SONAME (set by scripts/build-c.sh) is what linked programs load.
    let dynamic = readelf_dynamic(&lib.join(&real));
    assert!(
        dynamic.contains(&format!("Library soname: [{soname}]")),
        "libpgdblink.so has no SONAME {soname}: scripts/build-c.sh must pass \
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
        Path::new(&soname())
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
        "{} => {}",
        soname(),
        installed().lib().join(soname()).display()
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

#[test]
fn installed_libraries_export_the_header_functions_and_nothing_else() {
    let inst = installed();
    let api = header_functions();
    assert!(api.len() >= 30, "the header's functions: {api:?}");
    // The archive: one object whose only global definitions are the API
    // (no Rust std, no bundled libpq PQ*, which would take the place of a
    // host's own libpq).
    let archive = global_symbols(&inst.lib().join("libpgdblink.a"), &["-g", "--defined-only"]);
    assert_eq!(
        archive, api,
        "libpgdblink.a's global symbols (scripts/build-c.sh localizes the rest)"
    );
    // The shared library's dynamic symbols.
    let real = inst
        .lib()
        .join(format!("libpgdblink.so.{}", env!("CARGO_PKG_VERSION")));
    let dynamic = global_symbols(&real, &["-D", "--defined-only"]);
    assert_eq!(dynamic, api, "libpgdblink.so's exported symbols");
}

#[test]
fn install_sh_installs_the_licences_and_the_man_pages() {
    let inst = installed();
    let doc = inst.prefix.join("share/doc/pgdblink");
    for f in [
        "LICENSE-MIT",
        "LICENSE-APACHE",
        "LICENSE-PostgreSQL",
        "CHANGELOG.md",
    ] {
        let installed = std::fs::read(doc.join(f)).unwrap_or_else(|e| {
            panic!("{f} not installed in {}: {e}\n{}", doc.display(), inst.log)
        });
        let committed = std::fs::read(root().join(f)).expect("the committed file");
        assert_eq!(installed, committed, "{f}");
    }
    let postgres = std::fs::read_to_string(doc.join("LICENSE-PostgreSQL")).expect("read");
    assert!(
        postgres.contains("PostgreSQL Global Development Group")
            && postgres.contains("Permission to use, copy, modify, and distribute this software"),
        "LICENSE-PostgreSQL is the PostgreSQL License"
    );

    // The C reference: pgdblink(3), and one page per function, each
    // listed there.
    let man3 = inst.prefix.join("share/man/man3");
    let overview = std::fs::read_to_string(man3.join("pgdblink.3"))
        .unwrap_or_else(|e| panic!("pgdblink.3 not installed: {e}\n{}", inst.log));
    assert!(overview.starts_with(".TH PGDBLINK 3 "), "{overview}");
    for f in header_functions() {
        assert!(
            overview.contains(&format!(".BR {f} (3)")),
            "pgdblink.3 does not list {f}"
        );
        let page = std::fs::read_to_string(man3.join(format!("{f}.3")))
            .unwrap_or_else(|e| panic!("no man page for {f}: {e}"));
        assert!(
            page.contains(&format!("\n{f} \\- ")) && page.contains(".SH SYNOPSIS"),
            "{f}.3 has no NAME line or SYNOPSIS\n{page}"
        );
        // The prototype, as the header writes it.
        assert!(page.contains(&format!("{f}(")), "{f}.3 has no prototype");
    }
}

/// The system libpq's flags and version, from pkg-config (libpq-dev).
struct SystemLibpq {
    cflags: Vec<String>,
    libs: Vec<String>,
    /// PQlibVersion's value for it, e.g. 150018 for 15.18.
    version: i32,
}

fn system_libpq() -> SystemLibpq {
    let ask = |arg: &str| {
        run_ok(
            Command::new("pkg-config").args([arg, "libpq"]),
            &format!(
                "pkg-config {arg} libpq (the system libpq's headers: apt-get install \
                 libpq-dev, or scripts/install-deps.sh)"
            ),
        )
    };
    let words = |s: String| s.split_whitespace().map(str::to_owned).collect();
    let modversion = ask("--modversion");
    SystemLibpq {
        cflags: words(ask("--cflags")),
        libs: words(ask("--libs")),
        version: libpq_version_num(modversion.trim())
            .unwrap_or_else(|| panic!("libpq version {modversion}")),
    }
}

/// "18.6" -> 180006, PostgreSQL's numbering (major * 10000 + minor).
fn libpq_version_num(version: &str) -> Option<i32> {
    let mut parts = version.split(|c: char| !c.is_ascii_digit());
    let major: i32 = parts.next()?.parse().ok()?;
    let minor: i32 = parts.next().and_then(|m| m.parse().ok()).unwrap_or(0);
    Some(major * 10000 + minor)
}

/// The libpq the `bundled` feature compiles in: pq-src's version in
/// Cargo.lock carries it (`0.3.14+libpq-18.6`).
fn bundled_libpq_version() -> i32 {
    let lock = std::fs::read_to_string(root().join("Cargo.lock")).expect("read Cargo.lock");
    let version = lock
        .split("[[package]]")
        .find(|p| p.contains("name = \"pq-src\""))
        .and_then(|p| p.split("+libpq-").nth(1))
        .and_then(|v| v.split('"').next())
        .expect("pq-src's version in Cargo.lock ends with +libpq-X.Y");
    libpq_version_num(version).expect("a libpq version")
}

/// Whether `-lpq` comes before or after pgdblink on the link line.
#[derive(Clone, Copy, Debug)]
enum PqOrder {
    First,
    Last,
}

/// Compiles `tests/c_host/two_libpqs.c` against `inst` and the system libpq.
fn build_two_libpqs(inst: &Installed, tag: &str, link: Link, order: PqOrder) -> PathBuf {
    let pq = system_libpq();
    let src = root().join("tests/c_host/two_libpqs.c");
    let exe = scratch()
        .join("bin")
        .join(format!("two_libpqs-{tag}-{link:?}-{order:?}").to_lowercase());
    let header = std::fs::read_to_string(inst.include().join("pgdblink.h")).expect("header");
    let mut cmd = cc();
    cmd.args(WARNINGS).arg("-o").arg(&exe).arg(&src);
    // Not yet in every header (being added to the C API); declared weak by
    // the program until then, which then reports them missing.
    for (f, define) in [
        ("dblink_libpq_version(", "-DDECLARE_DBLINK_LIBPQ_VERSION"),
        ("dblink_version(", "-DDECLARE_DBLINK_VERSION"),
    ] {
        if !header.contains(f) {
            cmd.arg(define);
        }
    }
    cmd.args(inst.pkg_config(&["--cflags"])).args(&pq.cflags);
    if let PqOrder::First = order {
        cmd.args(&pq.libs);
    }
    match link {
        Link::Shared => {
            cmd.args(inst.pkg_config(&["--libs"]))
                .arg(format!("-Wl,-rpath,{}", inst.lib().display()));
        }
        Link::Static => {
            cmd.arg(inst.lib().join("libpgdblink.a"))
                .arg("-Wl,--as-needed")
                .args(inst.pkg_config(&["--static", "--libs"]));
        }
    }
    if let PqOrder::Last = order {
        cmd.args(&pq.libs);
    }
    let out = output(&mut cmd, "the C compiler (set CC?)");
    assert!(
        out.status.success(),
        "compiling two_libpqs.c ({link:?}, -lpq {order:?}) failed: {cmd:?}\n{}",
        show(&out)
    );
    let deps = needed(&readelf_dynamic(&exe));
    assert!(
        deps.iter().any(|d| d.starts_with("libpq.so")),
        "the host links the system libpq: {deps:?}"
    );
    assert_eq!(
        deps.iter().any(|d| d.starts_with("libpgdblink")),
        matches!(link, Link::Shared),
        "{link:?}: {deps:?}"
    );
    exe
}

/// Runs two_libpqs and returns its `key value` lines.
fn run_two_libpqs(exe: &Path) -> std::collections::HashMap<String, String> {
    let out = run_example(exe, &[], false);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{} failed\n{}",
        exe.display(),
        show(&out)
    );
    let text = stdout(&out);
    let mut lines = std::collections::HashMap::new();
    for l in text.lines() {
        let (k, v) = l.rsplit_once(' ').unwrap_or((l, ""));
        lines.insert(k.to_owned(), v.to_owned());
    }
    for (k, v) in [
        ("host query", "host"),
        ("pgdblink query", "pgdblink"),
        ("pgdblink cancel", "OK"),
    ] {
        assert_eq!(
            lines.get(k).map(String::as_str),
            Some(v),
            "{}\n{text}",
            exe.display()
        );
    }
    lines
}

/// What one variant reported for the version functions, checked after
/// every variant ran (they are being added to the C API: until then,
/// everything else is still checked first).
fn check_version_functions(
    reports: &[(String, std::collections::HashMap<String, String>)],
    libpq: i32,
) {
    let mut missing = Vec::new();
    for (what, lines) in reports {
        match lines.get("dblink_libpq_version").map(String::as_str) {
            Some("missing") | None => missing.push(format!("{what}: dblink_libpq_version")),
            Some(v) => assert_eq!(
                v,
                libpq.to_string(),
                "{what}: dblink_libpq_version() is the libpq pgdblink links"
            ),
        }
        match lines.get("dblink_version").map(String::as_str) {
            Some("missing") | None => missing.push(format!("{what}: dblink_version")),
            Some(v) => assert_eq!(v, env!("CARGO_PKG_VERSION"), "{what}: dblink_version()"),
        }
    }
    assert!(
        missing.is_empty(),
        "the library lacks the C API's version functions (int dblink_libpq_version(void), \
         const char *dblink_version(void)): {missing:?}"
    );
}

#[test]
fn c_host_with_its_own_system_libpq_keeps_the_two_libpqs_apart() {
    let inst = installed();
    let system = system_libpq().version;
    let bundled = bundled_libpq_version();
    assert_ne!(
        system / 10000,
        bundled / 10000,
        "this test needs a system libpq of another major version than the bundled one"
    );
    let mut reports = Vec::new();
    for link in [Link::Shared, Link::Static] {
        for order in [PqOrder::First, PqOrder::Last] {
            let exe = build_two_libpqs(inst, "bundled", link, order);
            let lines = run_two_libpqs(&exe);
            // The host's PQlibVersion is its own libpq's, not the bundled one.
            assert_eq!(
                lines.get("host PQlibVersion"),
                Some(&system.to_string()),
                "{link:?}, -lpq {order:?}: the host's PQlibVersion() must be the system \
                 libpq's ({system}), not pgdblink's bundled {bundled}: {lines:?}"
            );
            reports.push((format!("{link:?}, -lpq {order:?}"), lines));
        }
    }
    check_version_functions(&reports, bundled);
}

#[test]
fn system_libpq_install_links_the_system_libpq() {
    let inst = installed_system_libpq();
    let system = system_libpq().version;
    let real = inst
        .lib()
        .join(format!("libpgdblink.so.{}", env!("CARGO_PKG_VERSION")));
    let deps = needed(&readelf_dynamic(&real));
    assert!(
        deps.iter().any(|d| d.starts_with("libpq.so")),
        "a system-libpq libpgdblink.so needs the system libpq: {deps:?}\n{}",
        inst.log
    );
    assert_eq!(
        global_symbols(&real, &["-D", "--defined-only"]),
        header_functions()
    );
    assert_eq!(
        global_symbols(&inst.lib().join("libpgdblink.a"), &["-g", "--defined-only"]),
        header_functions()
    );
    let private = inst.pkg_config(&["--static", "--libs"]);
    assert!(
        private.iter().any(|w| w == "-lpq"),
        "Libs.private names the system libpq: {private:?}"
    );
    let mut reports = Vec::new();
    for link in [Link::Shared, Link::Static] {
        let exe = build_two_libpqs(inst, "system", link, PqOrder::Last);
        let lines = run_two_libpqs(&exe);
        assert_eq!(lines.get("host PQlibVersion"), Some(&system.to_string()));
        reports.push((format!("system-libpq {link:?}"), lines));
    }
    check_version_functions(&reports, system);
}

#[test]
fn build_tree_works_without_an_install() {
    // What the README's C quick start says: cc app.c -Iinclude
    // -Ltarget/<profile> -lpgdblink -Wl,-rpath,$PWD/target/<profile>, with
    // the libraries scripts/build-c.sh built for this profile.
    let dir = profile_dir();
    let lib = dir.join("libpgdblink.so");
    assert!(
        lib.is_file(),
        "{} is missing: run `scripts/build-c.sh` first (scripts/test.sh does)",
        lib.display()
    );
    assert_eq!(
        std::fs::read_link(dir.join(soname())).ok().as_deref(),
        Some(Path::new("libpgdblink.so")),
        "scripts/build-c.sh leaves {} -> libpgdblink.so in {}",
        soname(),
        dir.display()
    );
    let src = root().join("examples/c/fanout.c");
    for link in [Link::Shared, Link::Static] {
        let exe = scratch()
            .join("bin")
            .join(format!("fanout-build-tree-{link:?}").to_lowercase());
        let mut cmd = cc();
        cmd.current_dir(root())
            .args(WARNINGS)
            .arg("-o")
            .arg(&exe)
            .arg(&src)
            .arg("-Iinclude");
        match link {
            Link::Shared => {
                cmd.arg(format!("-L{}", dir.display()))
                    .arg("-lpgdblink")
                    .arg(format!("-Wl,-rpath,{}", dir.display()));
            }
            Link::Static => {
                let native = std::fs::read_to_string(dir.join("capi/native-static-libs.txt"))
                    .expect("capi/native-static-libs.txt (scripts/build-c.sh writes it)");
                cmd.arg(dir.join("libpgdblink.a"))
                    .args(native.split_whitespace());
            }
        }
        let out = output(&mut cmd, "the C compiler (set CC?)");
        assert!(
            out.status.success(),
            "compiling fanout.c in the build tree ({link:?}) failed: {cmd:?}\n{}",
            show(&out)
        );
        if let Link::Shared = link {
            let ldd = run_ok(
                Command::new("ldd").arg(&exe).env_remove("LD_LIBRARY_PATH"),
                "ldd",
            );
            let expected = format!("{} => {}", soname(), dir.join(soname()).display());
            assert!(ldd.contains(&expected), "expected `{expected}` in\n{ldd}");
        }
        check_fanout(&exe, false);
    }
}

/// A `cargo` that logs each command line to `log`, then runs the real one
/// (`fail`: exits 1 instead, after logging).
fn cargo_spy(log: &Path, fail: bool) -> PathBuf {
    let real = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let spy = log.with_extension("sh");
    let tail = if fail {
        "exit 1".to_owned()
    } else {
        format!("exec '{real}' \"$@\"")
    };
    std::fs::write(
        &spy,
        format!("#!/bin/sh\necho \"$*\" >>'{}'\n{tail}\n", log.display()),
    )
    .expect("write the cargo spy");
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&spy, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    spy
}

#[test]
fn install_sh_no_build_installs_what_was_built_without_building() {
    let inst = installed();
    let log = scratch().join("no-build-cargo.log");
    let prefix = scratch().join("prefix-no-build");
    let out = output(
        Command::new(root().join("scripts/install.sh"))
            .args(["--no-build", "--prefix"])
            .arg(&prefix)
            .env("CARGO", cargo_spy(&log, false))
            .env_remove("DESTDIR")
            .env_remove("LIBDIR"),
        "scripts/install.sh --no-build",
    );
    assert!(out.status.success(), "{}", show(&out));
    let calls = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        calls.lines().all(|l| l.starts_with("metadata ")),
        "--no-build must not build: cargo ran `{calls}`"
    );
    let real = format!("libpgdblink.so.{}", env!("CARGO_PKG_VERSION"));
    for f in [real.as_str(), "libpgdblink.a"] {
        assert_eq!(
            std::fs::read(prefix.join("lib").join(f)).expect("installed"),
            std::fs::read(inst.lib().join(f)).expect("installed"),
            "{f}: the same files as the install that built them"
        );
    }
    assert_eq!(
        std::fs::read_link(prefix.join("lib").join(soname())).expect("SONAME link"),
        Path::new(&real)
    );
    assert!(prefix.join("share/man/man3/pgdblink.3").is_file());
    assert!(prefix.join("share/doc/pgdblink/LICENSE-MIT").is_file());

    // --no-build with a target directory holding no release build.
    let empty = scratch().join("empty-target");
    let out = output(
        Command::new(root().join("scripts/install.sh"))
            .args(["--no-build", "--prefix"])
            .arg(scratch().join("prefix-none"))
            .env("CARGO_TARGET_DIR", &empty),
        "scripts/install.sh --no-build",
    );
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(
        stderr(&out).contains("is missing: scripts/build-c.sh --release builds it"),
        "{}",
        show(&out)
    );
}

#[test]
fn install_sh_passes_features_to_the_build_and_refuses_bad_flags() {
    // The features reach cargo (a spy that fails: nothing is built).
    let log = scratch().join("features-cargo.log");
    let out = output(
        Command::new(root().join("scripts/install.sh"))
            .args([
                "--prefix",
                "/nonexistent/never",
                "--no-default-features",
                "--features=system-libpq",
            ])
            .env("CARGO", cargo_spy(&log, true)),
        "scripts/install.sh",
    );
    assert!(!out.status.success(), "{}", show(&out));
    let calls = std::fs::read_to_string(&log).expect("cargo was run");
    let rustc = calls
        .lines()
        .find(|l| l.starts_with("rustc "))
        .unwrap_or_else(|| panic!("no cargo rustc call: {calls}"));
    assert!(
        rustc.contains("--release --no-default-features --features system-libpq"),
        "{rustc}"
    );
    assert!(
        rustc.contains("--features capi --crate-type cdylib --crate-type staticlib"),
        "{rustc}"
    );

    for (args, message) in [
        (
            &["--no-build", "--features", "system-libpq"][..],
            "--no-build installs what was built",
        ),
        (&["--features"][..], "Usage:"),
        (&["--no-such-option"][..], "Usage:"),
    ] {
        let out = output(
            Command::new(root().join("scripts/install.sh"))
                .args(args)
                .env("CARGO", cargo_spy(&scratch().join("refused.log"), true)),
            "scripts/install.sh",
        );
        assert_eq!(out.status.code(), Some(2), "{args:?}\n{}", show(&out));
        assert!(stderr(&out).contains(message), "{args:?}\n{}", show(&out));
    }
}

/// The platform's multiarch triplet as install.sh finds it (dpkg, else
/// gcc), when /usr/lib/<triplet> exists.
fn multiarch() -> Option<String> {
    let ask = |cmd: &str, args: &[&str]| {
        Command::new(cmd)
            .args(args)
            .stderr(Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| stdout(&o).trim().to_owned())
            .filter(|s| !s.is_empty())
    };
    ask("dpkg-architecture", &["-qDEB_HOST_MULTIARCH"])
        .or_else(|| ask("gcc", &["-print-multiarch"]))
        .filter(|m| Path::new("/usr/lib").join(m).is_dir())
}

#[test]
fn install_sh_prefix_usr_uses_the_multiarch_libdir() {
    installed();
    let stage = scratch().join("stage-usr");
    let out = output(
        Command::new(root().join("scripts/install.sh"))
            .args(["--no-build", "--prefix", "/usr", "--destdir"])
            .arg(&stage)
            .env_remove("LIBDIR"),
        "scripts/install.sh",
    );
    assert!(out.status.success(), "{}", show(&out));
    let libdir = match multiarch() {
        Some(m) => format!("lib/{m}"),
        None => "lib".to_owned(),
    };
    let lib = stage.join("usr").join(&libdir);
    assert!(
        lib.join("libpgdblink.a").is_file() && lib.join("libpgdblink.so").is_symlink(),
        "libraries in {}\n{}",
        lib.display(),
        show(&out)
    );
    let pc = std::fs::read_to_string(lib.join("pkgconfig/pgdblink.pc")).expect("pgdblink.pc");
    assert!(
        pc.contains(&format!("\nlibdir=${{prefix}}/{libdir}\n")),
        "{pc}"
    );
    assert!(stage.join("usr/include/pgdblink.h").is_file());
    assert!(stage.join("usr/share/man/man3/pgdblink.3").is_file());
    assert!(
        stage
            .join("usr/share/doc/pgdblink/LICENSE-PostgreSQL")
            .is_file()
    );
}
