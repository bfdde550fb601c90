-- Was tests/async_diff.rs connect_unnamed_failure_keeps_the_old_one.
-- A failed 1-argument dblink_connect keeps the old unnamed connection.
SELECT dblink_connect(:'dsn');
\pid p1
-- must fail: ERROR 08001 could not establish connection
SELECT dblink_connect(:'dead_dsn');
-- must be 'true': the same backend as before
SELECT * FROM dblink('select (pg_backend_pid() = :p1)::text') AS t(x text);
SELECT dblink_disconnect();
