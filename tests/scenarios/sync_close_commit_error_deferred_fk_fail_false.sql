-- Ported from tests/sync_diff.rs::close_commit_error_deferred_fk_fail_false.
-- The commit error of dblink_close is raised even with fail_on_error false
-- (XX000, no NOTICE).
SELECT dblink_connect('a', :'dsn');
SELECT dblink_exec('a', 'create temp table p(id int primary key); create temp table ch(pid int references p deferrable initially deferred)');
SELECT dblink_open('a', 'c4', 'select 1', false);
SELECT dblink_exec('a', 'insert into ch values (42)', false);
-- must be ERROR XX000 and no NOTICE
SELECT dblink_close('a', 'c4', false);
-- must be 'idle'
\state a
-- must be 'INSERT 0 1'
SELECT dblink_exec('a', 'insert into p values (42)', false);
SELECT dblink_disconnect('a');
