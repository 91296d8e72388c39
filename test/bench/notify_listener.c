/*
 * notify_listener.c -- benchmark helper for test/bench/ingest.sh: LISTEN on
 * edp_ingest and print, for each notification, its event id and the wall
 * clock time it arrived (epoch seconds), until a "succeeded", "failed" or
 * "cancelled" event arrives.  ingest.sh compares the arrival times with the
 * time edp.job_events recorded for each event (just before its commit).
 *
 * Usage: notify_listener CONNINFO   (prints "ready" once listening)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/time.h>

#include "libpq-fe.h"

int
main(int argc, char **argv)
{
	PGconn	   *conn = PQconnectdb(argc > 1 ? argv[1] : "");
	PGresult   *res;
	int			done = 0;

	if (PQstatus(conn) != CONNECTION_OK)
	{
		fprintf(stderr, "notify_listener: %s", PQerrorMessage(conn));
		return 1;
	}
	res = PQexec(conn, "LISTEN edp_ingest");
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		fprintf(stderr, "notify_listener: %s", PQerrorMessage(conn));
		return 1;
	}
	PQclear(res);
	printf("ready\n");
	fflush(stdout);

	while (!done)
	{
		int			sock = PQsocket(conn);
		fd_set		input;
		PGnotify   *n;

		FD_ZERO(&input);
		FD_SET(sock, &input);
		if (select(sock + 1, &input, NULL, NULL, NULL) < 0)
			return 1;
		PQconsumeInput(conn);
		while ((n = PQnotifies(conn)) != NULL)
		{
			struct timeval tv;
			const char *id = strstr(n->extra, "\"event_id\": ");

			gettimeofday(&tv, NULL);
			printf("%ld %ld.%06ld\n", id ? strtol(id + 12, NULL, 10) : -1L,
				   (long) tv.tv_sec, (long) tv.tv_usec);
			if (strstr(n->extra, "\"event\": \"succeeded\"") ||
				strstr(n->extra, "\"event\": \"failed\"") ||
				strstr(n->extra, "\"event\": \"cancelled\""))
				done = 1;
			PQfreemem(n);
		}
		fflush(stdout);
	}
	PQfinish(conn);
	return 0;
}
