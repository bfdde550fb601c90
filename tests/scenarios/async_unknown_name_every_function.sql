-- Was tests/async_diff.rs unknown_name_every_function.
-- Every function of the family, given a name that is not open, fails with
-- ERROR 08003 connection "nope" not available.
-- each must fail: ERROR 08003 connection "nope" not available
SELECT dblink_send_query('nope', 'select 1');
SELECT dblink_is_busy('nope');
SELECT * FROM dblink_get_result('nope', true) AS t(x int);
SELECT * FROM dblink_get_result('nope', false) AS t(x int);
SELECT dblink_cancel_query('nope');
SELECT dblink_error_message('nope');
SELECT notify_name, be_pid, extra FROM dblink_get_notify('nope');
SELECT dblink_disconnect('nope');
