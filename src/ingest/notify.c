/*-------------------------------------------------------------------------
 *
 * ingest/notify.c
 *		Send an ingest job event on channel edp_ingest.
 *
 * The payload is the small JSON object ingest/ledger.c stores in edp.job_events
 * (event id, job id, event, status and counts; never row data), so a
 * listener that reconnects can catch up with edp.job_events_since().
 * Async_Notify queues it in the current transaction: it is delivered at
 * commit and dropped on rollback, which is why background jobs commit
 * after each batch before their progress becomes visible.
 *
 * PostgreSQL delivers a channel's notifications to every session of the
 * database that listens on it, whoever owns the job; the payload therefore
 * names no table, path or role.  A user who wants only their own events
 * listens on edp_ingest_<oid> instead (doc/security.md).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/async.h"

#include "core/edp.h"
#include "ingest/notify.h"

void
edp_notify_ingest(const char *payload, Oid owner)
{
	char		channel[NAMEDATALEN];

	/* internal error: payloads hold ids and counts only */
	if (strlen(payload) >= NAMEDATALEN * 64)
		elog(ERROR, "edp ingest notification payload too long");

	Async_Notify(EDP_INGEST_CHANNEL, payload);
	if (OidIsValid(owner))
	{
		snprintf(channel, sizeof(channel), "%s_%u", EDP_INGEST_CHANNEL, owner);
		Async_Notify(channel, payload);
	}
}
