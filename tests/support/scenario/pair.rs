//! Pair: the Rust tests' way to run calls in both worlds.

use super::outcome::Outcome;
use super::world::{PgdblinkCall, Side, World};
use crate::support::server::{Server, shared};

/// Both worlds, for Rust tests that run calls step by step (threads, faults,
/// process-wide state): [`Pair::step`] runs a statement in the oracle world,
/// then in the pgdblink world, and asserts that their rendered outcomes are
/// equal. Names are the test's own (`unique_name`): the tests of a binary
/// run in parallel and pgdblink's registry is process-wide.
pub struct Pair {
    pub theirs: World,
    pub mine: World,
}

impl Default for Pair {
    fn default() -> Self {
        Pair::new()
    }
}

impl Pair {
    pub fn new() -> Pair {
        Pair::on(shared())
    }

    pub fn on(server: &Server) -> Pair {
        Pair {
            theirs: World::new(Side::Dblink, server),
            mine: World::new(Side::Pgdblink, server),
        }
    }

    /// Defines `:name` as `value` in both worlds (not masked).
    pub fn set(&mut self, name: &str, value: &str) {
        self.theirs.vars.set(name, value, false);
        self.mine.vars.set(name, value, false);
    }

    /// Runs `statement` in both worlds; panics if the outcomes differ.
    /// Returns the (common) outcome, as the oracle gave it.
    #[track_caller]
    pub fn step(&mut self, statement: &str) -> Outcome {
        let (theirs, mine) = self.both(statement);
        self.assert_same(statement, &theirs, &mine);
        theirs
    }

    /// Runs `statement` in both worlds and returns both outcomes.
    pub fn both(&mut self, statement: &str) -> (Outcome, Outcome) {
        (self.theirs.run(statement), self.mine.run(statement))
    }

    /// A per-world identifier `:name` (a LISTEN channel, say).
    pub fn unique(&mut self, name: &str) {
        self.theirs.define_unique(name);
        self.mine.define_unique(name);
    }

    /// The oracle's server_version_num.
    pub fn oracle_version(&mut self) -> i32 {
        self.theirs.server_version()
    }
}

impl Pair {
    /// Like [`step`](Self::step), with pgdblink's call run by `exec` (see
    /// [`World::run_via`]).
    #[track_caller]
    pub fn step_via(
        &mut self,
        statement: &str,
        exec: impl FnOnce(PgdblinkCall) -> Outcome,
    ) -> Outcome {
        let theirs = self.theirs.run(statement);
        let mine = self.mine.run_via(statement, exec);
        self.assert_same(statement, &theirs, &mine);
        theirs
    }

    /// Panics unless the two worlds' outcomes of `statement`, each run on
    /// its own (e.g. in threads), render the same.
    #[track_caller]
    pub fn assert_same(&self, statement: &str, theirs: &Outcome, mine: &Outcome) {
        let (t, m) = (self.theirs.render(theirs), self.mine.render(mine));
        assert_eq!(
            t, m,
            "pgdblink differs from dblink in: {statement}\n--- dblink\n{t}--- pgdblink\n{m}"
        );
    }
}
