-- The basics: connect, a query, a command, a remote error both ways,
-- NULLs and quotes, disconnect.
SELECT dblink_connect('a', :'dsn');
SELECT * FROM dblink('a', 'select 1, null, ''it''''s''') AS t(x int, y text, z text);
SELECT dblink_exec('a', 'create temp table t(x int)');
SELECT dblink_exec('a', 'select 1/0', false);
SELECT dblink_exec('a', 'select 1/0');
SELECT dblink_error_message('a');
SELECT dblink_get_connections();
\state a
SELECT * FROM dblink('a', E'select ''line1\nline2''') AS t(x text);
SELECT dblink_connect(repeat('n', 3), :'dsn');
SELECT dblink_get_connections();
\pid nnn npid  -- the pid, masked
SELECT * FROM dblink('nnn', 'select pg_backend_pid()') AS t(p int);
SELECT dblink_disconnect('nnn');
SELECT dblink_disconnect('a');
SELECT dblink_connect('a', NULL);
SELECT dblink_disconnect('a');
