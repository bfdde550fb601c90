-- Ported from tests/sync_diff.rs::terminated_backend_open_begin_error.
-- dblink_open on a terminated backend: its BEGIN fails, and that is raised
-- even with fail false: ERROR XX000 whose message starts with
-- 'begin error: FATAL:  terminating connection due to administrator command'.
SELECT dblink_connect('a', :'dsn');
\terminate a
-- must be ERROR XX000 'begin error: FATAL:  terminating connection due to administrator command...'
SELECT dblink_open('a', 'cur', 'select 1', false);
SELECT dblink_open('a', 'cur', 'select 1', false);
SELECT dblink_disconnect('a');
