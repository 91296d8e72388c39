// test/parquet/read.mjs -- DuckDB as an independent reader of edp's Parquet files.
//
// usage: node test/parquet/read.mjs 'SQL' ['SQL' ...]
//
// Runs each statement in one in-memory DuckDB and prints its rows on one
// line as a JSON array of arrays, in DuckDB's JSON forms (BIGINT, DECIMAL
// and HUGEINT as strings, NULL as null).  The TAP tests cast what they
// compare to VARCHAR in the statement itself, so the text is DuckDB's own.
// The engine ships with the npm package (scripts/test.sh installs it here).
import { DuckDBInstance } from '@duckdb/node-api';

const instance = await DuckDBInstance.create(':memory:');
const connection = await instance.connect();
for (const sql of process.argv.slice(2)) {
  const reader = await connection.runAndReadAll(sql);
  process.stdout.write(JSON.stringify(reader.getRowsJson()) + '\n');
}
