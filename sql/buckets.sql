-- buckets: events of one key per fixed bucket in [from, to)
SET timezone = 'UTC';
\set SHOW_CONTEXT never
\getenv abs_srcdir PG_ABS_SRCDIR
\set events_csv :abs_srcdir '/test/data/customer-events.csv'

CREATE TABLE ce (customer_id text, event_type text, transaction_id uuid, ts timestamptz);
SELECT edp.enable_rollup('ce', key => 'customer_id', ts => 'ts');
SELECT edp.enable_dedupe('ce', columns => '{customer_id,ts,event_type,transaction_id}');
-- 14 lines, offsets +00 / Z / +01:30 / +05:30, 0-6 fraction digits; the same
-- instant written three ways is one event
COPY ce FROM :'events_csv' (FORMAT csv);
SELECT count(*) AS rows_kept FROM ce;

-- hourly, zero-filled, keyed by bucket start (UTC)
SELECT * FROM edp.bucket_counts('ce', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'::text,
                                '2021-03-01 00:00+00', '2021-03-01 05:00+00');
-- half-open: the event exactly at "to" (03:00) is excluded; 00:59:59.999999 is in bucket 00:00
SELECT * FROM edp.bucket_counts('ce', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'::text,
                                '2021-03-01 00:00+00', '2021-03-01 03:00+00');
-- partial first bucket: keyed at 00:00, counts only [00:30, ...)
SELECT * FROM edp.bucket_counts('ce', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'::text,
                                '2021-03-01 00:30+00', '2021-03-01 02:00+00');
-- empty range, unknown key, NULL key: zero-filled, never NULL
SELECT count(*) AS buckets FROM edp.bucket_counts('ce', 'x'::text, '2021-03-01 00:00+00', '2021-03-01 00:00+00');
SELECT count(*) AS buckets, sum(events) AS events, count(*) FILTER (WHERE events IS NULL) AS null_counts
  FROM edp.bucket_counts('ce', 'nobody'::text, '2021-03-01 00:00+00', '2021-03-02 00:00+00');
SELECT count(*) AS buckets, sum(events) AS events
  FROM edp.bucket_counts('ce', NULL::text, '2021-03-01 00:00+00', '2021-03-01 06:00+00');

-- widths: 1 minute, 5 minutes, 15 minutes (no fill), 1 day
SELECT * FROM edp.bucket_counts('ce', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'::text,
                                '2021-03-01 00:00+00', '2021-03-01 04:00+00', '1 minute', fill => false);
SELECT * FROM edp.bucket_counts('ce', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'::text,
                                '2021-03-01 00:00+00', '2021-03-01 01:00+00', '5 minutes');
SELECT * FROM edp.bucket_counts('ce', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'::text,
                                '2021-03-01 00:00+00', '2021-03-01 04:00+00', '15 minutes', fill => false);
SELECT * FROM edp.bucket_counts('ce', 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb'::text,
                                '2021-02-28 00:00+00', '2021-03-03 00:00+00', '1 day');

-- time zones: +05:30 puts hour boundaries at :30 UTC and days at 18:30 UTC
SELECT * FROM edp.bucket_counts('ce', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'::text,
                                '2021-03-01 00:00+00', '2021-03-01 04:00+00', '1 hour', '+05:30');
SELECT * FROM edp.bucket_counts('ce', 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb'::text,
                                '2021-02-28 18:30+00', '2021-03-02 18:30+00', '1 day', '+05:30');
-- named zone with DST: the day of the spring change is 23 hours long
SELECT bucket_start, lead(bucket_start) OVER (ORDER BY bucket_start) - bucket_start AS length
  FROM edp.bucket_series('2021-03-13 05:00+00', '2021-03-16 04:00+00', '1 day', 'America/New_York') AS s(bucket_start);
SELECT edp.bucket_start('2021-03-01 10:47:13+00', '15 minutes') AS utc,
       edp.bucket_start('2021-03-01 10:47:13+00', '1 hour', '+05:30') AS kolkata_offset,
       edp.bucket_start('2021-03-01 10:47:13+00', '1 hour', 'Asia/Kolkata') AS kolkata_name,
       edp.bucket_start('2021-03-01 10:47:13+00', '1 day', '-03') AS minus_three;

-- grouped by any column: per event type per hour
SELECT * FROM edp.bucket_counts_by('ce', 'event_type', '2021-03-01 00:00+00', '2021-03-01 04:00+00')
 ORDER BY 1, 2;
SELECT * FROM edp.bucket_counts_by('ce', 'event_type', '2021-03-01 00:00+00', '2021-03-01 03:00+00',
                                   fill => true, key => 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa')
 ORDER BY 1, 2;

-- served from the rollup, or raw when it is stale: the answer is the same
CREATE TEMP TABLE answer AS
SELECT * FROM edp.bucket_counts('ce', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'::text,
                                '2021-03-01 00:20+00', '2021-03-01 04:00+00');
UPDATE ce_edp_rollup SET packed = edp_internal.rollup_merge(packed, packed);   -- damage the rollup behind edp's back
SELECT count(*) AS differing_buckets FROM edp.verify_rollup('ce');
SELECT rollup_stale FROM edp.event_tables WHERE relid = 'ce'::regclass;
SELECT count(*) AS same_answer_from_raw_rows
  FROM edp.bucket_counts('ce', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'::text, '2021-03-01 00:20+00', '2021-03-01 04:00+00') b
  JOIN answer a USING (bucket_start, events);
SELECT edp.refresh_rollup('ce') AS rollup_rows;
SELECT count(*) AS differing_buckets FROM edp.verify_rollup('ce');

-- errors
\set VERBOSITY sqlstate
SELECT * FROM edp.bucket_counts('ce', 'a'::text, '2021-03-02', '2021-03-01');   -- ERROR
SELECT * FROM edp.bucket_counts('ce', 'a'::text, NULL, '2021-03-01');   -- ERROR
SELECT * FROM edp.bucket_counts('ce', 'a'::text, '2021-03-01', '2021-03-02', '7 minutes');   -- ERROR
SELECT * FROM edp.bucket_counts('ce', 'a'::text, '2021-03-01', '2021-03-02', '1 month');   -- ERROR
SELECT * FROM edp.bucket_counts('ce', 'a'::text, '2021-03-01', '2021-03-02', '1 hour', 'Mars/Olympus');   -- ERROR
SELECT * FROM edp.bucket_counts('ce', 'a'::text, '2011-01-01', '2021-01-01', '1 minute');   -- ERROR
SELECT * FROM edp.bucket_counts('ce', 'a'::text, '-infinity', '2021-01-01');   -- ERROR
SELECT * FROM edp.bucket_counts('pg_class', 'a'::text, '2021-03-01', '2021-03-02');   -- ERROR
SELECT * FROM edp.bucket_counts_by('ce', 'no_such_column', '2021-03-01', '2021-03-02');   -- ERROR
\set VERBOSITY default
SELECT * FROM edp.bucket_counts('ce', 'a'::text, '2021-03-02', '2021-03-01');   -- ERROR
SELECT * FROM edp.bucket_counts('ce', 'a'::text, '2021-03-01', '2021-03-02', '7 minutes');   -- ERROR
SELECT * FROM edp.bucket_counts('ce', 'a'::text, '2011-01-01', '2021-01-01', '1 minute');   -- ERROR
-- without zero fill a long range of fine buckets is fine
SELECT count(*) FROM edp.bucket_counts('ce', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'::text,
                                       '2011-01-01', '2031-01-01', '1 minute', fill => false);

-- time input: any offset is normalised; naive text follows edp.naive_timezone
SELECT edp.parse_timestamp('2021-03-01 00:03:21.74+00') AS plus00,
       edp.parse_timestamp('2021-03-01T00:03:21.74Z') AS zulu,
       edp.parse_timestamp('2021-03-01 01:33:21.74+01:30') AS plus0130,
       edp.parse_timestamp('2021-03-01 00:03:21.740000') AS naive;
SET timezone = 'America/New_York';   -- the session zone does not change the policy
SELECT edp.parse_timestamp('2021-03-01 00:03:21') AT TIME ZONE 'UTC' AS naive_is_utc;
SET edp.naive_timezone = '+02:00';
SELECT edp.parse_timestamp('2021-03-01 00:03:21') AT TIME ZONE 'UTC' AS naive_is_plus2;
SET edp.naive_timezone = 'Europe/Berlin';
SELECT edp.parse_timestamp('2021-07-01 00:03:21') AT TIME ZONE 'UTC' AS naive_is_berlin_summer;
RESET edp.naive_timezone;

-- COPY into an event table applies the same policy to every timestamptz
-- column, whatever the session's zone (here still America/New_York)
CREATE TABLE naive_ev (customer_id text, event_ts timestamptz);
SELECT edp.enable_rollup('naive_ev', key => 'customer_id', ts => 'event_ts') IS NOT NULL AS rollup;
COPY naive_ev FROM STDIN WITH (FORMAT csv);
a,2021-03-01 00:03:21
a,2021-03-01 00:03:21Z
a,2021-03-01 01:33:21.5+01:30
\.
SET edp.naive_timezone = '+05:30';
COPY naive_ev FROM STDIN WITH (FORMAT csv);
b,2021-03-01 05:33:21
\.
RESET edp.naive_timezone;
SELECT customer_id, event_ts AT TIME ZONE 'UTC' AS utc FROM naive_ev ORDER BY 1, 2;
-- a plain table keeps PostgreSQL's rule: the session's zone
CREATE TABLE naive_plain (customer_id text, event_ts timestamptz);
COPY naive_plain FROM STDIN WITH (FORMAT csv);
a,2021-03-01 00:03:21
\.
SELECT event_ts AT TIME ZONE 'UTC' AS utc FROM naive_plain;
DROP TABLE naive_ev, naive_plain;
SET timezone = 'UTC';

DROP TABLE ce;
SELECT count(*) AS catalog_rows_left FROM edp.event_tables;
SELECT count(*) AS rollups_left FROM pg_class WHERE relname = 'ce_edp_rollup';
