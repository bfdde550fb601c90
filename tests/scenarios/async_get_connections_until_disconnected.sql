-- Was tests/async_diff.rs get_connections_lists_names_until_disconnected.
-- dblink_get_connections lists the open names; a disconnected name
-- disappears; with none left it is NULL.
SELECT dblink_connect('a', :'dsn');
SELECT dblink_connect('b', :'dsn');
-- must list a and b
SELECT dblink_get_connections();
SELECT dblink_disconnect('a');
-- must list b only
SELECT dblink_get_connections();
SELECT dblink_disconnect('b');
-- must be NULL
SELECT dblink_get_connections();
