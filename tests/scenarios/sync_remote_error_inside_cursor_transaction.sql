-- Ported from tests/sync_diff.rs::remote_error_inside_cursor_transaction_then_fetch_close_rollback.
-- A remote error inside dblink's cursor transaction aborts it; fetch and
-- close fail until the caller's ROLLBACK; a new cursor works again.
SELECT dblink_connect('a', :'dsn');
SELECT dblink_open('a', 'c1', 'select 1');
-- must be 'ERROR'
SELECT dblink_exec('a', 'select 1/0', false);
-- must be 'idle in transaction (aborted)'
\state a
-- must be ERROR 25P02 'current transaction is aborted, commands ignored until
-- end of transaction block', CONTEXT
-- 'while fetching from cursor "c1" on dblink connection named "a"'
SELECT * FROM dblink_fetch('a', 'c1', 1) AS t(x text);
-- must be 0 rows with a NOTICE 25P02
SELECT * FROM dblink_fetch('a', 'c1', 1, false) AS t(x text);
-- must be an ERROR with CONTEXT 'while closing cursor "c1" on dblink connection named "a"'
SELECT dblink_close('a', 'c1');
-- must be 'ERROR'
SELECT dblink_close('a', 'c1', false);
-- must be 'idle in transaction (aborted)'
\state a
-- must be 'ROLLBACK'
SELECT dblink_exec('a', 'ROLLBACK');
SELECT dblink_open('a', 'c2', 'select 1');
-- must be 'idle in transaction'
\state a
SELECT dblink_close('a', 'c2');
-- must be 'idle'
\state a
SELECT dblink_disconnect('a');
