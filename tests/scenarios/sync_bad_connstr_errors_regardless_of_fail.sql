-- Ported from tests/sync_diff.rs::bad_connstr_errors_regardless_of_fail.
-- An unparsable connection string is an ERROR whatever fail_on_error says.
-- The first four must each be ERROR 08001 'could not establish connection',
-- DETAIL 'missing "=" after "nope" in connection info string', no NOTICE.
SELECT * FROM dblink('nope', 'select 1') AS t(x text);
SELECT * FROM dblink('nope', 'select 1', false) AS t(x text);
SELECT dblink_exec('nope', 'select 1', true);
SELECT dblink_exec('nope', 'select 1', false);
-- must be an ERROR with DETAIL 'invalid connection option "foo"'
SELECT * FROM dblink('foo=bar', 'select 1', false) AS t(x text);
