-- Ported from tests/sync_diff.rs::open_bad_sql_fail_true_leaves_transaction_aborted.
-- dblink_open of bad SQL leaves dblink's transaction aborted until ROLLBACK.
SELECT dblink_connect('a', :'dsn');
-- must be ERROR 42703 'column "nocol" does not exist',
-- CONTEXT 'while opening cursor "c4" on dblink connection named "a"'
SELECT dblink_open('a', 'c4', 'select nocol', true);
-- must be 'idle in transaction (aborted)'
\state a
-- must be 'ERROR' with a NOTICE 25P02
SELECT dblink_open('a', 'c4', 'select nocol', false);
-- must be ERROR 25P02
SELECT * FROM dblink('a', 'select 1') AS t(x text);
-- must be 'ERROR'
SELECT dblink_exec('a', 'select 1', false);
SELECT dblink_exec('a', 'ROLLBACK');
-- must be 'idle'
\state a
-- must be one row ('1')
SELECT * FROM dblink('a', 'select 1') AS t(x text);
SELECT dblink_disconnect('a');
