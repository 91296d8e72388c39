/*-------------------------------------------------------------------------
 *
 * core/version.c
 *		Refuse to run against the SQL objects of an older edp.
 *
 * A package upgrade replaces the library at once, while the SQL objects
 * stay at the old version until ALTER EXTENSION edp UPDATE.  Code that
 * names edp's SQL objects (the ledger, the rollup and routing triggers)
 * calls edp_require_current_extension() first, so that in between a user
 * gets one clear error with the fix rather than "schema does not exist".
 * Only a positive answer is cached: the update may come in this session.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"

#include "core/edp.h"
#include "core/version.h"

void
edp_refuse_older_extension(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("the installed edp extension is older than its library"),
			 errdetail("The edp library is version %s.", EDP_VERSION),
			 errhint("Run ALTER EXTENSION edp UPDATE.")));
}

void
edp_require_current_extension(void)
{
	static bool current = false;

	if (current)
		return;
	/* edp_internal is new in 1.1, the first version this check knows */
	if (!OidIsValid(get_namespace_oid(EDP_INTERNAL_SCHEMA, true)))
		edp_refuse_older_extension();
	current = true;
}
