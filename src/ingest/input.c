/*-------------------------------------------------------------------------
 *
 * ingest/input.c
 *		The input side of validated ingest: bytes from a server file or from
 *		the client handed to COPY's parser through its data source callback,
 *		the SHA-256 of the input computed as it streams, and the detection of
 *		the format and the CSV delimiter.
 *
 * COPY reads in CSV mode declared SQL_ASCII, so that it hands over raw
 * bytes; ingest/ingest.c checks each line against the database encoding, and a
 * bad byte sequence rejects its own row only.  JSON lines are read with a
 * delimiter and quote that valid JSON text never contains unescaped (0x1f,
 * 0x1e), so each line is one field.
 *
 * Every input line must reach the engine as a record, so the stream COPY
 * reads is the input with the bytes that would make COPY's parser stop or
 * change record boundaries escaped (EDP_ESC and a code, ingest_internal.h):
 * a NUL byte (which COPY refuses for the whole rest of the input), 0xFF
 * itself, a backslash that starts a line (a line "\." would end the data),
 * and in JSON lines 0x1e and 0x1f; and carriage returns, unless the input's
 * first 64 kB hold a CR and no LF (lines ending in a bare CR), so that COPY
 * ends lines at LF only and CRLF and LF lines may mix: the engine drops the
 * CR of a CRLF line end, and a CR elsewhere is data (inside a quoted field,
 * as in COPY; outside quotes, where COPY would stop, part of its field).  The escapes use no ASCII byte, so they
 * never meet a delimiter, a quote or a newline, and the engine undoes them in
 * each line and field it reads (edp_ingest_unescape).  A UTF-8 byte order
 * mark at the very start of the input is dropped, whatever the format.  The
 * checksum is of the input as it is.
 *
 * A client's CSV or JSON-lines stream (quarantine COPY) is escaped the
 * same way, but its last line may be psql's end marker, a lone \. line,
 * which is then the end of the data and no record (at_end_marker: the
 * reader holds back the few bytes of a candidate until it knows whether
 * anything follows).  COPY's text format, and a stream in another encoding,
 * reach COPY's parser as they are (raw_stream).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "utils/builtins.h"
#include "utils/wait_event.h"

#include "ingest/ingest.h"
#include "ingest/ingest_internal.h"
#include "ingest/ledger.h"

/* the job whose input the COPY callback reads (one at a time per backend) */
static EdpIngest *reading = NULL;

/* delimiters tried, in order of preference on a tie */
static const char delimiter_candidates[] = {',', ';', '\t', '|'};

void
edp_ingest_input_attach(EdpIngest *ing)
{
	reading = ing;
}

/* read from the file or the client's bytes at the current position */
static int
read_raw(EdpIngest *ing, char *buf, int len)
{
	int			n;

	if (ing->read_fn != NULL)
		n = ing->read_fn(ing->read_arg, buf, len);
	else if (ing->file >= 0)
	{
		n = FileRead(ing->file, buf, len, ing->offset, WAIT_EVENT_COPY_FILE_READ);
		if (n < 0)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not read the input of ingest job " INT64_FORMAT ": %m", ing->job_id)));
		ing->offset += n;
	}
	else
	{
		n = Min((Size) len, ing->datalen - ing->datapos);
		memcpy(buf, ing->data + ing->datapos, n);
		ing->datapos += n;
	}
	return n;
}

static void
hash_update(EdpIngest *ing, const char *buf, int len)
{
	if (ing->sha && len > 0 && pg_cryptohash_update(ing->sha, (const uint8 *) buf, len) < 0)
		elog(ERROR, "could not compute SHA-256: %s", pg_cryptohash_error(ing->sha));	/* internal error */
}

void
edp_ingest_hash_finish(EdpIngest *ing)
{
	uint8		digest[PG_SHA256_DIGEST_LENGTH];

	if (ing->sha == NULL)
		return;
	if (pg_cryptohash_final(ing->sha, digest, sizeof(digest)) < 0)
		elog(ERROR, "could not compute SHA-256: %s", pg_cryptohash_error(ing->sha));	/* internal error */
	hex_encode((const char *) digest, sizeof(digest), ing->checksum);
	ing->checksum[PG_SHA256_DIGEST_LENGTH * 2] = '\0';
	pg_cryptohash_free(ing->sha);
	ing->sha = NULL;
}

static const char utf8_bom[3] = {'\xEF', '\xBB', '\xBF'};

/* the escape code of byte c at this point of the stream, or 0 */
static inline int
escape_code(EdpIngest *ing, unsigned char c)
{
	switch (c)
	{
		case 0x00:
			return EDP_ESC_NUL;
		case EDP_ESC:
			return EDP_ESC_FF;
		case '\\':
			return ing->at_line_start ? EDP_ESC_BACKSLASH : 0;
		case 0x1e:
			return ing->jsonl ? EDP_ESC_RS : 0;
		case 0x1f:
			return ing->jsonl ? EDP_ESC_US : 0;
		case '\r':
			return ing->escape_cr ? EDP_ESC_CR : 0;
		default:
			return 0;
	}
}

/*
 * Bytes the reader looks at one by one: those escape_code may escape and
 * the line ends (after which a backslash is escaped).  Any other byte is
 * handed over as it is, a run at a time.
 */
static const char byte_needs_look[] = {
	'\n', '\r', 0x1e, 0x1f, '\\', (char) EDP_ESC, '\0'	/* and NUL, which ends strcspn */
};

/* do the input's first bytes end their lines in a bare CR (a CR and no LF)? */
static bool
lines_end_in_cr(const char *buf, int len)
{
	return memchr(buf, '\r', len) != NULL && memchr(buf, '\n', len) == NULL;
}

/*
 * Read more of the input into inbuf, after the bytes not yet handed over
 * (moved to its start); false at the end of the input.  A stream's first
 * read gathers PEEK_BYTES (or the whole of a shorter input) whatever the
 * size of the client's messages, so that its first bytes settle the byte
 * order mark and the line ends as a file's first bytes do.
 */
static bool
fill_input(EdpIngest *ing)
{
	int			keep = ing->in_len - ing->in_pos;
	int			n = 0;

	if (ing->in_eof)
		return false;
	memmove(ing->inbuf, ing->inbuf + ing->in_pos, keep);
	ing->in_pos = 0;
	ing->in_len = keep;
	do
	{
		n = read_raw(ing, ing->inbuf + ing->in_len, PEEK_BYTES - ing->in_len);
		if (n == 0)
		{
			ing->in_eof = true;
			break;
		}
		hash_update(ing, ing->inbuf + ing->in_len, n);
		ing->bytes_read += n;
		ing->in_len += n;
	} while (!ing->bom_checked && ing->read_fn != NULL && ing->in_len < PEEK_BYTES);
	ing->inbuf[ing->in_len] = '\0';	/* the end of a run's scan */
	if (!ing->bom_checked)
	{
		ing->bom_checked = true;
		if (ing->in_len >= 3 && memcmp(ing->inbuf, utf8_bom, 3) == 0)
			ing->in_pos = 3;
		if (ing->read_fn != NULL)
			ing->escape_cr = !lines_end_in_cr(ing->inbuf + ing->in_pos, ing->in_len - ing->in_pos);
	}
	return ing->in_len > keep;
}

/*
 * At a backslash starting a line of a stream: is the rest of the input a
 * lone \. line, the end marker psql sends (before PostgreSQL 18 it stops
 * reading a file at one, and sends it)?  It is then the end of the data,
 * not a record; a \. line that more bytes follow is a record, as in a file.
 * Looks ahead at most one byte past the longest marker, "\\.\r\n".
 */
static bool
at_end_marker(EdpIngest *ing)
{
	static const char *const markers[] = {"\\.", "\\.\n", "\\.\r\n", "\\.\r"};
	int			rest;
	int			i;

	while (ing->in_len - ing->in_pos <= 4 && fill_input(ing))
		;
	rest = ing->in_len - ing->in_pos;
	if (!ing->in_eof || rest > 4)
		return false;
	for (i = 0; i < (int) lengthof(markers); i++)
		if (rest == (int) strlen(markers[i]) &&
			memcmp(ing->inbuf + ing->in_pos, markers[i], rest) == 0)
			return true;
	return false;
}

/* bytes of the input past what COPY's parser read (0 at its end) */
int
edp_ingest_read_more(EdpIngest *ing, char *buf, int len)
{
	return read_raw(ing, buf, len);
}

/*
 * COPY's data source: fill outbuf with at least minread bytes unless at
 * EOF, the input escaped as the file header says.
 */
int
edp_ingest_read_cb(void *outbuf, int minread, int maxread)
{
	EdpIngest  *ing = reading;
	unsigned char *out = (unsigned char *) outbuf;
	int			total = 0;

	if (ing->raw_stream)
	{
		/*
		 * A client stream in COPY's text format or another encoding
		 * (COPY ... ON_ERROR): COPY's own rules apply as the user gave
		 * them, so nothing is escaped.
		 */
		while (total < minread)
		{
			int			n = read_raw(ing, (char *) outbuf + total, maxread - total);

			if (n == 0)
				break;
			hash_update(ing, (char *) outbuf + total, n);
			total += n;
			ing->bytes_read += n;
		}
		return total;
	}
	while (total < maxread)
	{
		unsigned char c;
		int			code;

		if (ing->esc_pending >= 0)
		{
			out[total++] = (unsigned char) ing->esc_pending;
			ing->esc_pending = -1;
			continue;
		}
		if (ing->in_pos >= ing->in_len)
		{
			if (total >= minread || !fill_input(ing))
				break;
			continue;
		}
		if (!ing->at_line_start)
		{
			/* inside a line: the bytes up to the next one to look at, at once */
			const unsigned char *p = (const unsigned char *) ing->inbuf + ing->in_pos;
			int			avail = Min(ing->in_len - ing->in_pos, maxread - total);
			/* inbuf ends in a NUL: glibc's strcspn scans 16 bytes at a time */
			int			run = (int) Min(strcspn((const char *) p, byte_needs_look), (size_t) avail);

			if (run > 0)
			{
				memcpy(out + total, p, run);
				total += run;
				ing->in_pos += run;
				continue;
			}
		}
		c = (unsigned char) ing->inbuf[ing->in_pos];
		/* (a CR that is data, LF lines, starts no line of its own) */
		if (c == '\\' && ing->at_line_start && ing->read_fn != NULL &&
			!(ing->after_cr && ing->escape_cr) && at_end_marker(ing))
		{
			ing->in_pos = ing->in_len;	/* the end of the data */
			break;
		}
		ing->in_pos++;
		code = escape_code(ing, c);
		if (code != 0)
		{
			out[total++] = EDP_ESC;
			ing->esc_pending = code;
		}
		else
			out[total++] = c;
		ing->at_line_start = (c == '\n' || c == '\r');
		ing->after_cr = (c == '\r');
	}
	return total;
}

/*
 * Undo the stream's escapes in s[0..len), in place; returns the new length.
 * A NUL byte comes back as itself (a C string ends there) and sets *had_nul.
 */
int
edp_ingest_unescape(char *s, int len, bool *had_nul)
{
	int			i = 0;
	int			o = 0;

	while (i < len)
	{
		unsigned char c = (unsigned char) s[i++];

		if (c == EDP_ESC && i < len)
		{
			unsigned char code = (unsigned char) s[i++];

			switch (code)
			{
				case EDP_ESC_FF:
					c = 0xFF;
					break;
				case EDP_ESC_BACKSLASH:
					c = '\\';
					break;
				case EDP_ESC_RS:
					c = 0x1e;
					break;
				case EDP_ESC_US:
					c = 0x1f;
					break;
				case EDP_ESC_CR:
					c = '\r';
					break;
				default:		/* EDP_ESC_NUL */
					*had_nul = true;
					c = 0x00;
					break;
			}
		}
		s[o++] = (char) c;
	}
	if (o < len)
		s[o] = '\0';
	return o;
}

/*
 * Compute the checksum now (only when an earlier job loaded an input of
 * the same size into the same table): COPY's parser has already read, and
 * hashed, a first part of the input; the rest is hashed here, and reading
 * then goes on where the parser left off.  (Going back to the start would
 * feed the parser the input a second time, header included.)
 */
static void
hash_whole_input(EdpIngest *ing)
{
	char	   *buf = palloc(PEEK_BYTES);
	off_t		offset = ing->offset;
	Size		datapos = ing->datapos;
	int			n;

	while ((n = read_raw(ing, buf, PEEK_BYTES)) > 0)
		hash_update(ing, buf, n);
	edp_ingest_hash_finish(ing);
	ing->offset = offset;
	ing->datapos = datapos;
	pfree(buf);
}

/*
 * Is this input identical (SHA-256 and size) to one already loaded into
 * the same table by a succeeded job of owner's?
 */
bool
edp_ingest_is_duplicate_input(EdpIngest *ing, Oid owner, int64 *earlier_job)
{
	if (edp_job_find_loaded(owner, ing->relid, NULL, ing->size, true) == 0)
		return false;			/* checksum computed while loading */
	hash_whole_input(ing);
	*earlier_job = edp_job_find_loaded(owner, ing->relid, ing->checksum, ing->size, false);
	return *earlier_job != 0;
}

/* first line of the input: the delimiter is the candidate it has most of */
static char
detect_delimiter(const char *buf, int len)
{
	int			counts[lengthof(delimiter_candidates)] = {0};
	bool		quoted = false;
	int			best = 0;
	int			i;
	int			j;

	for (i = 0; i < len && (quoted || (buf[i] != '\n' && buf[i] != '\r')); i++)
	{
		if (buf[i] == '"')
			quoted = !quoted;
		else if (!quoted)
			for (j = 0; j < (int) lengthof(delimiter_candidates); j++)
				if (buf[i] == delimiter_candidates[j])
					counts[j]++;
	}
	for (j = 1; j < (int) lengthof(delimiter_candidates); j++)
		if (counts[j] > counts[best])
			best = j;
	return delimiter_candidates[best];
}

static bool
path_has_json_suffix(const char *path)
{
	size_t		len = path ? strlen(path) : 0;

	return (len > 6 && pg_strcasecmp(path + len - 6, ".jsonl") == 0) ||
		(len > 7 && pg_strcasecmp(path + len - 7, ".ndjson") == 0);
}

/* settle format and delimiter from the options, the name and the first bytes */
void
edp_ingest_detect_format(EdpIngest *ing, const char *path)
{
	char	   *buf;
	char	   *peek;
	int			len;
	int			i = 0;

	ing->inbuf = palloc(PEEK_BYTES + 1);
	ing->inbuf[0] = '\0';
	ing->in_pos = ing->in_len = 0;
	ing->esc_pending = -1;
	ing->at_line_start = true;
	ing->bom_checked = false;
	ing->escape_cr = false;
	ing->in_eof = false;
	ing->after_cr = false;
	if (ing->read_fn != NULL)
	{
		/*
		 * A stream cannot be read twice: format and delimiter are given.
		 * CSV and JSON lines are escaped as a file is, every line a
		 * record, except a lone \. line that ends the stream (psql's end
		 * marker, at_end_marker); the line ends are settled by its first
		 * bytes (fill_input).  COPY's text format keeps its backslash
		 * rules, and an input in another encoding is converted by COPY's
		 * parser, which escapes would not survive: both are read as COPY
		 * reads them.
		 */
		ing->jsonl = ing->opts.format && strcmp(ing->opts.format, "jsonl") == 0;
		ing->delimiter = ing->jsonl ? '\x1f' : ing->opts.delimiter[0];
		ing->raw_stream = ing->opts.encoding != NULL ||
			(!ing->jsonl && ing->opts.copy_format != NULL);
		return;
	}
	buf = palloc(PEEK_BYTES);
	len = read_raw(ing, buf, PEEK_BYTES);
	peek = buf;
	ing->offset = 0;
	ing->datapos = 0;
	if (len >= 3 && memcmp(peek, utf8_bom, 3) == 0)
	{
		peek += 3;
		len -= 3;
	}

	if (ing->opts.format)
	{
		if (strcmp(ing->opts.format, "csv") == 0)
			ing->jsonl = false;
		else if (strcmp(ing->opts.format, "jsonl") == 0)
			ing->jsonl = true;
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown ingest format \"%s\"", ing->opts.format),
					 errhint("Use \"csv\" or \"jsonl\", or leave the format out to detect it.")));
	}
	else
	{
		while (i < len && isspace((unsigned char) peek[i]))
			i++;
		ing->jsonl = path_has_json_suffix(path) || (i < len && peek[i] == '{');
	}

	/* every CR is data, unless the lines end in a bare CR */
	ing->escape_cr = !lines_end_in_cr(peek, len);
	if (ing->jsonl)
		ing->delimiter = '\x1f';
	else if (ing->opts.delimiter)
	{
		if (strlen(ing->opts.delimiter) != 1)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("ingest delimiter must be a single one-byte character")));
		ing->delimiter = ing->opts.delimiter[0];
	}
	else
		ing->delimiter = detect_delimiter(peek, len);
	pfree(buf);
}

List *
edp_ingest_copy_options(EdpIngest *ing)
{
	char		delim[2] = {ing->delimiter, '\0'};
	List	   *options = NIL;

	const char *format = "csv";

	if (!ing->jsonl && ing->opts.copy_format != NULL)
		format = ing->opts.copy_format;
	options = lappend(options, makeDefElem("format", (Node *) makeString(pstrdup(format)), -1));
	options = lappend(options, makeDefElem("delimiter", (Node *) makeString(pstrdup(delim)), -1));

	/*
	 * Raw bytes: fields are checked against the database encoding one by
	 * one.  An input in another encoding (COPY's ENCODING, or a client
	 * encoding other than the database's) is converted by COPY's parser.
	 */
	options = lappend(options, makeDefElem("encoding",
										   (Node *) makeString(pstrdup(ing->opts.encoding ? ing->opts.encoding : "SQL_ASCII")), -1));
	if (ing->jsonl)
	{
		options = lappend(options, makeDefElem("quote", (Node *) makeString("\x1e"), -1));
		options = lappend(options, makeDefElem("escape", (Node *) makeString("\x1e"), -1));
	}
	else
		options = list_concat_copy(options, ing->opts.copy_options);
	return options;
}
