-- Was tests/async_diff.rs get_notify_unnamed_when_none.
-- dblink_get_notify() with no unnamed connection returns no rows (no ERROR).
-- must be (0 rows)
SELECT notify_name, be_pid, extra FROM dblink_get_notify();
