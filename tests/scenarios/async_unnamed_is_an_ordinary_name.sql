-- Was tests/async_diff.rs unnamed_is_an_ordinary_name.
-- 'unnamed' is an ordinary connection name, not the unnamed connection.
SELECT dblink_connect('unnamed', :'dsn');
-- must be 0
SELECT dblink_is_busy('unnamed');
-- must list 'unnamed'
SELECT dblink_get_connections();
-- must fail: ERROR 08003 connection not available (it is not the unnamed one)
SELECT dblink_disconnect();
SELECT dblink_disconnect('unnamed');
