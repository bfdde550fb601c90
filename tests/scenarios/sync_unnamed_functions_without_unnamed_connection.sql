-- Ported from tests/sync_diff.rs::unnamed_functions_without_unnamed_connection_are_not_available.
-- Without an unnamed connection every unnamed form fails, fail_on_error or
-- not: each step must be ERROR 08003 'connection not available'.
SELECT * FROM dblink('select 1') AS t(x text);
SELECT * FROM dblink('select 1', false) AS t(x text);
SELECT dblink_exec('create temp table q(x int)');
SELECT dblink_exec('create temp table q(x int)', false);
SELECT dblink_open('c1', 'select 1');
SELECT dblink_open('c1', 'select 1', false);
SELECT * FROM dblink_fetch('c1', 1) AS t(x text);
SELECT * FROM dblink_fetch('c1', 1, false) AS t(x text);
SELECT dblink_close('c1');
SELECT dblink_close('c1', false);
SELECT dblink_disconnect();
