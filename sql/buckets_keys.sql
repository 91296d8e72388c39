-- buckets_keys: the key argument of edp.bucket_counts against the key column's type
SET timezone = 'UTC';
CREATE TABLE bk_text (customer_id text, ts timestamptz);
SELECT edp.enable_rollup('bk_text', key => 'customer_id', ts => 'ts');
INSERT INTO bk_text SELECT 'c' || (i % 3), '2024-01-01 00:00+00'::timestamptz + i * interval '7 minutes'
  FROM generate_series(1, 60) i;
CREATE TABLE bk_int (account_id bigint, ts timestamptz);
SELECT edp.enable_rollup('bk_int', key => 'account_id', ts => 'ts');
INSERT INTO bk_int SELECT i % 3, '2024-01-01 00:00+00'::timestamptz + i * interval '7 minutes'
  FROM generate_series(1, 60) i;

-- an untyped literal works, read as the key column's type (text, bigint)
SELECT sum(events) AS literal_text,
       sum(events) = (SELECT count(*) FROM bk_text WHERE customer_id = 'c1') AS equals_group_by
  FROM edp.bucket_counts('bk_text', 'c1', '2024-01-01', '2024-01-02');
SELECT sum(events) AS literal_bigint,
       sum(events) = (SELECT count(*) FROM bk_int WHERE account_id = 1) AS equals_group_by
  FROM edp.bucket_counts('bk_int', '1', '2024-01-01', '2024-01-02');
-- typed keys: the column's type, or one that converts implicitly (integer to bigint)
SELECT sum(events) FROM edp.bucket_counts('bk_text', 'c1'::text, '2024-01-01', '2024-01-02');
SELECT sum(events) FROM edp.bucket_counts('bk_int', 1, '2024-01-01', '2024-01-02');
SELECT sum(events) FROM edp.bucket_counts('bk_int', 1::bigint, '2024-01-01', '2024-01-02');
-- a key of another type is an error naming the column's type, not a row of zeros
SELECT sum(events) FROM edp.bucket_counts('bk_text', 1, '2024-01-01', '2024-01-02');   -- ERROR
SELECT sum(events) FROM edp.bucket_counts('bk_int', now(), '2024-01-01', '2024-01-02');   -- ERROR
-- a literal that is no value of the column's type: the type's own error
SELECT sum(events) FROM edp.bucket_counts('bk_int', 'c1', '2024-01-01', '2024-01-02');   -- ERROR

DROP TABLE bk_text, bk_int;
