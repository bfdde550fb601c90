-- Was tests/async_diff.rs send_nulls_and_unicode.
-- NULLs, the empty string, non-ASCII text and a tab come back exactly:
-- (NULL, 'héllo ✓ 日本 🐘', '') and ('x', NULL, E'tab\there').
SELECT dblink_connect('a', :'dsn');
-- must be 1
SELECT dblink_send_query('a', E'select null::text, ''héllo ✓ 日本 🐘'', ''''::text union all select ''x'', null, ''tab\there''');
-- must be the two rows above
SELECT * FROM dblink_get_result('a', true) AS t(a text, b text, c text);
-- must be (0 rows)
SELECT * FROM dblink_get_result('a', true) AS t(a text, b text, c text);
SELECT dblink_disconnect('a');
