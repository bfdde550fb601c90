-- Ported from tests/sync_diff.rs::fetch_and_close_missing_cursor_fail_true_and_false.
-- fetch/close of a cursor that does not exist, fail_on_error true and false.
SELECT dblink_connect('a', :'dsn');
-- must be ERROR 34000 'cursor "nope" does not exist',
-- CONTEXT 'while fetching from cursor "nope" on dblink connection named "a"'
SELECT * FROM dblink_fetch('a', 'nope', 1) AS t(x text);
-- must be 'idle'
\state a
-- must be 0 rows and exactly one NOTICE
SELECT * FROM dblink_fetch('a', 'nope', 1, false) AS t(x text);
-- must be 'ERROR:  cursor "nope" does not exist'
SELECT dblink_error_message('a');
-- must be an ERROR with CONTEXT 'while closing cursor "nope" on dblink connection named "a"'
SELECT dblink_close('a', 'nope', true);
-- must be 'ERROR' with a NOTICE 34000
SELECT dblink_close('a', 'nope', false);
\state a
SELECT dblink_disconnect('a');
