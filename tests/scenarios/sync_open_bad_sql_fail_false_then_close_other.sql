-- Ported from tests/sync_diff.rs::open_bad_sql_fail_false_then_close_other_cursor.
-- A failed open (fail false) inside a cursor transaction: closes fail in the
-- aborted transaction, which stays aborted until ROLLBACK.
SELECT dblink_connect('a', :'dsn');
SELECT dblink_open('a', 'c1', 'select 1');
-- must be 'ERROR' with a NOTICE 42703
SELECT dblink_open('a', 'c2', 'select nocol', false);
-- must be 'idle in transaction (aborted)'
\state a
-- must be 'ERROR' with a NOTICE 25P02
SELECT dblink_close('a', 'c1', false);
SELECT dblink_close('a', 'c2', false);
-- must be 'idle in transaction (aborted)'
\state a
SELECT dblink_exec('a', 'ROLLBACK', false);
SELECT dblink_open('a', 'c3', 'select 3');
SELECT dblink_close('a', 'c3');
-- must be 'idle'
\state a
SELECT dblink_disconnect('a');
