-- Ported from tests/sync_diff.rs::connect_u_named_and_unnamed.
-- dblink_connect_u, named and unnamed; a second unnamed connect replaces the
-- unnamed connection.
-- must be 'OK'
SELECT dblink_connect_u('a', :'dsn');
-- must be ERROR 42710 'duplicate connection name'
SELECT dblink_connect_u('a', :'dsn');
-- must be one row ('named')
SELECT * FROM dblink('a', 'select ''named''') AS t(x text);
SELECT dblink_connect_u(:'dsn');
-- must be one row ('unnamed')
SELECT * FROM dblink('select ''unnamed''') AS t(x text);
SELECT dblink_exec('create temp table q(x int)', false);
SELECT dblink_connect_u(:'dsn');
-- must be 'ERROR' with a NOTICE 42P01: the new unnamed connection has no q
SELECT dblink_exec('insert into q values (1)', false);
SELECT dblink_disconnect('a');
SELECT dblink_disconnect();
