//! Build script: tells the code which libpq API level it links against. It
//! writes nothing (the C header is committed; `tests/header.rs` checks it;
//! scripts/build-c.sh builds the C libraries and gives the shared one its
//! soname).

use std::process::Command;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(pgdblink_libpq_pre17)");
    println!("cargo::rerun-if-changed=build.rs");
    if libpq_major() < 17 {
        println!("cargo::rustc-cfg=pgdblink_libpq_pre17");
    }
}

/// The major version of the libpq we link: the bundled one is 18; a system
/// libpq is asked through pkg-config, then pg_config.
fn libpq_major() -> u32 {
    if std::env::var_os("CARGO_FEATURE_BUNDLED").is_some() {
        return 18;
    }
    println!("cargo::rerun-if-env-changed=PQ_LIB_DIR");
    let ask = |cmd: &str, args: &[&str]| -> Option<String> {
        let out = Command::new(cmd).args(args).output().ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let version = ask("pkg-config", &["--modversion", "libpq"])
        .or_else(|| ask("pg_config", &["--version"]).map(|v| v.replace("PostgreSQL ", "")));
    let Some(version) = version else {
        println!("cargo::warning=could not tell the system libpq's version; assuming 17+");
        return 17;
    };
    version
        .trim()
        .split(['.', ' '])
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(17)
}
