-- Ported from tests/sync_diff.rs::terminated_backend_dblink_fail_true_then_false.
-- The remote backend is terminated while idle: the first call notices the
-- broken connection (08006), later ones cannot send at all.
SELECT dblink_connect('a', :'dsn');
-- must be 'true' (pg_terminate_backend succeeded)
\terminate a
-- must be 0
SELECT dblink_is_busy('a');
SELECT dblink_error_message('a');
-- must be ERROR 08006, CONTEXT 'while executing query on dblink connection named "a"'
SELECT * FROM dblink('a', 'select 1', true) AS t(x text);
-- must be ERROR XX000 'could not send query: no connection to the server'
SELECT * FROM dblink('a', 'select 1', false) AS t(x text);
-- must be 'ERROR' with a NOTICE whose message is 'no connection to the server'
SELECT dblink_exec('a', 'select 1', false);
-- must be ERROR 08006 'no connection to the server'
SELECT dblink_exec('a', 'select 1', true);
-- must be 'ERROR'
SELECT dblink_open('a', 'c', 'select 1', false);
SELECT * FROM dblink_fetch('a', 'c', 1, false) AS t(x text);
SELECT dblink_close('a', 'c', false);
-- must be 'OK'
SELECT dblink_disconnect('a');
