-- Ported from tests/sync_diff.rs::open_with_unquoted_names_and_non_select_sql.
-- Cursor names go into DECLARE unquoted: "My Cur" is a syntax error unless
-- the caller quotes it; a non-SELECT statement cannot be a cursor.
SELECT dblink_connect('a', :'dsn');
-- must be ERROR 42601 'syntax error at or near "Cur"',
-- CONTEXT 'while opening cursor "My Cur" on dblink connection named "a"'
SELECT dblink_open('a', 'My Cur', 'select 1', true);
-- must be 'idle in transaction (aborted)'
\state a
SELECT dblink_exec('a', 'ROLLBACK');
-- must be 'OK'
SELECT dblink_open('a', '"My Cur"', 'select 1', true);
-- must be one row ('1')
SELECT * FROM dblink_fetch('a', '"My Cur"', 1, true) AS t(x text);
SELECT dblink_close('a', '"My Cur"', true);
-- must be 'idle'
\state a
-- must be 'ERROR' with a NOTICE 42601
SELECT dblink_open('a', 'c6', 'insert into nothere values (1)', false);
SELECT dblink_exec('a', 'ROLLBACK');
SELECT dblink_disconnect('a');
