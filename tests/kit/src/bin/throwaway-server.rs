//! throwaway-server: start a throwaway PostgreSQL server (see the
//! `pgdblink-testkit` docs; `PGDBLINK_TEST_DSN` and `PG_BINDIR` apply), print
//! its key=value connection string on stdout as one line, then wait until
//! stdin closes or SIGINT/SIGTERM/SIGHUP arrives, and stop and remove it.
//!
//! ```text
//! coproc SERVER { throwaway-server; }
//! read -r PGDBLINK_DSN <&"${SERVER[0]}"
//! ...
//! exec {SERVER[1]}>&-; wait "$SERVER_PID"   # stops and removes the cluster
//! ```
//!
//! Progress and errors go to stderr; the exit status is 1 when the server
//! cannot be started.

use std::io::{Read as _, Write as _};

use pgdblink_testkit::Server;

const SIGNALS: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

fn main() {
    let server = match Server::start() {
        Ok(server) => server,
        Err(e) => {
            eprintln!("throwaway-server: could not start the server:\n{e}");
            std::process::exit(1);
        }
    };
    // From here on the signals are taken with sigwait in this thread (the
    // reader thread below inherits the mask), so that they end the wait
    // instead of the process, and the cluster is removed on the way out.
    // (The commands the kit runs later reset their mask: std's Command does.)
    let set = signal_set();
    // SAFETY: `set` is an initialized sigset_t; a NULL old-set pointer is allowed.
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    if rc != 0 {
        eprintln!("throwaway-server: pthread_sigmask failed ({rc})");
    }

    let mut out = std::io::stdout().lock();
    if writeln!(out, "{}", server.connstr())
        .and_then(|()| out.flush())
        .is_err()
    {
        eprintln!("throwaway-server: cannot write the DSN to stdout");
        drop(server);
        std::process::exit(1);
    }
    drop(out);
    if !server.is_external() {
        eprintln!(
            "throwaway-server: PostgreSQL running (data directory {}); \
             close stdin or send SIGTERM to stop and remove it",
            server
                .data_dir()
                .map_or_else(String::new, |d| d.display().to_string())
        );
    }

    // Stdin reaching EOF (or failing) ends the wait with a SIGTERM to ourselves.
    std::thread::spawn(|| {
        let mut sink = [0u8; 4096];
        let mut stdin = std::io::stdin().lock();
        while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
        // SAFETY: kill takes plain integers; our own pid and SIGTERM.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGTERM);
        }
    });

    let mut sig: libc::c_int = 0;
    // SAFETY: `set` is an initialized sigset_t and `sig` a valid out-pointer.
    let rc = unsafe { libc::sigwait(&set, &mut sig) };
    if rc != 0 {
        eprintln!("throwaway-server: sigwait failed ({rc})");
    }
    drop(server); // stops the cluster and removes its directory
}

fn signal_set() -> libc::sigset_t {
    // SAFETY: sigset_t is plain data; sigemptyset initializes it below before
    // any other use.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` points to a sigset_t we own; the signal numbers are valid.
    unsafe {
        libc::sigemptyset(&mut set);
        for s in SIGNALS {
            libc::sigaddset(&mut set, s);
        }
    }
    set
}
