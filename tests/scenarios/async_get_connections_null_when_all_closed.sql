-- Was tests/async_diff.rs connect_then_get_connections_then_disconnect_all_gives_null.
-- With no connection, dblink_get_connections() is NULL; it lists named
-- connections (the empty name '' too), never the unnamed one; after
-- disconnecting everything it is NULL again.
-- must be NULL
SELECT dblink_get_connections();
SELECT dblink_connect('c', :'dsn');
SELECT dblink_connect('', :'dsn');
-- must list '' and 'c'
SELECT dblink_get_connections();
-- the unnamed connection
SELECT dblink_connect(:'dsn');
-- must still list only '' and 'c': the unnamed connection is never listed
SELECT dblink_get_connections();
SELECT dblink_disconnect('c');
SELECT dblink_disconnect('');
SELECT dblink_disconnect();
-- must be NULL again
SELECT dblink_get_connections();
