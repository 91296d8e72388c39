/*-------------------------------------------------------------------------
 *
 * buckets/fingerprints.c
 *		The 64-bit key fingerprints of a statement's rows, and those that
 *		occur more than once, in bounded memory.
 *
 * Dedupe finds the keys a statement repeats from one fingerprint per row
 * (buckets/rollup_batch.c, buckets/dedupe_order.c): equal keys have equal
 * fingerprints, so the repeated fingerprints are a superset of the
 * repeated keys.  They are collected in an array and radix-sorted while
 * they fit in the caller's limit (8 bytes per row, as much again for the
 * sort); past it, all of them go to a tuplesort, which spills to
 * temporary files as an index build's sort does, so that a statement of
 * any size keeps the C path.  Only the repeats stay in memory, and a load
 * has few of them.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "catalog/pg_operator_d.h"
#include "catalog/pg_type_d.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "buckets/fingerprints.h"

static uint64 *repeats_in_memory(uint64 *fps, int64 nfps, int64 *nrepeats);

void
edp_fingerprints_init(EdpFingerprints *f, size_t limit)
{
	f->cap = 1024;
	f->n = 0;
	f->fps = palloc(sizeof(uint64) * f->cap);
	f->limit = limit;
	f->spill = NULL;
}

/* from now on every fingerprint goes to a sort that may use the disk */
static void
start_spill(EdpFingerprints *f)
{
	int64		i;

	f->spill = tuplesort_begin_datum(INT8OID, Int8LessOperator, InvalidOid, false,
									 (int) Min(f->limit / 1024, (size_t) MAX_KILOBYTES),
									 NULL, TUPLESORT_NONE);
	for (i = 0; i < f->n; i++)
		tuplesort_putdatum(f->spill, Int64GetDatum((int64) f->fps[i]), false);
	pfree(f->fps);
	f->fps = NULL;
}

void
edp_fingerprints_add(EdpFingerprints *f, uint64 fp)
{
	if (f->spill != NULL)
	{
		tuplesort_putdatum(f->spill, Int64GetDatum((int64) fp), false);
		f->n++;
		return;
	}
	if (f->n == f->cap)
	{
		/* with the radix sort's buffer they would pass the limit */
		if ((Size) f->cap * 2 * sizeof(uint64) * 2 > f->limit)
		{
			start_spill(f);
			edp_fingerprints_add(f, fp);
			return;
		}
		f->cap *= 2;
		f->fps = repalloc_huge(f->fps, sizeof(uint64) * f->cap);
	}
	f->fps[f->n++] = fp;
}

static int
uint64_cmp(const void *a, const void *b)
{
	uint64		x = *(const uint64 *) a;
	uint64		y = *(const uint64 *) b;

	return (x > y) - (x < y);
}

/* the repeats of the spilled fingerprints, in unsigned order */
static uint64 *
repeats_of_spill(EdpFingerprints *f, int64 *nrepeats)
{
	uint64	   *repeats = NULL;
	int64		n = 0;
	int64		cap = 0;
	bool		have_prev = false;
	uint64		prev = 0;
	Datum		d;
	bool		isnull;
	int64		seen = 0;

	tuplesort_performsort(f->spill);
	while (tuplesort_getdatum(f->spill, true, &d, &isnull, NULL))
	{
		uint64		fp = (uint64) DatumGetInt64(d);

		if ((++seen & 0x3fff) == 0)
			CHECK_FOR_INTERRUPTS();
		if (have_prev && fp == prev && (n == 0 || repeats[n - 1] != fp))
		{
			if (n == cap)
			{
				cap = cap == 0 ? 1024 : cap * 2;
				repeats = repeats == NULL ? palloc(sizeof(uint64) * cap)
					: repalloc_huge(repeats, sizeof(uint64) * cap);
			}
			repeats[n++] = fp;
		}
		prev = fp;
		have_prev = true;
	}
	tuplesort_end(f->spill);
	f->spill = NULL;
	/* the sort ordered them as signed int8; lookups compare unsigned */
	if (n > 1)
		qsort(repeats, n, sizeof(uint64), uint64_cmp);
	*nrepeats = n;
	return repeats;
}

uint64 *
edp_fingerprints_repeats(EdpFingerprints *f, int64 *nrepeats, uint64 **sorted, int64 *nsorted)
{
	uint64	   *repeats;

	if (sorted != NULL)
	{
		*sorted = NULL;
		*nsorted = 0;
	}
	if (f->spill != NULL)
		return repeats_of_spill(f, nrepeats);
	repeats = repeats_in_memory(f->fps, f->n, nrepeats);
	if (sorted != NULL)
	{
		*sorted = f->fps;
		*nsorted = f->n;
	}
	else
		pfree(f->fps);
	f->fps = NULL;
	return repeats;
}

/*
 * The fingerprints that occur more than once, sorted, in a new array (NULL
 * when none; *nrepeats their number), of an array that fits in memory: fps sorted in place (LSD radix sort,
 * four 16-bit digits), then equal neighbours.  Sorting 8-byte values in
 * sequential passes costs a fraction of a hash table's cache misses.
 */
static uint64 *
repeats_in_memory(uint64 *fps, int64 nfps, int64 *nrepeats)
{
	uint64	   *src = fps;
	uint64	   *dst = palloc_extended(sizeof(uint64) * Max(nfps, 1), MCXT_ALLOC_HUGE);
	uint32	   *count = palloc(sizeof(uint32) * 65536);
	uint64	   *repeats = NULL;
	int64		n = 0;
	int64		i;
	int			pass;

	for (pass = 0; pass < 4; pass++)
	{
		int			shift = pass * 16;
		uint32		sum = 0;
		uint64	   *t;

		memset(count, 0, sizeof(uint32) * 65536);
		for (i = 0; i < nfps; i++)
			count[(src[i] >> shift) & 0xffff]++;
		for (i = 0; i < 65536; i++)
		{
			uint32		c = count[i];

			count[i] = sum;
			sum += c;
		}
		for (i = 0; i < nfps; i++)
			dst[count[(src[i] >> shift) & 0xffff]++] = src[i];
		t = src;
		src = dst;
		dst = t;
		CHECK_FOR_INTERRUPTS();
	}
	/* after an even number of passes the sorted values are in fps */
	pfree(dst);
	pfree(count);
	for (i = 1; i < nfps; i++)
		if (src[i] == src[i - 1] && (n == 0 || repeats[n - 1] != src[i]))
		{
			if (repeats == NULL)
				repeats = palloc(sizeof(uint64) * Min(nfps, 1024));
			else if (n % 1024 == 0)
				repeats = repalloc_huge(repeats, sizeof(uint64) * (n + 1024));
			repeats[n++] = src[i];
		}
	*nrepeats = n;
	return repeats;
}

/* is fp one of the sorted repeats? */
bool
edp_fingerprint_is_repeat(const uint64 *repeats, int64 nrepeats, uint64 fp)
{
	int64		lo = 0,
				hi = nrepeats;

	while (lo < hi)
	{
		int64		mid = lo + (hi - lo) / 2;

		if (repeats[mid] < fp)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < nrepeats && repeats[lo] == fp;
}

