-- Was tests/async_diff.rs connect_unnamed_twice_replaces_then_disconnect_twice.
-- The 1-argument dblink_connect silently replaces an existing unnamed
-- connection (a new backend); one disconnect closes it, a second fails.
SELECT dblink_connect(:'dsn');
\pid p1
-- must be 'OK' (no ERROR): replaces the unnamed connection
SELECT dblink_connect(:'dsn');
-- must be 'true': a new backend
SELECT * FROM dblink('select (pg_backend_pid() <> :p1)::text') AS t(x text);
SELECT dblink_disconnect();
-- must fail: ERROR 08003 connection not available
SELECT dblink_disconnect();
