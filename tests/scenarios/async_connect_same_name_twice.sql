-- Was tests/async_diff.rs connect_same_name_twice.
-- A second dblink_connect with a name in use fails (ERROR 42710
-- duplicate connection name); the first connection still works.
SELECT dblink_connect('a', :'dsn');
-- must fail: ERROR 42710 duplicate connection name
SELECT dblink_connect('a', :'dsn');
-- must be 0: the first connection is intact
SELECT dblink_is_busy('a');
SELECT dblink_disconnect('a');
