-- How dblink_build_sql_* and dblink_get_pkey name a relation they cannot
-- open: a missing schema is 3F000 (table_openrv), a missing relation 42P01,
-- a three-part name 0A000 unless it names this database, bad syntax 42602.
-- (pgdblink reads the catalog through a regclass cast, which since
-- PostgreSQL 16 calls a missing schema a missing relation: it checks the schema.)
SELECT dblink_build_sql_delete('no_such_schema.t', '1'::int2vector, 1, array['1']::text[]);
SELECT dblink_build_sql_delete('"No Such"."t.x"', '1'::int2vector, 1, array['1']::text[]);
SELECT dblink_build_sql_delete('public.no_such_table', '1'::int2vector, 1, array['1']::text[]);
SELECT dblink_build_sql_delete('no_such_table', '1'::int2vector, 1, array['1']::text[]);
SELECT dblink_build_sql_delete('x.no_such_schema.t', '1'::int2vector, 1, array['1']::text[]);
SELECT dblink_build_sql_delete('oracle.no_such_schema.t', '1'::int2vector, 1, array['1']::text[]);
SELECT dblink_build_sql_delete('a..b', '1'::int2vector, 1, array['1']::text[]);
SELECT * FROM dblink_get_pkey('nope.t');
-- The pg_temp alias is a missing schema while the session has no temporary
-- schema (3F000); a missing schema's name is truncated to 63 bytes.
SELECT dblink_build_sql_delete('pg_temp.nosuch', '1'::int2vector, 1, array['1']::text[]);
SELECT dblink_build_sql_delete(repeat('s', 70) || '.t', '1'::int2vector, 1, array['1']::text[]);
