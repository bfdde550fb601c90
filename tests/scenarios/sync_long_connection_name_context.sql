-- Ported from tests/sync_diff.rs::long_connection_name_context_uses_the_given_name.
-- A connection name longer than 63 bytes: connect truncates it (NOTICE
-- 42622); contexts quote the name as the caller gave it, long or short.
-- must show a NOTICE 42622
SELECT dblink_connect('a_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', :'dsn');
-- must be a NOTICE with CONTEXT 'while executing query on dblink connection named "a_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"'
SELECT * FROM dblink('a_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', 'select 1/0', false) AS t(x text);
-- must be a NOTICE with CONTEXT 'while executing command on dblink connection named "a_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"'
SELECT dblink_exec('a_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', 'select 1/0', false);
SELECT dblink_open('a_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', 'c', 'select nocol', false);
SELECT dblink_exec('a_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', 'ROLLBACK');
SELECT dblink_disconnect('a_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx');
