-- Was tests/async_diff.rs connect_bad_connstr_option.
-- Malformed connection strings fail with ERROR 08001.
-- must fail: ERROR 08001, DETAIL invalid connection option "foo"
SELECT dblink_connect('n', 'foo=bar');
-- must fail: ERROR 08001
SELECT dblink_connect('n', 'nope');
