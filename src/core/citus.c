/*-------------------------------------------------------------------------
 *
 * core/citus.c
 *		Tables that Citus keeps (distributed, reference and Citus local
 *		tables), told apart without linking to Citus.
 *
 * On a Citus coordinator (and, with metadata sync, on the workers) such a
 * table is a shell: its rows live in shards that Citus reads and writes.
 * edp's own loaders (COPY into an edp table, validated ingest) write into
 * the relation they open, so for a Citus table they would fill the shell,
 * which Citus never reads.  They refuse instead (see doc/scale-out.md);
 * the shards themselves are ordinary tables to edp.
 *
 * Citus lists its tables in pg_catalog.pg_dist_partition; a database
 * without the citus extension has none.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"

#include "core/citus.h"
#include "core/security.h"

/* Is relid a table of Citus's metadata (pg_dist_partition)? */
bool
edp_is_citus_table(Oid relid)
{
	EdpIdentity spi;
	Oid			argtype = OIDOID;
	Datum		arg = ObjectIdGetDatum(relid);
	bool		found;

	if (!OidIsValid(get_extension_oid("citus", true)))
		return false;
	edp_spi_begin(&spi, InvalidOid, EDP_AS_CALLER);
	if (SPI_execute_with_args("SELECT FROM pg_catalog.pg_dist_partition"
							  " WHERE logicalrelid OPERATOR(pg_catalog.=) $1::pg_catalog.regclass",
							  1, &argtype, &arg, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read pg_dist_partition");
	found = SPI_processed > 0;
	edp_spi_end(&spi);
	return found;
}

/* edp's loaders write into the relation itself: never into a Citus shell */
void
edp_refuse_citus_table(Relation rel)
{
	if (edp_is_citus_table(RelationGetRelid(rel)))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("edp cannot load into \"%s\" because it is a Citus table",
						RelationGetRelationName(rel)),
				 errdetail("Its rows live in Citus's shards; edp's loader would write into the coordinator's shell table."),
				 errhint("Load it with plain COPY or INSERT, which Citus runs on the shards; edp does not keep its features on Citus tables yet (doc/scale-out.md).")));
}
