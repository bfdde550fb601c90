-- Ported from tests/sync_diff.rs::close_commit_error_deferred_fk_fail_true.
-- The COMMIT of dblink_close fails (a deferred foreign key): ERROR XX000
-- 'commit error: ...' whose message holds the remote error; the transaction
-- is gone and later cursors work.
SELECT dblink_connect('a', :'dsn');
SELECT dblink_exec('a', 'create temp table p(id int primary key); create temp table ch(pid int references p deferrable initially deferred)');
SELECT dblink_open('a', 'c4', 'select 1');
-- must be 'INSERT 0 1'
SELECT dblink_exec('a', 'insert into ch values (42)');
-- must be ERROR XX000 whose message starts with 'commit error: ERROR:  insert or
-- update on table "ch" violates foreign key constraint' and contains
-- '\nDETAIL:  Key (pid)=(42)'; no DETAIL, HINT or CONTEXT fields
SELECT dblink_close('a', 'c4');
-- must be 'idle'
\state a
SELECT dblink_open('a', 'c5', 'select 5');
SELECT * FROM dblink_fetch('a', 'c5', 1) AS t(x text);
SELECT dblink_close('a', 'c5');
-- must be 'idle'
\state a
SELECT dblink_disconnect('a');
