//! The differential core: one dblink call, written in dblink's own SQL call
//! syntax, run through the real dblink (verbatim, in an oracle session) and
//! through pgdblink (a small parser maps it to the Rust call, or to the C
//! ABI's), with every outcome in one comparable form.
//!
//! Two users: the scenario runner (`tests/scenarios.rs`, scenario files in
//! `tests/scenarios/`, the language in CONTRIBUTING.md "Adding a
//! scenario"), and the Rust tests that need threads, faults or process-wide
//! state ([`Pair`]: the same calls, step by step, in the oracle and the
//! Rust worlds).
//!
//! A [`World`] is one [`Side`]: the oracle world sends each statement to its
//! session on database `oracle`; the pgdblink world parses it ([`Call`]) and
//! calls pgdblink's Rust API ([`dispatch`](rust::dispatch)); the C world
//! parses it the same way and calls the C ABI, `pgdblink::ffi`
//! ([`dispatch_c`]: the same overload resolution, the header's encodings
//! decoded, NOTICEs through a C callback). The library worlds evaluate any
//! argument that is not a literal in a plain session. Each world has its
//! own per-world values (LISTEN channels, tables, backend pids:
//! [`World::define_unique`]), and every outcome is rendered with those
//! values masked back to their `:name`, so the worlds' transcripts compare
//! verbatim.
#![allow(dead_code)]
// An outcome is a `Result<Value, Report>` (as [`Outcome`] holds it), the C
// world's functions return one.
#![allow(clippy::result_large_err)]

mod c_abi;
mod local;
mod outcome;
mod pair;
mod parse;
mod resolve;
mod rust;
mod text_array;
mod vars;
mod world;

pub use c_abi::dispatch_c;
pub use outcome::{Outcome, Value, is_outcome_line};
pub use pair::Pair;
pub use parse::{Arg, Call, Shape};
pub use vars::{Vars, interpolate_by};
pub use world::{PgdblinkCall, Side, World, project};
