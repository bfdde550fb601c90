//! Builds `benches/c/rawpq.c`, the raw-libpq anchor, against the same libpq
//! that pgdblink links: with the default `bundled` feature, the static
//! libpq 18 that pq-src compiled into `target/<profile>/build/pq-src-*/out`;
//! with `system-libpq`, the system libpq (pkg-config, else pg_config).

use std::path::{Path, PathBuf};
use std::process::Command;

/// Names pq-src's build output directory (scripts/bench.sh sets it).
#[cfg(feature = "bundled")]
const LIBPQ_DIR_ENV: &str = "PGDBLINK_BENCH_LIBPQ_DIR";

/// The C source, found from the crate root this bench was compiled from.
fn source() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/c/rawpq.c")
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
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let mut cmd = Command::new(&cc);
    cmd.args(["-O2", "-std=c11", "-Wall", "-Wextra", "-o"])
        .arg(&exe)
        .arg(source())
        .args(&libpq);
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {cc} (install a C compiler): {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "building the raw libpq anchor failed: {cmd:?}\n{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok((exe, note))
}
