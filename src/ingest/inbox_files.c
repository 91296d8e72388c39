/*-------------------------------------------------------------------------
 *
 * ingest/inbox_files.c
 *		Moving a watched inbox's files: processing/<job id>/ while a job
 *		loads one, then done/, or failed/ with the reason beside it, or back
 *		into the inbox (a claim that never committed); and the check of an
 *		inbox directory when it is mapped (edp.watch_inbox).
 *
 * Used by the launcher (claims, recovery after a crash) and by the job
 * worker (a finished job); neither calls the other.
 *
 * Each claimed file gets a directory of its own job in processing/, so a
 * newer file of the same name is claimed at once and never shares a path
 * (nor an outcome) with an older job.  Files are claimed with rename(2)
 * and the two directories fsynced: the file itself is not opened for
 * writing, so a file the server may read but not write (a root-owned 644
 * file in a writable inbox) is claimed like any other.  Directories edp
 * creates in an inbox, and reason files, get the inbox's own permission
 * bits: whoever can read the inbox can read what edp writes there.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/stat.h>
#include <unistd.h>

#include "commands/dbcommands.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/builtins.h"

#include "core/guc.h"
#include "ingest/inbox_files.h"

/* the permission bits of dir (0700 when it cannot be read) */
static mode_t
dir_mode(const char *dir)
{
	struct stat st;

	if (stat(dir, &st) != 0)
		return S_IRWXU;
	return st.st_mode & (S_IRWXU | S_IRWXG | S_IRWXO);
}

/* make dir (if missing) with the permission bits of the inbox */
void
edp_inbox_ensure_dir(const char *inbox, const char *dir)
{
	if (MakePGDirectory(dir) < 0)
	{
		if (errno == EEXIST)
			return;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create directory \"%s\": %m", dir)));
	}
	if (chmod(dir, dir_mode(inbox) | S_IRWXU) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not set permissions of directory \"%s\": %m", dir)));
}

/* a free name in dir for base: base, else base.N */
static char *
free_name(const char *dir, const char *base)
{
	char	   *path = psprintf("%s/%s", dir, base);
	struct stat st;
	int			n = 1;

	while (lstat(path, &st) == 0)
		path = psprintf("%s/%s.%d", dir, base, n++);
	return path;
}

/* the directory part of path (a palloc'd copy) */
static char *
parent_of(const char *path)
{
	char	   *dir = pstrdup(path);

	get_parent_directory(dir);
	return dir;
}

/* rename from to to, durably, without opening the file itself */
static void
move_file(const char *from, const char *to)
{
	char	   *from_dir = parent_of(from);
	char	   *to_dir = parent_of(to);

	if (rename(from, to) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not move \"%s\" to \"%s\": %m", from, to)));
	fsync_fname(to_dir, true);
	if (strcmp(from_dir, to_dir) != 0)
		fsync_fname(from_dir, true);
}

/* the job directory processing/<id>/ of a claimed file, once it is empty */
static void
remove_job_dir(const char *inbox, const char *path)
{
	char	   *dir = parent_of(path);
	char	   *processing = psprintf("%s/processing", inbox);

	if (strcmp(dir, processing) != 0 && strncmp(dir, processing, strlen(processing)) == 0)
	{
		if (rmdir(dir) == 0)
			fsync_fname(processing, true);
	}
}

/*
 * Claim inbox/name for job_id: move it to processing/<job_id>/name and
 * return that path.  An error (the inbox not writable, say) leaves the
 * file where it was.
 */
char *
edp_inbox_claim(const char *inbox, const char *name, int64 job_id)
{
	char	   *processing = psprintf("%s/processing", inbox);
	char	   *jobdir = psprintf("%s/" INT64_FORMAT, processing, job_id);
	char	   *from = psprintf("%s/%s", inbox, name);
	char	   *to = psprintf("%s/%s", jobdir, name);

	edp_inbox_ensure_dir(inbox, processing);
	edp_inbox_ensure_dir(inbox, jobdir);
	PG_TRY();
	{
		if (rename(from, to) != 0)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not claim \"%s\" (move it into processing/): %m", from)));
		fsync_fname(jobdir, true);
		fsync_fname(inbox, true);
	}
	PG_CATCH();
	{
		(void) rmdir(jobdir);	/* cleanup on the way out; the error stays */
		PG_RE_THROW();
	}
	PG_END_TRY();
	return to;
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

	if (lstat(path, &st) != 0)
		return;					/* already moved */
	edp_inbox_ensure_dir(inbox, dir);
	dest = free_name(dir, base);
	move_file(path, dest);
	remove_job_dir(inbox, path);
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
		/* readable by whoever can read the inbox */
		if (chmod(reason, S_IRUSR | S_IWUSR | (dir_mode(inbox) & (S_IRGRP | S_IROTH))) != 0)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not set permissions of \"%s\": %m", reason)));
	}
}

/*
 * A file in processing/ that no job owns (its claim never committed):
 * back into the inbox, where the next scans take it again.
 */
void
edp_inbox_file_return(const char *inbox, const char *path)
{
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	struct stat st;

	if (lstat(path, &st) != 0)
		return;
	move_file(path, free_name(inbox, base));
	remove_job_dir(inbox, path);
}

/*
 * edp_internal.check_inbox_directory(directory): called by edp.watch_inbox.
 * The directory must exist on the server, and the server must be able to
 * list it and move files out of it; a warning says when no launcher will
 * watch it.
 */
PG_FUNCTION_INFO_V1(edp_check_inbox_directory);
Datum
edp_check_inbox_directory(PG_FUNCTION_ARGS)
{
	char	   *dir = text_to_cstring(PG_GETARG_TEXT_PP(0));
	struct stat st;

	if (stat(dir, &st) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not use \"%s\" as an inbox: %m", dir),
				 errhint("The directory is on the database server: create it there, readable and writable by the server's operating-system user.")));
	if (!S_ISDIR(st.st_mode))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("inbox \"%s\" is not a directory", dir)));
	if (access(dir, R_OK | W_OK | X_OK) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("the database server may not read and write inbox directory \"%s\": %m", dir),
				 errdetail("The server lists the inbox and moves each file into processing/, done/ or failed/ inside it."),
				 errhint("Give the server's operating-system user read, write and search (rwx) permission on the directory.")));

	if (!edp_preloaded)
		ereport(WARNING,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("edp is not loaded via shared_preload_libraries: inbox \"%s\" is recorded but not watched", dir),
				 errhint("Add edp to shared_preload_libraries in postgresql.conf and restart the server.")));
	else
	{
		char	   *db = get_database_name(MyDatabaseId);

		if (db == NULL || strcmp(db, edp_database) != 0)
			ereport(WARNING,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("inboxes are watched only in database \"%s\": inbox \"%s\" is recorded but not watched", edp_database, dir),
					 errhint("Map the inbox in the database named by edp.database, or change that setting and restart the server.")));
	}
	PG_RETURN_VOID();
}
