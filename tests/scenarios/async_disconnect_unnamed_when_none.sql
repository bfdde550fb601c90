-- Was tests/async_diff.rs disconnect_unnamed_when_none.
-- dblink_disconnect() with no unnamed connection fails.
-- must fail: ERROR 08003 connection not available
SELECT dblink_disconnect();
