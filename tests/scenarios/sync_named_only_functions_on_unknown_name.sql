-- Ported from tests/sync_diff.rs::named_only_functions_on_unknown_name_are_not_available.
-- open/fetch/close/disconnect on a name never connected: each step must be
-- ERROR 08003 'connection "zz" not available', no CONTEXT, whatever
-- fail_on_error says.
SELECT dblink_open('zz', 'c1', 'select 1');
SELECT dblink_open('zz', 'c1', 'select 1', false);
SELECT * FROM dblink_fetch('zz', 'c1', 1, true) AS t(x text);
SELECT * FROM dblink_fetch('zz', 'c1', 1, false) AS t(x text);
SELECT dblink_close('zz', 'c1', true);
SELECT dblink_close('zz', 'c1', false);
SELECT dblink_disconnect('zz');
