//! Running the test's own child programs (C tests, examples) with a bound.

use std::process::{Child, Output};
use std::time::{Duration, Instant};

/// How long one child program may run before it is killed.
pub const RUN_LIMIT: Duration = Duration::from_secs(120);

/// A program's exit status and output, for failure messages.
pub fn show(out: &Output) -> String {
    format!(
        "status: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Waits for `child`, killing it (and failing) after [`RUN_LIMIT`].
pub fn wait_limited(mut child: Child, what: &str) -> Output {
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if start.elapsed() > RUN_LIMIT => {
                // Our own child, killed by its handle.
                let _ = child.kill();
                let out = child
                    .wait_with_output()
                    .expect("collect the killed program");
                panic!(
                    "{what} ran longer than {RUN_LIMIT:?} and was killed\n{}",
                    show(&out)
                );
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("waiting for {what}: {e}"),
        }
    }
    child
        .wait_with_output()
        .expect("collect the program's output")
}
