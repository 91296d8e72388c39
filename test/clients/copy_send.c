/*-------------------------------------------------------------------------
 *
 * test/clients/copy_send.c
 *		A COPY ... FROM STDIN client that is not psql, for the TAP tests:
 *		it sends a file's bytes as they are, in CopyData messages of a
 *		given size, whatever lines they hold (psql stops sending at a lone
 *		\. line; libpq's PQputCopyData, psycopg or JDBC's CopyManager do not).
 *
 *		copy_send CONNINFO STATEMENT FILE CHUNK_BYTES
 *
 * Prints "NOTICE: <message>" (and "DETAIL: <detail>") for each notice, "TAG: <command tag>" on
 * success, "ERROR: <sqlstate> <message>" on failure (exit status 1); a
 * usage or connection problem exits with status 2.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libpq-fe.h"

/* notices on stdout, in order with the tag (stderr would interleave) */
static void
print_notice(void *arg, const PGresult *res)
{
	const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);

	printf("NOTICE: %s\n", msg ? msg : "");
	if (detail)
		printf("DETAIL: %s\n", detail);
}

static int
report_error(const PGresult *res, PGconn *conn)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;

	printf("ERROR: %s %s\n", state ? state : "-----", msg ? msg : PQerrorMessage(conn));
	return 1;
}

int
main(int argc, char **argv)
{
	PGconn	   *conn;
	PGresult   *res;
	FILE	   *in;
	char	   *buf;
	long		chunk;
	size_t		n;
	int			status = 0;

	if (argc != 5 || (chunk = strtol(argv[4], NULL, 10)) <= 0)
	{
		fprintf(stderr, "usage: %s CONNINFO STATEMENT FILE CHUNK_BYTES\n", argv[0]);
		return 2;
	}
	if ((in = fopen(argv[3], "rb")) == NULL || (buf = malloc(chunk)) == NULL)
	{
		perror(argv[3]);
		return 2;
	}
	conn = PQconnectdb(argv[1]);
	if (PQstatus(conn) != CONNECTION_OK)
	{
		fprintf(stderr, "%s", PQerrorMessage(conn));
		return 2;
	}
	PQsetNoticeReceiver(conn, print_notice, NULL);

	res = PQexec(conn, argv[2]);
	if (PQresultStatus(res) != PGRES_COPY_IN)
	{
		status = PQresultStatus(res) == PGRES_FATAL_ERROR ? report_error(res, conn) : 2;
		if (status == 2)
			fprintf(stderr, "not a COPY FROM STDIN: %s\n", PQresStatus(PQresultStatus(res)));
		PQclear(res);
		PQfinish(conn);
		return status;
	}
	PQclear(res);

	/* every byte of the file, in messages of chunk bytes (the last may be shorter) */
	while ((n = fread(buf, 1, chunk, in)) > 0)
		if (PQputCopyData(conn, buf, (int) n) != 1)
			break;
	if (PQputCopyEnd(conn, ferror(in) ? "could not read the input file" : NULL) != 1)
		return report_error(NULL, conn);

	while ((res = PQgetResult(conn)) != NULL)
	{
		if (PQresultStatus(res) == PGRES_COMMAND_OK)
			printf("TAG: %s\n", PQcmdStatus(res));
		else
			status = report_error(res, conn);
		PQclear(res);
	}
	PQfinish(conn);
	fclose(in);
	free(buf);
	return status;
}
