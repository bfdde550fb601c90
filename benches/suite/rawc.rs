//! Builds `benches/c/rawpq.c`, the raw-libpq anchor, against the same libpq
//! that pgdblink links: with the default `bundled` feature, the static
//! libpq 18 that pq-src compiled into `target/<profile>/build/pq-src-*/out`;
//! with `system-libpq`, the system libpq (pkg-config, else pg_config).
//! Also builds `benches/c/pgdblink_fanout.c`, pgdblink used from C, against
//! `include/pgdblink.h` and the staticlib of this very build, and
//! `benches/c/syscount.c`, an LD_PRELOAD system-call counter.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Names pq-src's build output directory (scripts/bench.sh sets it).
#[cfg(feature = "bundled")]
const LIBPQ_DIR_ENV: &str = "PGDBLINK_BENCH_LIBPQ_DIR";

/// A C source of `benches/c/`, found from the crate root this bench was
/// compiled from.
fn source(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("benches/c")
        .join(file)
}

/// `target/<profile>`: the bench executable is `target/<profile>/deps/suite-<hash>`.
fn profile_dir() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    exe.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .ok_or_else(|| format!("unexpected bench executable path {}", exe.display()))
}

/// Compiler and linker arguments for the libpq pgdblink links, and a note
/// saying which one it is.
#[cfg(feature = "bundled")]
fn libpq_args(profile: &Path) -> Result<(Vec<String>, String), String> {
    // scripts/bench.sh names the pq-src build output that cargo linked into
    // this build; otherwise the newest one of this profile (there can be
    // several after feature or compiler changes).
    if let Some(dir) = std::env::var_os(LIBPQ_DIR_ENV).filter(|d| !d.is_empty()) {
        return bundled_args(Path::new(&dir));
    }
    let build = profile.join("build");
    let newest = std::fs::read_dir(&build)
        .map_err(|e| format!("cannot read {}: {e}", build.display()))?
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("pq-src-"))
        .map(|e| e.path().join("out"))
        .filter(|out| out.join("libpq.a").is_file() && out.join("include/libpq-fe.h").is_file())
        .max_by_key(|out| {
            std::fs::metadata(out.join("libpq.a"))
                .and_then(|m| m.modified())
                .ok()
        })
        .ok_or_else(|| {
            format!(
                "no bundled libpq (pq-src-*/out/libpq.a) under {}",
                build.display()
            )
        })?;
    bundled_args(&newest)
}

/// Arguments for the static libpq in pq-src's build output `out`.
#[cfg(feature = "bundled")]
fn bundled_args(out: &Path) -> Result<(Vec<String>, String), String> {
    let inc = out.join("include");
    let lib = out.join("libpq.a");
    if !lib.is_file() || !inc.join("libpq-fe.h").is_file() {
        return Err(format!(
            "no libpq.a and include/libpq-fe.h in {}",
            out.display()
        ));
    }
    Ok((
        vec![
            format!("-I{}", inc.display()),
            lib.display().to_string(),
            "-lssl".into(),
            "-lcrypto".into(),
            "-lpthread".into(),
            "-lm".into(),
        ],
        format!("bundled libpq (pq-src) {}", lib.display()),
    ))
}

#[cfg(not(feature = "bundled"))]
fn libpq_args(_profile: &Path) -> Result<(Vec<String>, String), String> {
    let out = |cmd: &str, args: &[&str]| -> Option<String> {
        let o = Command::new(cmd).args(args).output().ok()?;
        o.status
            .success()
            .then(|| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    if let Some(flags) = out("pkg-config", &["--cflags", "--libs", "libpq"]) {
        let args = flags.split_whitespace().map(str::to_owned).collect();
        return Ok((args, format!("system libpq (pkg-config: {flags})")));
    }
    let inc = out("pg_config", &["--includedir"])
        .ok_or("neither pkg-config nor pg_config finds libpq")?;
    let lib = out("pg_config", &["--libdir"]).ok_or("pg_config --libdir failed")?;
    Ok((
        vec![format!("-I{inc}"), format!("-L{lib}"), "-lpq".into()],
        format!("system libpq (pg_config: {lib})"),
    ))
}

/// Compiles the anchor; returns its path and which libpq it links.
pub fn build() -> Result<(PathBuf, String), String> {
    let profile = profile_dir()?;
    let exe = profile.join("rawpq");
    let (libpq, note) = libpq_args(&profile)?;
    compile(&exe, &source("rawpq.c"), &[], &libpq)?;
    Ok((exe, note))
}

/// The system libraries a Rust staticlib needs (`rustc --print
/// native-static-libs`), and OpenSSL, which openssl-sys links dynamically.
const STATICLIB_DEPS: &[&str] = &[
    "-lssl",
    "-lcrypto",
    "-lgcc_s",
    "-lutil",
    "-lrt",
    "-lpthread",
    "-lm",
    "-ldl",
];

/// Compiles `benches/c/pgdblink_fanout.c` against `include/pgdblink.h` and
/// `target/<profile>/libpgdblink.a`, the staticlib `scripts/build-c.sh
/// --release` built beside this bench (so with the bundled libpq, the same
/// as the raw anchor's).
/// Returns its path and whether the header declares `dblink_wait_ready`
/// (the program's `wait_ready` mode exists only then).
pub fn build_pgdblink() -> Result<(PathBuf, bool), String> {
    let profile = profile_dir()?;
    let include = Path::new(env!("CARGO_MANIFEST_DIR")).join("include");
    let header = std::fs::read_to_string(include.join("pgdblink.h"))
        .map_err(|e| format!("{}/pgdblink.h: {e}", include.display()))?;
    let wait_ready = header.contains("dblink_wait_ready(");
    let mut cflags = vec![format!("-I{}", include.display())];
    if wait_ready {
        cflags.push("-DPGDBLINK_HAS_WAIT_READY".into());
    }
    // The program reports the libpq linked in. libpgdblink.a exports the
    // dblink_* API alone, so that is dblink_libpq_version where the header
    // declares it; before it, the archive as rustc made it (kept by
    // build-c.sh), whose PQlibVersion is global.
    let lib = if header.contains("dblink_libpq_version(") {
        cflags.push("-DPGDBLINK_HAS_LIBPQ_VERSION".into());
        profile.join("libpgdblink.a")
    } else {
        profile.join("capi/libpgdblink.full.a")
    };
    if !lib.is_file() {
        return Err(format!(
            "{} is missing: `scripts/build-c.sh --release` builds it (scripts/bench.sh does)",
            lib.display()
        ));
    }
    let mut libs = vec![lib.display().to_string()];
    #[cfg(not(feature = "bundled"))]
    libs.extend(libpq_args(&profile)?.0);
    libs.extend(STATICLIB_DEPS.iter().map(|s| (*s).to_owned()));
    let exe = profile.join("pgdblink_fanout");
    compile(&exe, &source("pgdblink_fanout.c"), &cflags, &libs)?;
    Ok((exe, wait_ready))
}

/// Compiles `benches/c/syscount.c`, the LD_PRELOAD system-call counter of
/// the fan-out at scale; returns the shared object's path.
pub fn build_syscount() -> Result<PathBuf, String> {
    let so = profile_dir()?.join("syscount.so");
    compile(
        &so,
        &source("syscount.c"),
        &["-shared".into(), "-fPIC".into()],
        &["-ldl".into()],
    )?;
    Ok(so)
}

/// `cc -O2` of one C file into `exe`.
fn compile(exe: &Path, src: &Path, cflags: &[String], libs: &[String]) -> Result<(), String> {
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let mut cmd = Command::new(&cc);
    cmd.args(["-O2", "-std=c11", "-Wall", "-Wextra"])
        .args(cflags)
        .arg("-o")
        .arg(exe)
        .arg(src)
        .args(libs);
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {cc} (install a C compiler): {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "building {} failed: {cmd:?}\n{}",
            src.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}
