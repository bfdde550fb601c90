-- Ported from tests/sync_diff.rs::dblink_after_get_result_before_final_empty_set.
-- dblink() after dblink_get_result returned the rows but before the final
-- empty set: the send still fails (XX000).
SELECT dblink_connect('a', :'dsn');
SELECT dblink_send_query('a', 'select 9');
-- must be one row ('9')
SELECT * FROM dblink_get_result('a') AS t(x text);
-- must be ERROR XX000 'could not send query: another command is already in progress'
SELECT * FROM dblink('a', 'select 10') AS t(x text);
-- must be 0 rows
SELECT * FROM dblink_get_result('a') AS t(x text);
-- must be one row ('10')
SELECT * FROM dblink('a', 'select 10') AS t(x text);
SELECT dblink_disconnect('a');
