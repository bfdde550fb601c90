-- Ported from tests/sync_diff.rs::dblink_empty_query_could_not_obtain_message.
-- An empty query (PGRES_EMPTY_QUERY) is a failure without a message.
SELECT dblink_connect('a', :'dsn');
-- must be ERROR 08006 'could not obtain message string for remote error',
-- CONTEXT 'while executing query on dblink connection named "a"'
SELECT * FROM dblink('a', '', true) AS t(x text);
-- must show exactly one NOTICE
SELECT * FROM dblink('a', '', false) AS t(x text);
SELECT dblink_error_message('a');
SELECT * FROM dblink('a', 'select 1') AS t(x text);
SELECT dblink_disconnect('a');
