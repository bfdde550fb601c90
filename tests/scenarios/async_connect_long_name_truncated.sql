-- Was tests/async_diff.rs connect_name_longer_than_63_bytes_is_truncated.
-- A 70-byte name is truncated to 63 bytes (one NOTICE 42622 identifier
-- will be truncated); the 63-byte prefix addresses the connection, the
-- list shows the prefix (not the long name), and connecting the prefix
-- again fails with 42710.
-- must be 'OK' after one NOTICE 42622
SELECT dblink_connect(repeat('n', 70), :'dsn');
-- must be 0 (addressed by the 63-byte prefix)
SELECT dblink_is_busy(repeat('n', 63));
-- must be 1
SELECT dblink_send_query(repeat('n', 63), 'select 1');
-- must be one row '1' (addressed by the long name)
SELECT * FROM dblink_get_result(repeat('n', 70), true) AS t(x int);
-- must be (0 rows)
SELECT * FROM dblink_get_result(repeat('n', 63), true) AS t(x int);
-- must list the 63-byte prefix only
SELECT dblink_get_connections();
-- must fail: ERROR 42710 duplicate connection name
SELECT dblink_connect(repeat('n', 63), :'dsn');
-- must be 'OK'
SELECT dblink_disconnect(repeat('n', 70));
