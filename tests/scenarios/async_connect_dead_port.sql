-- Was tests/async_diff.rs connect_dead_port.
-- A connect to a port nobody listens on fails with ERROR 08001 could not
-- establish connection, with a DETAIL (libpq's "Connection refused" text,
-- worded alike by libpq 15 and 18); a failed connect leaves no entry.
-- must fail: ERROR 08001 could not establish connection, with a DETAIL
SELECT dblink_connect('n', :'dead_dsn');
-- must fail: ERROR 08003 (no entry named n)
SELECT dblink_is_busy('n');
