/*-------------------------------------------------------------------------
 *
 * core/security.c
 *		Identity changes and SPI sessions of edp, done the way PostgreSQL's
 *		own maintenance commands do them.
 *
 * edp runs statements as someone other than the caller in three places:
 * the ledger (edp.jobs and friends, written as the bootstrap superuser so
 * that users cannot forge counts), table upkeep (rollup, dedupe, partition
 * routing, as the table's owner, like RI triggers), and background loads
 * (as the job's run_as role).  In each, the statements must not resolve a
 * name through the caller's search_path: a role with CREATE on any schema
 * could otherwise shadow "=" and run its function as the other identity.
 * So a switch always opens a new GUC nest level with search_path pinned to
 * pg_catalog, pg_temp (REFRESH MATERIALIZED VIEW and CREATE INDEX do the
 * same in later releases) and jit off (see enter), and upkeep as an owner
 * runs as a SECURITY_RESTRICTED_OPERATION, so that the owner's triggers
 * cannot leave temporary objects or session state behind in the caller's
 * session.
 *
 * Errors need no cleanup here: (sub)transaction abort restores the user,
 * the security context and the GUC nest level.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "core/security.h"

static void
enter(EdpIdentity *id, Oid userid, int flags)
{
	int			sec;

	GetUserIdAndSecContext(&id->save_userid, &id->save_sec_context);
	id->switched = OidIsValid(userid);
	id->save_nestlevel = -1;

	sec = id->save_sec_context;
	if (id->switched)
	{
		sec |= SECURITY_LOCAL_USERID_CHANGE;
		if (!(flags & EDP_SESSION_PATH))
			flags |= EDP_PIN_PATH;
	}
	if (flags & EDP_RESTRICTED)
		sec |= SECURITY_RESTRICTED_OPERATION;
	if (id->switched || sec != id->save_sec_context)
		SetUserIdAndSecContext(id->switched ? userid : id->save_userid, sec);

	if (flags & EDP_PIN_PATH)
	{
		id->save_nestlevel = NewGUCNestLevel();
		(void) set_config_option("search_path", EDP_PINNED_SEARCH_PATH,
								 PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);

		/*
		 * edp's own statements are not compiled: dedupe's DELETE over a
		 * table of 365 day partitions is priced past jit_above_cost, and
		 * LLVM then compiles its expressions once per partition, 50 s of a
		 * 200,000-row COPY that otherwise takes 2 (the statements are
		 * short, or bulk ones whose time goes to reading and writing rows)
		 */
		(void) set_config_option("jit", "off", PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
	}
}

static void
leave(EdpIdentity *id)
{
	if (id->save_nestlevel >= 0)
		AtEOXact_GUC(false, id->save_nestlevel);
	SetUserIdAndSecContext(id->save_userid, id->save_sec_context);
}

void
edp_spi_begin(EdpIdentity *id, Oid userid, int flags)
{
	enter(id, userid, flags);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");	/* internal error */
	id->spi = true;
}

void
edp_spi_end(EdpIdentity *id)
{
	Assert(id->spi);
	SPI_finish();
	id->spi = false;
	leave(id);
}

void
edp_become(EdpIdentity *id, Oid userid, int flags)
{
	enter(id, userid, flags);
	id->spi = false;
}

void
edp_unbecome(EdpIdentity *id)
{
	Assert(!id->spi);
	leave(id);
}
