//! `PgResult`: the one owner of a `PGresult`.

use std::ffi::CStr;
use std::os::raw::c_int;
use std::ptr::NonNull;

/// What kind of result libpq produced (`PQresultStatus`, grouped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResultKind {
    /// PGRES_COMMAND_OK.
    Command,
    /// PGRES_TUPLES_OK: the whole result, or the end of a streamed one.
    Tuples,
    /// PGRES_SINGLE_TUPLE / PGRES_TUPLES_CHUNK: one piece of a streamed result.
    Chunk,
    /// Anything else (errors, empty query, COPY, pipeline states).
    Other,
    /// PGRES_COPY_IN (only from [`PgResult::copy_direction`]).
    CopyIn,
    /// PGRES_COPY_OUT (only from [`PgResult::copy_direction`]).
    CopyOut,
    /// PGRES_COPY_BOTH (only from [`PgResult::copy_direction`]).
    CopyBoth,
}

/// A query result. `Drop` calls `PQclear`; nothing else does.
pub(crate) struct PgResult {
    raw: NonNull<pq_sys::PGresult>,
}

// SAFETY: a PGresult is not tied to its connection or thread once returned,
// and libpq never mutates it after handing it out; only `Drop` frees it.
unsafe impl Send for PgResult {}
// SAFETY: every `&self` method only reads the immutable PGresult.
unsafe impl Sync for PgResult {}

impl PgResult {
    /// Takes ownership of a PGresult; `None` for NULL.
    ///
    /// # Safety
    /// `raw` must be NULL or a PGresult that nothing else will free.
    pub(super) unsafe fn from_raw(raw: *mut pq_sys::PGresult) -> Option<PgResult> {
        NonNull::new(raw).map(|raw| PgResult { raw })
    }

    fn ptr(&self) -> *const pq_sys::PGresult {
        self.raw.as_ptr()
    }

    pub(crate) fn kind(&self) -> ResultKind {
        use pq_sys::ExecStatusType as S;
        // SAFETY: `self.raw` is a live PGresult.
        match unsafe { pq_sys::PQresultStatus(self.ptr()) } {
            S::PGRES_COMMAND_OK => ResultKind::Command,
            S::PGRES_TUPLES_OK => ResultKind::Tuples,
            S::PGRES_SINGLE_TUPLE => ResultKind::Chunk,
            #[cfg(not(pgdblink_libpq_pre17))]
            S::PGRES_TUPLES_CHUNK => ResultKind::Chunk,
            _ => ResultKind::Other,
        }
    }

    /// The direction of the COPY this result started, if it started one
    /// (which the dblink functions do not drive).
    pub(crate) fn copy_direction(&self) -> Option<ResultKind> {
        use pq_sys::ExecStatusType as S;
        // SAFETY: `self.raw` is a live PGresult.
        match unsafe { pq_sys::PQresultStatus(self.ptr()) } {
            S::PGRES_COPY_IN => Some(ResultKind::CopyIn),
            S::PGRES_COPY_OUT => Some(ResultKind::CopyOut),
            S::PGRES_COPY_BOTH => Some(ResultKind::CopyBoth),
            _ => None,
        }
    }

    pub(crate) fn ntuples(&self) -> usize {
        // SAFETY: `self.raw` is a live PGresult.
        usize::try_from(unsafe { pq_sys::PQntuples(self.ptr()) }).unwrap_or(0)
    }

    pub(crate) fn nfields(&self) -> usize {
        // SAFETY: `self.raw` is a live PGresult.
        usize::try_from(unsafe { pq_sys::PQnfields(self.ptr()) }).unwrap_or(0)
    }

    /// The name of column `col`; `None` when out of range (checked here:
    /// libpq would also complain about it on stderr).
    pub(crate) fn fname(&self, col: usize) -> Option<&CStr> {
        if col >= self.nfields() {
            return None;
        }
        let col = c_int::try_from(col).ok()?;
        // SAFETY: `self.raw` is live; PQfname checks the index and returns
        // NULL when out of range, else a string owned by the PGresult, which
        // lives as long as `&self`.
        let p = unsafe { pq_sys::PQfname(self.ptr(), col) };
        // SAFETY: non-NULL `p` is a NUL-terminated string inside the PGresult.
        (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) })
    }

    /// The text of a cell; `None` for SQL NULL. Indexes must be in range
    /// (checked by the caller against `ntuples`/`nfields`).
    pub(crate) fn value(&self, row: usize, col: usize) -> Option<&CStr> {
        debug_assert!(row < self.ntuples() && col < self.nfields());
        let (r, c) = (c_int::try_from(row).ok()?, c_int::try_from(col).ok()?);
        // SAFETY: `self.raw` is live and libpq range-checks both indexes.
        if unsafe { pq_sys::PQgetisnull(self.ptr(), r, c) } != 0 {
            return None;
        }
        // SAFETY: as above; the value is owned by the PGresult and is
        // NUL-terminated (text format), living as long as `&self`.
        let p = unsafe { pq_sys::PQgetvalue(self.ptr(), r, c) };
        // SAFETY: non-NULL `p` points into the PGresult.
        (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) })
    }

    /// `PQcmdStatus` as it is in the result, e.g. "INSERT 0 1".
    pub(crate) fn cmd_status_cstr(&self) -> &CStr {
        // SAFETY: `self.raw` is live; PQcmdStatus does not modify the result
        // and returns a NUL-terminated string inside it (never NULL for a
        // live result), which lives as long as `&self`.
        unsafe { CStr::from_ptr(pq_sys::PQcmdStatus(self.raw.as_ptr())) }
    }

    /// `PQcmdStatus`, e.g. "CREATE TABLE".
    pub(crate) fn cmd_status(&self) -> String {
        // SAFETY: `self.raw` is live; PQcmdStatus takes a mutable pointer for
        // historical reasons but does not modify the result.
        unsafe { super::owned_text(pq_sys::PQcmdStatus(self.raw.as_ptr())) }.unwrap_or_default()
    }

    /// One diagnostic field (`PQresultErrorField`, e.g. `PG_DIAG_SQLSTATE`).
    pub(crate) fn error_field(&self, code: u8) -> Option<String> {
        // SAFETY: `self.raw` is live; the field is copied out immediately.
        unsafe { super::owned_text(pq_sys::PQresultErrorField(self.ptr(), c_int::from(code))) }
    }
}

impl Drop for PgResult {
    fn drop(&mut self) {
        // SAFETY: `self.raw` is owned only by `self` and cleared exactly once.
        unsafe { pq_sys::PQclear(self.raw.as_ptr()) }
    }
}

/// A result that marks a place in a pipeline rather than a statement's
/// outcome (see [`PgResult::pipeline_mark`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PipelineMark {
    /// PGRES_PIPELINE_SYNC: a sync point was reached.
    Sync,
    /// PGRES_PIPELINE_ABORTED: the statement was skipped after an error.
    Aborted,
}

// Pipelines, and dblink()'s single-row reading (src/api/sync.rs).
impl PgResult {
    /// Whether this result is a pipeline's sync point or an aborted
    /// statement.
    pub(crate) fn pipeline_mark(&self) -> Option<PipelineMark> {
        use pq_sys::ExecStatusType as S;
        // SAFETY: `self.raw` is a live PGresult.
        match unsafe { pq_sys::PQresultStatus(self.ptr()) } {
            S::PGRES_PIPELINE_SYNC => Some(PipelineMark::Sync),
            S::PGRES_PIPELINE_ABORTED => Some(PipelineMark::Aborted),
            _ => None,
        }
    }

    /// A copy of this result (its columns and rows) that more rows can be
    /// appended to ([`PgResult::append_rows`]); `None` when out of memory.
    pub(crate) fn to_accumulator(&self) -> Option<PgResult> {
        let flags = (pq_sys::PG_COPYRES_ATTRS | pq_sys::PG_COPYRES_TUPLES) as c_int;
        // SAFETY: `self.raw` is live; PQcopyResult returns NULL or a new
        // PGresult that the new PgResult owns.
        unsafe { PgResult::from_raw(pq_sys::PQcopyResult(self.ptr(), flags)) }
    }

    /// Appends the rows of `other` (same columns) to this result, which
    /// must be one made by [`PgResult::to_accumulator`]; false when out of
    /// memory or the shapes differ.
    pub(crate) fn append_rows(&mut self, other: &PgResult) -> bool {
        let nfields = self.nfields();
        if other.nfields() != nfields {
            return false;
        }
        let base = self.ntuples();
        for row in 0..other.ntuples() {
            let (Ok(src), Ok(dst)) = (c_int::try_from(row), c_int::try_from(base + row)) else {
                return false;
            };
            for col in 0..nfields {
                let Ok(c) = c_int::try_from(col) else {
                    return false;
                };
                // SAFETY: `other.raw` is live and the indexes are in range;
                // the value is valid while `other` lives, and PQsetvalue
                // copies it into `self`, which we own exclusively (`&mut`):
                // no other reference to this PGresult exists.
                let ok = unsafe {
                    let (value, len) = if pq_sys::PQgetisnull(other.ptr(), src, c) != 0 {
                        (std::ptr::null_mut(), -1)
                    } else {
                        (
                            pq_sys::PQgetvalue(other.ptr(), src, c),
                            pq_sys::PQgetlength(other.ptr(), src, c),
                        )
                    };
                    pq_sys::PQsetvalue(self.raw.as_ptr(), dst, c, value, len)
                };
                if ok == 0 {
                    return false;
                }
            }
        }
        true
    }

    /// The row count of a command's status (`PQcmdTuples`), 0 when it has
    /// none.
    pub(crate) fn cmd_tuples(&self) -> u64 {
        // SAFETY: `self.raw` is live; PQcmdTuples takes a mutable pointer for
        // historical reasons but does not modify the result.
        unsafe { super::owned_text(pq_sys::PQcmdTuples(self.raw.as_ptr())) }
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }
}
