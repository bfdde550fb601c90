-- Ported from tests/sync_diff.rs::unnamed_cursor_open_fetch_close.
-- Cursors on the unnamed connection: the transaction dblink_open begins,
-- fetch/close errors with their unnamed contexts, an aborted transaction.
SELECT dblink_connect(:'dsn');
\state
SELECT dblink_open('c1', 'select g from generate_series(1, 3) g');
-- must be 'idle in transaction'
\state
-- must be rows ('1'), ('2')
SELECT * FROM dblink_fetch('c1', 2) AS t(x text);
-- must be one row ('3')
SELECT * FROM dblink_fetch('c1', 2, false) AS t(x text);
-- must be a NOTICE 34000 with CONTEXT
-- 'while fetching from cursor "nope" on unnamed dblink connection'
SELECT * FROM dblink_fetch('nope', 2, false) AS t(x text);
-- must be ERROR 25P02 (the transaction is aborted)
SELECT * FROM dblink_fetch('nope', 2, true) AS t(x text);
-- must be an ERROR with CONTEXT 'while closing cursor "c1" on unnamed dblink connection'
SELECT dblink_close('c1');
-- must be 'ERROR'
SELECT dblink_open('c2', 'select nocol', false);
-- must be 'idle in transaction (aborted)'
\state
SELECT dblink_exec('ROLLBACK');
-- must be 'idle'
\state
SELECT dblink_open('c3', 'select 1', true);
SELECT dblink_close('c3', true);
-- must be 'idle'
\state
SELECT dblink_disconnect();
