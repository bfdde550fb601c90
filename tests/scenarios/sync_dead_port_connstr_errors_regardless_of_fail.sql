-- Ported from tests/sync_diff.rs::dead_port_connstr_errors_regardless_of_fail.
-- A connection string to a port nobody listens on: each step must be
-- ERROR 08001 'could not establish connection' with a DETAIL containing
-- 'Connection refused', whatever fail_on_error says.
SELECT * FROM dblink(:'dead_dsn', 'select 1', true) AS t(x text);
SELECT * FROM dblink(:'dead_dsn', 'select 1', false) AS t(x text);
SELECT dblink_exec(:'dead_dsn', 'select 1');
SELECT dblink_exec(:'dead_dsn', 'select 1', false);
