//! Borrowed rows of a [`DblinkResult`]: access by column index or name,
//! raw bytes, and typed values through `FromStr`.

use std::str::FromStr;

use crate::error::{Error, Result};
use crate::result::DblinkResult;

/// SQLSTATEs of the row accessors' errors.
const UNDEFINED_COLUMN: &str = "42703";
const INVALID_TEXT_REPRESENTATION: &str = "22P02";

/// A column, by position (from 0) or by name, for the [`Row`] accessors.
/// Implemented for `usize` and `&str`; sealed.
pub trait ColumnIndex: sealed::Sealed {
    /// The column's position in `res`: 42703 `column "x" does not exist`,
    /// 22023 for a position out of range.
    fn position(&self, res: &DblinkResult) -> Result<usize>;
    /// How the column is named in messages.
    fn describe(&self, res: &DblinkResult) -> String;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for usize {}
    impl Sealed for &str {}
}

impl ColumnIndex for usize {
    fn position(&self, res: &DblinkResult) -> Result<usize> {
        if *self < res.nfields() {
            return Ok(*self);
        }
        Err(Error::new(
            crate::sqlstate::INVALID_PARAMETER_VALUE,
            format!(
                "column {self} is out of range: the result has {} columns",
                res.nfields()
            ),
        ))
    }

    fn describe(&self, res: &DblinkResult) -> String {
        match res.fname(*self) {
            Some(name) => format!("column \"{name}\""),
            None => format!("column {self}"),
        }
    }
}

impl ColumnIndex for &str {
    fn position(&self, res: &DblinkResult) -> Result<usize> {
        res.column_index(self).ok_or_else(|| {
            Error::new(
                UNDEFINED_COLUMN,
                format!("column \"{self}\" does not exist"),
            )
        })
    }

    fn describe(&self, _res: &DblinkResult) -> String {
        format!("column \"{self}\"")
    }
}

/// One row of a result, borrowed from it (no copy of its values).
/// `Send + Sync` like the result.
///
/// ```rust,no_run
/// let res = pgdblink::dblink(Some("a"), "select 1 as id, 'x' as name, null::int as n", true)?;
/// for row in res.iter() {
///     let id: i32 = row.parse("id")?.expect("not NULL");
///     assert_eq!(row.get(1)?, Some("x"));
///     assert_eq!(row.bytes("name")?, Some(&b"x"[..]));
///     assert_eq!(row.parse::<i32, _>("n")?, None); // SQL NULL: Ok(None), not an error
///     assert!(row.parse::<i32, _>("name").is_err()); // 22P02, naming the column and the text
///     assert!(row.get("nope").is_err()); // 42703
/// }
/// # Ok::<(), pgdblink::Error>(())
/// ```
#[derive(Clone, Copy)]
pub struct Row<'a> {
    res: &'a DblinkResult,
    row: usize,
}

impl std::fmt::Debug for Row<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let values: Vec<Option<&str>> =
            (0..self.len()).map(|c| self.res.get(self.row, c)).collect();
        f.debug_struct("Row")
            .field("index", &self.row)
            .field("values", &values)
            .finish()
    }
}

impl<'a> Row<'a> {
    /// The row's position in its result (from 0).
    ///
    /// ```rust,no_run
    /// let res = pgdblink::dblink(Some("a"), "select 1", true)?;
    /// assert_eq!(res.iter().next().map(|r| r.index()), Some(0));
    /// # Ok::<(), pgdblink::Error>(())
    /// ```
    #[must_use]
    pub fn index(&self) -> usize {
        self.row
    }

    /// The number of columns.
    ///
    /// ```rust,no_run
    /// let res = pgdblink::dblink(Some("a"), "select 1, 2", true)?;
    /// assert_eq!(res.iter().next().map(|r| r.len()), Some(2));
    /// # Ok::<(), pgdblink::Error>(())
    /// ```
    #[must_use]
    pub fn len(&self) -> usize {
        self.res.nfields()
    }

    /// Whether the row has no columns.
    ///
    /// ```rust,no_run
    /// let res = pgdblink::dblink(Some("a"), "select", true)?;
    /// assert!(res.iter().all(|r| r.is_empty()));
    /// # Ok::<(), pgdblink::Error>(())
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The text of a column: `Ok(None)` for SQL NULL; `Err` for an unknown
    /// column (42703, or 22023 for a position out of range).
    ///
    /// ```rust,no_run
    /// let res = pgdblink::dblink(Some("a"), "select 'x' as name", true)?;
    /// let row = res.iter().next().expect("a row");
    /// assert_eq!(row.get("name")?, Some("x"));
    /// # Ok::<(), pgdblink::Error>(())
    /// ```
    pub fn get(&self, col: impl ColumnIndex) -> Result<Option<&'a str>> {
        let c = col.position(self.res)?;
        match self.res.value_cstr(self.row, c) {
            None => Ok(None),
            Some(v) => v.to_str().map(Some).map_err(|_| {
                Error::new(
                    crate::sqlstate::CHARACTER_NOT_IN_REPERTOIRE,
                    format!("{} holds text that is not UTF-8", col.describe(self.res)),
                )
            }),
        }
    }

    /// The raw bytes of a column (the server's text form, without a
    /// terminating NUL): `Ok(None)` for SQL NULL.
    ///
    /// ```rust,no_run
    /// let res = pgdblink::dblink(Some("a"), "select 'x'::bytea as b", true)?;
    /// let row = res.iter().next().expect("a row");
    /// assert_eq!(row.bytes("b")?, Some(&b"\\x78"[..]));
    /// # Ok::<(), pgdblink::Error>(())
    /// ```
    pub fn bytes(&self, col: impl ColumnIndex) -> Result<Option<&'a [u8]>> {
        let c = col.position(self.res)?;
        Ok(self.res.value_cstr(self.row, c).map(|v| v.to_bytes()))
    }

    /// Whether a column is SQL NULL.
    ///
    /// ```rust,no_run
    /// let res = pgdblink::dblink(Some("a"), "select null::int as n", true)?;
    /// assert!(res.iter().next().expect("a row").is_null("n")?);
    /// # Ok::<(), pgdblink::Error>(())
    /// ```
    pub fn is_null(&self, col: impl ColumnIndex) -> Result<bool> {
        let c = col.position(self.res)?;
        Ok(self.res.value_cstr(self.row, c).is_none())
    }

    /// A column's value parsed with `FromStr`: `Ok(None)` for SQL NULL;
    /// `Err` 22P02 naming the column, the text and the type when it does not
    /// parse, or the errors of [`Row::get`].
    ///
    /// ```rust,no_run
    /// let res = pgdblink::dblink(Some("a"), "select 42 as answer, 'forty' as word", true)?;
    /// let row = res.iter().next().expect("a row");
    /// assert_eq!(row.parse::<u8, _>("answer")?, Some(42));
    /// let err = row.parse::<u8, _>("word").unwrap_err();
    /// assert_eq!(err.sqlstate, "22P02");
    /// assert!(err.message.starts_with(r#"column "word": invalid value "forty" for u8"#));
    /// # Ok::<(), pgdblink::Error>(())
    /// ```
    pub fn parse<T, C>(&self, col: C) -> Result<Option<T>>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
        C: ColumnIndex,
    {
        let Some(text) = self.get(&col)? else {
            return Ok(None);
        };
        text.parse::<T>().map(Some).map_err(|e| {
            let ty = std::any::type_name::<T>();
            let short = ty.rsplit("::").next().unwrap_or(ty);
            Error::new(
                INVALID_TEXT_REPRESENTATION,
                format!(
                    "{}: invalid value \"{text}\" for {short}: {e}",
                    col.describe(self.res)
                ),
            )
        })
    }
}

impl<C: ColumnIndex> ColumnIndex for &C {
    fn position(&self, res: &DblinkResult) -> Result<usize> {
        (**self).position(res)
    }

    fn describe(&self, res: &DblinkResult) -> String {
        (**self).describe(res)
    }
}

impl<C: ColumnIndex> sealed::Sealed for &C {}

impl DblinkResult {
    /// The rows, borrowed: no copy of the values (unlike
    /// [`DblinkResult::rows`]).
    ///
    /// ```rust,no_run
    /// let res = pgdblink::dblink(Some("a"), "select g from generate_series(1, 3) g", true)?;
    /// let sum: i64 = res.iter().map(|r| r.parse::<i64, _>(0).ok().flatten().unwrap_or(0)).sum();
    /// assert_eq!(sum, 6);
    /// # Ok::<(), pgdblink::Error>(())
    /// ```
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Row<'_>> + '_ {
        (0..self.ntuples()).map(move |row| Row { res: self, row })
    }

    /// Row `row` (from 0), if there is one.
    ///
    /// ```rust,no_run
    /// let res = pgdblink::dblink(Some("a"), "select 1", true)?;
    /// assert!(res.row(0).is_some() && res.row(1).is_none());
    /// # Ok::<(), pgdblink::Error>(())
    /// ```
    #[must_use]
    pub fn row(&self, row: usize) -> Option<Row<'_>> {
        (row < self.ntuples()).then_some(Row { res: self, row })
    }

    /// The position of the first column named `name`, if any.
    ///
    /// ```rust,no_run
    /// let res = pgdblink::dblink(Some("a"), "select 1 as a, 2 as b", true)?;
    /// assert_eq!(res.column_index("b"), Some(1));
    /// # Ok::<(), pgdblink::Error>(())
    /// ```
    #[must_use]
    pub fn column_index(&self, name: &str) -> Option<usize> {
        (0..self.nfields()).find(|&c| self.fname(c) == Some(name))
    }
}

impl<'a> IntoIterator for &'a DblinkResult {
    type Item = Row<'a>;
    type IntoIter = Box<dyn ExactSizeIterator<Item = Row<'a>> + 'a>;

    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}
