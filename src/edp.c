/*-------------------------------------------------------------------------
 *
 * edp.c
 *		Module entry point: PG_MODULE_MAGIC and _PG_init.
 *
 * _PG_init only delegates to the capabilities' own init functions.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"

#include "buckets.h"
#include "compat.h"
#include "edp.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	if (IsBinaryUpgrade)
		return;
	edp_buckets_guc_init();
}
