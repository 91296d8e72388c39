/*-------------------------------------------------------------------------
 *
 * ingest/inbox_files.c
 *		Moving a watched inbox's files: processing/ while a job loads one,
 *		then done/, or failed/ with the reason beside it.
 *
 * Used by the launcher (claims, and jobs whose worker died) and by the
 * job worker (a finished job); neither calls the other.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/stat.h>
#include <unistd.h>

#include "storage/fd.h"

#include "ingest/inbox_files.h"

void
edp_inbox_ensure_dir(const char *dir)
{
	if (MakePGDirectory(dir) < 0 && errno != EEXIST)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create directory \"%s\": %m", dir)));
}

/* a free name in dir for base: base, else base.N */
static char *
free_name(const char *dir, const char *base)
{
	char	   *path = psprintf("%s/%s", dir, base);
	struct stat st;
	int			n = 1;

	while (stat(path, &st) == 0)
		path = psprintf("%s/%s.%d", dir, base, n++);
	return path;
}

/*
 * A job's inbox file is finished: to done/, or to failed/ with the reason
 * in NAME.reason.  Called by the ingest worker, and by the launcher for
 * jobs whose worker died.
 */
void
edp_inbox_file_done(const char *inbox, const char *path, const char *error)
{
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	char	   *dir = psprintf("%s/%s", inbox, error ? "failed" : "done");
	char	   *dest;
	struct stat st;

	if (stat(path, &st) != 0)
		return;					/* already moved */
	edp_inbox_ensure_dir(dir);
	dest = free_name(dir, base);
	if (durable_rename(path, dest, ERROR) != 0)
		return;
	if (error)
	{
		char	   *reason = psprintf("%s.reason", dest);
		FILE	   *f = AllocateFile(reason, "w");

		if (f == NULL)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not write \"%s\": %m", reason)));
		fprintf(f, "%s\n", error);
		if (FreeFile(f) != 0)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not write \"%s\": %m", reason)));
	}
}
