-- dblink_build_sql_* open the relation before they check the key count
-- (pknumatts, capped at the int2vector's length): a count below 1 is 22023
-- `number of key attributes must be > 0` for a relation that exists, and
-- the relation's own error (42P01, 3F000) for one that cannot be opened, in
-- the C ABI too (whose functions take the count as `pknumatts`).
SELECT dblink_build_sql_delete('pg_namespace', '1'::int2vector, 0, array[]::text[]);
SELECT dblink_build_sql_delete('no_such_table', '1'::int2vector, 0, array[]::text[]);
SELECT dblink_build_sql_insert('no_such_table', '1'::int2vector, -1, array[]::text[], array[]::text[]);
SELECT dblink_build_sql_update('no_such_schema.t', '1 2'::int2vector, 0, array[]::text[], array[]::text[]);
