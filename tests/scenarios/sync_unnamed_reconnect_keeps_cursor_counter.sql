-- Ported from tests/sync_diff.rs::unnamed_reconnect_keeps_dblinks_cursor_counter.
-- dblink keeps the unnamed connection's cursor bookkeeping (a static struct)
-- across dblink_connect/dblink_disconnect: the count and the "dblink began
-- the transaction" flag survive a reconnect.
SELECT dblink_connect(:'dsn');
SELECT dblink_open('c1', 'select 1');
SELECT dblink_connect(:'dsn');
SELECT dblink_exec('BEGIN');
SELECT dblink_open('c2', 'select 2');
SELECT dblink_close('c2');
-- must be 'idle in transaction'
\state
SELECT dblink_exec('DECLARE c1 CURSOR FOR SELECT 1');
-- must be 'OK'
SELECT dblink_close('c1');
-- dblink's stale count reached 0 at this close and it sent COMMIT, ending
-- the transaction the caller began: must be 'idle'
\state
SELECT dblink_disconnect();
