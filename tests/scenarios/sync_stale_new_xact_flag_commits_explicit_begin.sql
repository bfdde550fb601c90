-- Ported from tests/sync_diff.rs::stale_new_xact_flag_commits_explicit_begin.
-- dblink's "I began the transaction" flag survives a COMMIT sent through
-- dblink_exec: a later close of the last counted cursor commits the caller's
-- own BEGIN.
SELECT dblink_connect('a', :'dsn');
SELECT dblink_open('a', 'c1', 'select 1');
SELECT dblink_exec('a', 'COMMIT');
SELECT dblink_exec('a', 'BEGIN');
SELECT dblink_exec('a', 'DECLARE c1 CURSOR FOR SELECT 1');
SELECT dblink_open('a', 'c2', 'select 2');
SELECT dblink_close('a', 'c2');
-- must be 'idle in transaction'
\state a
SELECT dblink_close('a', 'c1');
-- must be 'idle'
\state a
SELECT dblink_disconnect('a');
