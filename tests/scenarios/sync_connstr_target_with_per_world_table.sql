-- Ported from tests/sync_diff.rs::connstr_target_with_per_world_table.
-- Connection-string targets writing a real (per-world) table.
\table t (x int)
-- must be 'INSERT 0 2'
SELECT dblink_exec(:'dsn', 'insert into :t values (1), (2)');
-- must be 'UPDATE 2'
SELECT dblink_exec(:'dsn', 'update :t set x = x * 10', false);
-- must be rows ('10'), ('20')
SELECT * FROM dblink(:'dsn', 'select x from :t order by x', true) AS t(x text);
-- must be 'DELETE 2'
SELECT dblink_exec(:'dsn', 'delete from :t', true);
-- must be one row ('0')
SELECT * FROM dblink(:'dsn', 'select count(*) from :t', false) AS t(n text);
