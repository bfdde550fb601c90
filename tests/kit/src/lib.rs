//! A throwaway PostgreSQL cluster for pgdblink's integration tests,
//! benchmarks and fuzz targets (crate `pgdblink-testkit`, a dev-dependency
//! of pgdblink; the tests see it as `support::server`).
//!
//! Uses only `std` and `libc`. The binary `throwaway-server` (used by
//! `scripts/demo.sh`) starts one, prints its connection string and removes
//! it when its stdin closes.
//!
//! # Which server is used
//!
//! * If the environment variable `PGDBLINK_TEST_DSN` is set (and not empty),
//!   that existing server is used. It must be a libpq `key=value` connection
//!   string (not a URI) for a **superuser**, e.g.
//!   `PGDBLINK_TEST_DSN='host=/var/run/postgresql port=5432 user=postgres dbname=postgres'`.
//!   The `dblink` extension must be installable on it; a database `oracle`
//!   with `dblink` is created if missing. `psql` must be found (see below).
//!   Because the real dblink connects from inside the server, the connection
//!   string must also work from the server host without a password prompt
//!   (include `password=...` if needed).
//! * Otherwise a private cluster is created with `initdb` in a fresh
//!   directory under the system temp dir, started on a free port (TCP on
//!   127.0.0.1 plus a unix socket in the private directory, trust auth,
//!   superuser `postgres`), and removed again when the process exits (an
//!   `atexit` handler plus a detached watchdog that also covers
//!   SIGKILL/abort).
//!
//! # Where the PostgreSQL binaries come from
//!
//! `PG_BINDIR` if set, else the highest `/usr/lib/postgresql/<version>/bin`
//! (Debian/Ubuntu), `/usr/pgsql-<version>/bin` (RHEL), `/usr/local/pgsql/bin`,
//! `pg_config --bindir`, and finally `PATH` — the first directory that has
//! both `initdb` and `pg_ctl`. On Debian/Ubuntu:
//! `apt-get install postgresql postgresql-contrib`.
//!
//! When running as root (initdb refuses to), the server commands run as the
//! `postgres` system user via `runuser` (or `su`).

use std::env;
use std::ffi::CString;
use std::fs;
use std::io::Write as _;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, Once, OnceLock, PoisonError};

/// Environment variable naming an existing server to use instead of a private one.
pub const DSN_ENV: &str = "PGDBLINK_TEST_DSN";
/// Environment variable naming the directory holding `initdb`, `pg_ctl`, `psql`.
pub const BINDIR_ENV: &str = "PG_BINDIR";

const INSTALL_HINT: &str = "install PostgreSQL server binaries and contrib modules \
     (Debian/Ubuntu: `apt-get install postgresql postgresql-contrib`), \
     or set PG_BINDIR to the directory containing initdb and pg_ctl, \
     or set PGDBLINK_TEST_DSN to a key=value connection string of an existing superuser";

const OPENSSL_HINT: &str = "the `openssl` command-line tool is needed to make the test server's \
     TLS certificate, but it was not found in /usr/bin, /bin, /usr/local/bin or PATH; \
     install `openssl` (Debian/Ubuntu: `apt-get install openssl`)";

/// How to set up a private cluster started with [`Server::start_private`].
/// The default is what [`Server::start`] makes (trust for everything, no TLS).
#[derive(Clone, Debug, Default)]
pub struct PrivateOptions {
    /// When set, pg_hba.conf becomes `local all all trust` (the harness
    /// itself uses the unix socket) followed by these lines, e.g.
    /// `"hostssl all all 127.0.0.1/32 scram-sha-256"`.
    pub hba: Option<String>,
    /// Turn TLS on (`ssl = on`) with a fresh self-signed certificate for
    /// `CN=localhost`, made at start with the `openssl` CLI in the data
    /// directory. Starting fails, with a message to install `openssl`, when
    /// the CLI is missing.
    pub ssl: bool,
    /// Extra postgresql.conf lines, e.g. `"log_connections = on"`. A
    /// `max_connections = N` line replaces the default of 200 (which is
    /// otherwise given on the `postgres` command line, where it would win
    /// over postgresql.conf). A `max_files_per_process` line also starts the
    /// server with its soft RLIMIT_NOFILE raised to the hard limit (runuser's
    /// pam_limits would otherwise leave it at 1024, and the server sizes its
    /// descriptor budget from it once, at start).
    pub conf: Vec<String>,
}

/// A PostgreSQL server for tests: either a private throwaway cluster or an
/// external server named by `PGDBLINK_TEST_DSN`.
pub struct Server {
    kind: Kind,
}

enum Kind {
    Local(Local),
    External(External),
}

/// The process-wide shared server, started on first use.
///
/// Panics (in every caller) with the startup error text if it cannot be started.
pub fn shared() -> &'static Server {
    static SHARED: OnceLock<Result<Server, String>> = OnceLock::new();
    match SHARED.get_or_init(Server::start) {
        Ok(server) => server,
        Err(e) => panic!("could not start the test PostgreSQL server:\n{e}"),
    }
}

impl Server {
    /// Starts a new private cluster, or attaches to `PGDBLINK_TEST_DSN`.
    ///
    /// A private cluster is stopped and removed when the `Server` is dropped,
    /// or at process exit (for `shared()`, which is never dropped).
    pub fn start() -> Result<Server, String> {
        match env::var(DSN_ENV) {
            Ok(dsn) if !dsn.trim().is_empty() => Ok(Server {
                kind: Kind::External(External::attach(&dsn)?),
            }),
            _ => Ok(Server {
                kind: Kind::Local(Local::start()?),
            }),
        }
    }

    /// Starts a new private cluster set up as `opts` says, whatever
    /// `PGDBLINK_TEST_DSN` says (tests that need their own authentication or
    /// TLS setup cannot use an external server). Needs the PostgreSQL server
    /// binaries (see the module docs). Stopped and removed like
    /// [`start`](Self::start)'s.
    pub fn start_private(opts: &PrivateOptions) -> Result<Server, String> {
        Ok(Server {
            kind: Kind::Local(Local::start_with(opts)?),
        })
    }

    /// True when this is the server named by `PGDBLINK_TEST_DSN`.
    pub fn is_external(&self) -> bool {
        matches!(self.kind, Kind::External(_))
    }

    fn params(&self) -> Params {
        match &self.kind {
            Kind::Local(l) => Params(vec![
                ("host".into(), path_str(&l.sock)),
                ("port".into(), l.port.to_string()),
                ("user".into(), "postgres".into()),
                ("dbname".into(), "postgres".into()),
            ]),
            Kind::External(e) => e.params.clone(),
        }
    }

    /// key=value connection string of a superuser, database `postgres`
    /// (for a private cluster: over the unix socket).
    pub fn connstr(&self) -> String {
        self.params().to_string()
    }

    /// Like [`connstr`](Self::connstr) but for database `db`.
    pub fn connstr_db(&self, db: &str) -> String {
        let mut p = self.params();
        p.set("dbname", db);
        p.to_string()
    }

    /// key=value connection string using TCP (`host=127.0.0.1` unless the
    /// external DSN already names a TCP host).
    pub fn tcp_connstr(&self) -> String {
        let mut p = self.params();
        let tcp_host = p
            .get("host")
            .is_some_and(|h| !h.is_empty() && !h.starts_with('/') && !h.starts_with('@'));
        if !tcp_host {
            p.set("host", "127.0.0.1");
            p.set("port", &self.port().to_string());
        }
        p.to_string()
    }

    /// The server's port.
    pub fn port(&self) -> u16 {
        match &self.kind {
            Kind::Local(l) => l.port,
            Kind::External(e) => e
                .params
                .get("port")
                .map(str::to_owned)
                .or_else(|| env::var("PGPORT").ok())
                .and_then(|p| p.trim().parse().ok())
                .unwrap_or(5432),
        }
    }

    /// The unix socket directory, if known (None for an external server
    /// whose DSN does not name a socket directory as `host`).
    pub fn socket_dir(&self) -> Option<&Path> {
        match &self.kind {
            Kind::Local(l) => Some(&l.sock),
            Kind::External(e) => e.socket_dir.as_deref(),
        }
    }

    /// The directory of the PostgreSQL binaries (None for an external server).
    pub fn bindir(&self) -> Option<&Path> {
        match &self.kind {
            Kind::Local(l) => Some(&l.bindir),
            Kind::External(_) => None,
        }
    }

    /// The data directory (None for an external server).
    pub fn data_dir(&self) -> Option<&Path> {
        match &self.kind {
            Kind::Local(l) => Some(&l.data),
            Kind::External(_) => None,
        }
    }

    /// The last `lines` lines of the server log (empty for an external server).
    pub fn log_tail(&self, lines: usize) -> String {
        match &self.kind {
            Kind::Local(l) => tail(&l.log, lines),
            Kind::External(_) => String::new(),
        }
    }

    /// A TCP connection string to 127.0.0.1 on a port where nothing listens
    /// (connection attempts fail quickly with "connection refused").
    pub fn dead_port_connstr(&self) -> String {
        let mut p = self.params();
        p.remove("hostaddr");
        p.set("host", "127.0.0.1");
        p.set("port", &free_port().unwrap_or(1).to_string());
        p.set("connect_timeout", "5");
        p.to_string()
    }

    /// Runs `sql` (may hold several statements) with
    /// `psql -X -q -At -v ON_ERROR_STOP=1` in database `db`.
    ///
    /// Returns psql's stdout (one line per row, columns separated by `|`,
    /// without the final newline), or an error holding its stderr.
    pub fn psql(&self, db: &str, sql: &str) -> Result<String, String> {
        let psql = match &self.kind {
            Kind::Local(l) => l.psql.clone(),
            Kind::External(e) => e.psql.clone(),
        };
        run_psql(&psql, &self.connstr_db(db), sql)
    }

    /// Stops the server with `pg_ctl stop -m immediate` (all sessions are
    /// cut off) and starts it again on the same port and socket directory.
    ///
    /// Fails for an external server.
    pub fn restart_immediate(&self) -> Result<(), String> {
        match &self.kind {
            Kind::Local(l) => l.restart_immediate(),
            Kind::External(_) => Err(format!(
                "restart_immediate is not supported on an external server ({DSN_ENV})"
            )),
        }
    }
}

/// The value of the last `max_connections = N` line of `conf`, else 200.
fn max_connections(conf: &[String]) -> String {
    conf.iter()
        .rev()
        .find_map(|line| {
            let (key, value) = line.split_once('=')?;
            (key.trim() == "max_connections").then(|| value.trim().trim_matches('\'').to_owned())
        })
        .unwrap_or_else(|| "200".to_owned())
}

// ---------------------------------------------------------------------------
// External server
// ---------------------------------------------------------------------------

struct External {
    params: Params,
    socket_dir: Option<PathBuf>,
    psql: PathBuf,
}

impl External {
    fn attach(dsn: &str) -> Result<External, String> {
        let t = dsn.trim_start();
        if t.starts_with("postgres://") || t.starts_with("postgresql://") {
            return Err(format!(
                "{DSN_ENV} must be a key=value connection string, not a URI: {dsn:?}"
            ));
        }
        let params = Params::parse(dsn).map_err(|e| format!("cannot parse {DSN_ENV}: {e}"))?;
        let socket_dir = params
            .get("host")
            .filter(|h| h.starts_with('/'))
            .map(PathBuf::from);
        let psql = find_psql(None).ok_or_else(|| {
            format!(
                "psql not found (needed with {DSN_ENV}); install postgresql-client or set {BINDIR_ENV}"
            )
        })?;
        let ext = External {
            params,
            socket_dir,
            psql,
        };
        run_psql(&ext.psql, &ext.params.to_string(), "select 1")
            .map_err(|e| format!("cannot connect to {DSN_ENV} server ({dsn}):\n{e}"))?;
        let exists = run_psql(
            &ext.psql,
            &ext.params.to_string(),
            "select count(*) from pg_database where datname = 'oracle'",
        )?;
        if exists.trim() == "0" {
            if let Err(e) = run_psql(&ext.psql, &ext.params.to_string(), "create database oracle") {
                if !e.contains("already exists") {
                    return Err(format!("cannot create database oracle:\n{e}"));
                }
            }
        }
        let mut oracle = ext.params.clone();
        oracle.set("dbname", "oracle");
        create_dblink(&ext.psql, &oracle.to_string())?;
        Ok(ext)
    }
}

fn create_dblink(psql: &Path, connstr: &str) -> Result<(), String> {
    run_psql(psql, connstr, "create extension if not exists dblink").map_err(|e| {
        if e.contains("is not available") || e.contains("could not open extension control file") {
            format!(
                "the dblink extension is not installed on the server; install PostgreSQL contrib \
                 (Debian/Ubuntu: `apt-get install postgresql-contrib`):\n{e}"
            )
        } else {
            format!("cannot create extension dblink:\n{e}")
        }
    })?;
    Ok(())
}

// ---------------------------------------------------------------------------
// Private cluster
// ---------------------------------------------------------------------------

struct Local {
    bindir: PathBuf,
    psql: PathBuf,
    run_as: RunAs,
    dir: PathBuf,
    data: PathBuf,
    sock: PathBuf,
    log: PathBuf,
    port: u16,
    cleanup_id: usize,
    /// Serializes pg_ctl operations (restart_immediate).
    ctl: Mutex<()>,
    /// `max_connections`, given on the command line at every start.
    max_connections: String,
    /// Start with the soft RLIMIT_NOFILE raised to the hard one.
    raise_nofile: bool,
}

impl Local {
    fn start() -> Result<Local, String> {
        Local::start_with(&PrivateOptions::default())
    }

    fn start_with(opts: &PrivateOptions) -> Result<Local, String> {
        let bindir = find_bindir()?;
        let psql = find_psql(Some(&bindir))
            .ok_or_else(|| format!("psql not found in {} or PATH", bindir.display()))?;
        // SAFETY: geteuid takes no arguments and cannot fail.
        let root = unsafe { libc::geteuid() } == 0;
        let run_as = if root { RunAs::postgres()? } else { RunAs::Me };
        let dir = make_temp_dir(root)?;
        let data = dir.join("data");
        let sock = dir.join("sock");
        let log = dir.join("postgres.log");

        // From here on the directory is ours: register cleanup first so that
        // any failure below (or a crash) still removes it.
        let mut local = Local {
            bindir,
            psql,
            run_as,
            dir,
            data,
            sock,
            log,
            port: 0,
            cleanup_id: 0,
            ctl: Mutex::new(()),
            max_connections: max_connections(&opts.conf),
            raise_nofile: opts
                .conf
                .iter()
                .any(|l| l.trim_start().starts_with("max_files_per_process")),
        };
        local.cleanup_id = register_cleanup(&local);

        fs::create_dir(&local.sock)
            .map_err(|e| format!("cannot create {}: {e}", local.sock.display()))?;
        if root {
            run(
                &[
                    "chown".into(),
                    "-R".into(),
                    "postgres:postgres".into(),
                    path_str(&local.dir),
                ],
                None,
                None,
            )?;
        }

        let initdb = path_str(&local.bindir.join("initdb"));
        local
            .pg(&[
                &initdb,
                "-D",
                &path_str(&local.data),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ])
            .map_err(|e| format!("initdb failed:\n{e}"))?;
        local.configure(opts)?;

        let mut attempt = 0;
        loop {
            attempt += 1;
            local.port = free_port()?;
            match local.pg_ctl_start() {
                Ok(()) => break,
                Err(e) if attempt < 5 && e.contains("already in use") => {}
                Err(e) => return Err(e),
            }
        }

        let postgres_db = Params(vec![
            ("host".into(), path_str(&local.sock)),
            ("port".into(), local.port.to_string()),
            ("user".into(), "postgres".into()),
            ("dbname".into(), "postgres".into()),
        ]);
        run_psql(
            &local.psql,
            &postgres_db.to_string(),
            "create database oracle",
        )
        .map_err(|e| format!("cannot create database oracle:\n{e}"))?;
        let mut oracle_db = postgres_db.clone();
        oracle_db.set("dbname", "oracle");
        create_dblink(&local.psql, &oracle_db.to_string())?;
        Ok(local)
    }

    /// Applies [`PrivateOptions`] to the fresh data directory (before the
    /// first start). Nothing changes for the default options.
    fn configure(&self, opts: &PrivateOptions) -> Result<(), String> {
        let mut conf = String::new();
        if opts.ssl {
            self.make_certificate()?;
            conf.push_str("ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n");
        }
        for line in &opts.conf {
            conf.push_str(line);
            conf.push('\n');
        }
        if !conf.is_empty() {
            let path = self.data.join("postgresql.conf");
            fs::OpenOptions::new()
                .append(true)
                .open(&path)
                .and_then(|mut f| f.write_all(format!("\n{conf}").as_bytes()))
                .map_err(|e| format!("cannot append to {}: {e}", path.display()))?;
        }
        if let Some(rules) = &opts.hba {
            // The harness itself (psql, the oracle database) connects over the
            // unix socket: keep that trusted, then the caller's rules.
            let path = self.data.join("pg_hba.conf");
            let text = format!(
                "# written by pgdblink-testkit (tests/kit, PrivateOptions::hba)\n\
                 local all all trust\n{}\n",
                rules.trim_end()
            );
            fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        }
        Ok(())
    }

    /// A fresh self-signed certificate and key (`server.crt`, `server.key`)
    /// in the data directory, made with the `openssl` CLI as the server's
    /// user so that the server accepts the key's owner and mode.
    fn make_certificate(&self) -> Result<(), String> {
        let openssl =
            find_program("openssl", &["/usr/bin", "/bin", "/usr/local/bin"]).ok_or(OPENSSL_HINT)?;
        let key = path_str(&self.data.join("server.key"));
        let crt = path_str(&self.data.join("server.crt"));
        self.pg(&[
            &path_str(&openssl),
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "7",
            "-subj",
            "/CN=localhost",
            "-keyout",
            &key,
            "-out",
            &crt,
        ])
        .map_err(|e| format!("cannot make the test server's TLS certificate:\n{e}"))?;
        self.pg(&["chmod", "600", &key])
            .map_err(|e| format!("cannot chmod {key}:\n{e}"))?;
        Ok(())
    }

    /// Runs a PostgreSQL server program (as `postgres` when we are root).
    fn pg(&self, argv: &[&str]) -> Result<String, String> {
        let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
        run(&self.run_as.wrap(argv), Some(&self.dir), None)
    }

    fn pg_ctl_start(&self) -> Result<(), String> {
        let opts = format!(
            "-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off \
             -c synchronous_commit=off -c full_page_writes=off -c max_connections={max_conn} \
             -c shared_buffers=32MB -c unix_socket_permissions=0777",
            port = self.port,
            max_conn = sh_quote(&self.max_connections),
            sock = sh_quote(&path_str(&self.sock)),
        );
        let pg_ctl = path_str(&self.bindir.join("pg_ctl"));
        let (data, log) = (path_str(&self.data), path_str(&self.log));
        let start = [
            pg_ctl.as_str(),
            "-D",
            &data,
            "-l",
            &log,
            "-w",
            "-t",
            "60",
            "-o",
            &opts,
            "start",
        ];
        let raised = [
            "/bin/sh",
            "-c",
            "ulimit -n \"$(ulimit -Hn)\" 2>/dev/null; exec \"$@\"",
            "sh",
        ];
        let argv: Vec<&str> = if self.raise_nofile {
            raised.iter().chain(&start).copied().collect()
        } else {
            start.to_vec()
        };
        self.pg(&argv).map(drop).map_err(|e| {
            format!(
                "pg_ctl start failed:\n{e}\n--- server log ({}) ---\n{}",
                self.log.display(),
                tail(&self.log, 30)
            )
        })
    }

    fn stop_argv(&self) -> Vec<String> {
        self.run_as.wrap(vec![
            path_str(&self.bindir.join("pg_ctl")),
            "-D".into(),
            path_str(&self.data),
            "-m".into(),
            "immediate".into(),
            "-w".into(),
            "stop".into(),
        ])
    }

    fn restart_immediate(&self) -> Result<(), String> {
        let _guard = self.ctl.lock().unwrap_or_else(PoisonError::into_inner);
        run(&self.stop_argv(), Some(&self.dir), None)
            .map_err(|e| format!("pg_ctl stop -m immediate failed:\n{e}"))?;
        self.pg_ctl_start()
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        let cleanup = {
            let mut all = lock_cleanups();
            let index = all.iter().position(|c| c.id == self.cleanup_id);
            index.map(|i| all.swap_remove(i))
        };
        if let Some(c) = cleanup {
            c.run();
            if let Some(pid) = c.watchdog {
                // Reap the (now killed) watchdog.
                // SAFETY: `pid` is our own child; a NULL status pointer is allowed.
                unsafe {
                    libc::waitpid(pid, std::ptr::null_mut(), 0);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Cleanup at exit: atexit handler + detached watchdog process
// ---------------------------------------------------------------------------

struct Cleanup {
    id: usize,
    stop: Vec<String>,
    dir: PathBuf,
    watchdog: Option<libc::pid_t>,
}

impl Cleanup {
    fn run(&self) {
        if let Some((prog, args)) = self.stop.split_first() {
            let _ = Command::new(prog)
                .args(args)
                .current_dir("/")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        let _ = fs::remove_dir_all(&self.dir);
        if let Some(pid) = self.watchdog {
            // The watchdog runs in its own process group: end it and its `sleep`.
            // SAFETY: kill takes plain integers; `-pid` is the watchdog's own group.
            unsafe {
                libc::kill(-pid, libc::SIGTERM);
            }
        }
    }
}

static CLEANUPS: Mutex<Vec<Cleanup>> = Mutex::new(Vec::new());

fn lock_cleanups() -> MutexGuard<'static, Vec<Cleanup>> {
    CLEANUPS.lock().unwrap_or_else(PoisonError::into_inner)
}

extern "C" fn cleanup_at_exit() {
    let all = std::mem::take(&mut *lock_cleanups());
    for c in &all {
        c.run();
    }
}

fn register_cleanup(local: &Local) -> usize {
    static ATEXIT: Once = Once::new();
    static NEXT_ID: AtomicUsize = AtomicUsize::new(1);
    // SAFETY: `cleanup_at_exit` is an `extern "C" fn()` valid for the whole
    // program, which is all atexit requires.
    ATEXIT.call_once(|| unsafe {
        libc::atexit(cleanup_at_exit);
    });
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let stop = local.stop_argv();
    let watchdog = spawn_watchdog(&stop, &local.dir);
    lock_cleanups().push(Cleanup {
        id,
        stop,
        dir: local.dir.clone(),
        watchdog,
    });
    id
}

/// A detached shell that waits for this process to disappear (however it
/// dies) and then stops the cluster and removes its directory. Its stdio is
/// /dev/null so it never holds the test harness' pipes open, and it runs in
/// its own process group so a terminal ^C does not kill it first.
fn spawn_watchdog(stop: &[String], dir: &Path) -> Option<libc::pid_t> {
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {stop} >/dev/null 2>&1; rm -rf {dir}",
        pid = std::process::id(),
        stop = sh_join(stop),
        dir = sh_quote(&path_str(dir)),
    );
    let child = Command::new("/bin/sh")
        .arg("-c")
        .arg(script)
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .ok()?;
    libc::pid_t::try_from(child.id()).ok()
}

// ---------------------------------------------------------------------------
// Running commands
// ---------------------------------------------------------------------------

#[derive(Clone)]
enum RunAs {
    Me,
    Runuser(PathBuf),
    Su(PathBuf),
}

impl RunAs {
    fn postgres() -> Result<RunAs, String> {
        let name = CString::new("postgres").expect("no NUL in literal");
        // SAFETY: `name` is a valid C string for the call; only the returned
        // pointer's nullness is read.
        if unsafe { libc::getpwnam(name.as_ptr()) }.is_null() {
            return Err(format!(
                "running as root, but there is no `postgres` system user to run initdb/postgres as; \
                 {INSTALL_HINT}"
            ));
        }
        if let Some(p) = find_program("runuser", &["/usr/sbin", "/sbin", "/usr/bin", "/bin"]) {
            return Ok(RunAs::Runuser(p));
        }
        if let Some(p) = find_program("su", &["/usr/bin", "/bin"]) {
            return Ok(RunAs::Su(p));
        }
        Err(
            "running as root, but neither runuser nor su was found to switch to the postgres user"
                .into(),
        )
    }

    fn wrap(&self, argv: Vec<String>) -> Vec<String> {
        match self {
            RunAs::Me => argv,
            RunAs::Runuser(r) => [path_str(r), "-u".into(), "postgres".into(), "--".into()]
                .into_iter()
                .chain(argv)
                .collect(),
            RunAs::Su(su) => vec![
                path_str(su),
                "postgres".into(),
                "-s".into(),
                "/bin/sh".into(),
                "-c".into(),
                sh_join(&argv),
            ],
        }
    }
}

/// Runs argv, returning stdout; on failure an error with the command,
/// exit status, stdout and stderr.
fn run(argv: &[String], cwd: Option<&Path>, stdin: Option<&str>) -> Result<String, String> {
    let (prog, args) = argv.split_first().ok_or("empty command")?;
    let mut cmd = Command::new(prog);
    cmd.args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(cwd) = cwd {
        cmd.current_dir(cwd);
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", sh_join(argv)))?;
    let writer = match (stdin, child.stdin.take()) {
        (Some(input), Some(mut pipe)) => {
            let input = input.to_owned();
            Some(std::thread::spawn(move || {
                let _ = pipe.write_all(input.as_bytes());
            }))
        }
        _ => None,
    };
    let out = child
        .wait_with_output()
        .map_err(|e| format!("cannot run {}: {e}", sh_join(argv)))?;
    if let Some(w) = writer {
        let _ = w.join();
    }
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ok(stdout)
    } else {
        Err(format!(
            "command failed ({}): {}\n{}{}",
            out.status,
            sh_join(argv),
            stdout,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn run_psql(psql: &Path, connstr: &str, sql: &str) -> Result<String, String> {
    let argv = vec![
        path_str(psql),
        "-X".into(),
        "-q".into(),
        "-At".into(),
        "-v".into(),
        "ON_ERROR_STOP=1".into(),
        "-d".into(),
        connstr.into(),
        "-f".into(),
        "-".into(),
    ];
    let mut out = run(&argv, None, Some(sql))?;
    if out.ends_with('\n') {
        out.pop();
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Finding binaries, directories, ports
// ---------------------------------------------------------------------------

fn has_server_bins(dir: &Path) -> bool {
    dir.join("initdb").is_file() && dir.join("pg_ctl").is_file()
}

/// Version-sorted (highest first) `<prefix><version><suffix>` directories.
fn versioned_dirs(parent: &str, prefix: &str, suffix: &str) -> Vec<PathBuf> {
    let mut found: Vec<(Vec<u32>, PathBuf)> = fs::read_dir(parent)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let version = name.strip_prefix(prefix)?;
            let key: Vec<u32> = version
                .split('.')
                .map(|p| p.parse().ok())
                .collect::<Option<_>>()?;
            Some((key, entry.path().join(suffix)))
        })
        .collect();
    found.sort_by(|a, b| b.0.cmp(&a.0));
    found.into_iter().map(|(_, p)| p).collect()
}

fn find_bindir() -> Result<PathBuf, String> {
    if let Some(dir) = env::var_os(BINDIR_ENV).filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        return if has_server_bins(&dir) {
            Ok(dir)
        } else {
            Err(format!(
                "{BINDIR_ENV}={} does not contain initdb and pg_ctl; {INSTALL_HINT}",
                dir.display()
            ))
        };
    }
    let mut candidates = versioned_dirs("/usr/lib/postgresql", "", "bin");
    candidates.extend(versioned_dirs("/usr", "pgsql-", "bin"));
    candidates.push(PathBuf::from("/usr/local/pgsql/bin"));
    if let Ok(out) = Command::new("pg_config")
        .arg("--bindir")
        .stderr(Stdio::null())
        .output()
    {
        if out.status.success() {
            candidates.push(PathBuf::from(
                String::from_utf8_lossy(&out.stdout).trim().to_owned(),
            ));
        }
    }
    candidates.extend(path_dirs());
    candidates
        .into_iter()
        .find(|d| has_server_bins(d))
        .ok_or_else(|| {
            format!("PostgreSQL server binaries (initdb, pg_ctl) not found; {INSTALL_HINT}")
        })
}

fn find_psql(bindir: Option<&Path>) -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = bindir.map(Path::to_path_buf).into_iter().collect();
    candidates.extend(
        env::var_os(BINDIR_ENV)
            .filter(|d| !d.is_empty())
            .map(PathBuf::from),
    );
    candidates.extend(versioned_dirs("/usr/lib/postgresql", "", "bin"));
    candidates.extend(path_dirs());
    candidates
        .into_iter()
        .map(|d| d.join("psql"))
        .find(|p| p.is_file())
}

fn path_dirs() -> Vec<PathBuf> {
    env::var_os("PATH")
        .map(|p| env::split_paths(&p).collect())
        .unwrap_or_default()
}

fn find_program(name: &str, dirs: &[&str]) -> Option<PathBuf> {
    dirs.iter()
        .map(PathBuf::from)
        .chain(path_dirs())
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Every ancestor of `dir` (and `dir` itself) lets others search it.
fn traversable_by_others(dir: &Path) -> bool {
    let Ok(dir) = dir.canonicalize() else {
        return false;
    };
    dir.ancestors().all(|d| {
        fs::metadata(d)
            .map(|m| m.permissions().mode() & 0o001 != 0)
            .unwrap_or(false)
    })
}

/// A fresh directory `pgdblink-test-<pid>-<n>` under the temp dir (or /tmp
/// if the temp dir is not usable by the postgres user or too long for a
/// unix socket path).
fn make_temp_dir(root: bool) -> Result<PathBuf, String> {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let mut base = env::temp_dir();
    // "<base>/pgdblink-test-<pid>-<n>/sock/.s.PGSQL.<port>" must fit in sun_path (108).
    if base.as_os_str().len() > 50 || (root && !traversable_by_others(&base)) {
        base = PathBuf::from("/tmp");
    }
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = base.join(format!("pgdblink-test-{}-{n}", std::process::id()));
        match fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(format!("cannot create {}: {e}", dir.display())),
        }
    }
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .map_err(|e| format!("cannot bind 127.0.0.1:0 to find a free port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("cannot read the bound port: {e}"))
}

fn tail(file: &Path, lines: usize) -> String {
    match fs::read(file) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(e) => format!("(cannot read {}: {e})", file.display()),
    }
}

fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// Quotes `s` for /bin/sh.
fn sh_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/-_.,:=@%+".contains(c))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

fn sh_join(argv: &[String]) -> String {
    argv.iter()
        .map(|a| sh_quote(a))
        .collect::<Vec<_>>()
        .join(" ")
}

// ---------------------------------------------------------------------------
// libpq key=value connection strings
// ---------------------------------------------------------------------------

/// Ordered key=value connection parameters.
#[derive(Clone, Debug, Default)]
struct Params(Vec<(String, String)>);

impl Params {
    /// Parses a libpq `key=value` string (values optionally single-quoted,
    /// backslash escapes `\'` and `\\`).
    fn parse(s: &str) -> Result<Params, String> {
        let mut params = Params::default();
        let mut chars = s.chars().peekable();
        loop {
            while chars.next_if(|c| c.is_whitespace()).is_some() {}
            if chars.peek().is_none() {
                return Ok(params);
            }
            let mut key = String::new();
            while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_whitespace()) {
                key.push(c);
            }
            while chars.next_if(|c| c.is_whitespace()).is_some() {}
            if chars.next() != Some('=') {
                return Err(format!("missing \"=\" after {key:?}"));
            }
            while chars.next_if(|c| c.is_whitespace()).is_some() {}
            let mut value = String::new();
            if chars.next_if_eq(&'\'').is_some() {
                loop {
                    match chars.next() {
                        None => return Err("unterminated quoted string".into()),
                        Some('\'') => break,
                        Some('\\') => value.extend(chars.next()),
                        Some(c) => value.push(c),
                    }
                }
            } else {
                while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                    if c == '\\' {
                        value.extend(chars.next());
                    } else {
                        value.push(c);
                    }
                }
            }
            params.set(&key, &value);
        }
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn set(&mut self, key: &str, value: &str) {
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value.to_owned(),
            None => self.0.push((key.to_owned(), value.to_owned())),
        }
    }

    fn remove(&mut self, key: &str) {
        self.0.retain(|(k, _)| k != key);
    }
}

impl std::fmt::Display for Params {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{k}={}", conninfo_quote(v))?;
        }
        Ok(())
    }
}

/// Quotes a connection-string value if needed.
pub fn conninfo_quote(v: &str) -> String {
    if !v.is_empty()
        && !v
            .chars()
            .any(|c| c.is_whitespace() || c == '\'' || c == '\\')
    {
        v.to_owned()
    } else {
        format!("'{}'", v.replace('\\', r"\\").replace('\'', r"\'"))
    }
}
