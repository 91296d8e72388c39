/*-------------------------------------------------------------------------
 *
 * ingest/json_lines.c
 *		Flatten one JSON object for validated ingest: nested objects become
 *		columns named by their path joined with underscores
 *		({"data": {"id": 1}} -> data_id), scalars become their text, arrays
 *		stay JSON text.  jsonb does the parsing; any key is fine, including
 *		SQL keywords such as "from".
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "ingest/ingest.h"

static char *
scalar_text(JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			return NULL;
		case jbvString:
			return pnstrdup(v->val.string.val, v->val.string.len);
		case jbvNumeric:
			return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
		case jbvBool:
			return pstrdup(v->val.boolean ? "true" : "false");
		default:
			elog(ERROR, "unexpected jsonb value type %d", (int) v->type);	/* internal error */
	}
	return NULL;
}

static void
flatten_container(JsonbContainer *container, const char *prefix, List **names, List **values)
{
	JsonbIterator *it = JsonbIteratorInit(container);
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *key = NULL;

	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			char	   *k = pnstrdup(v.val.string.val, v.val.string.len);

			key = prefix ? psprintf("%s_%s", prefix, k) : k;
		}
		else if (tok == WJB_VALUE)
		{
			if (v.type == jbvBinary && JsonContainerIsObject(v.val.binary.data))
				flatten_container(v.val.binary.data, key, names, values);
			else if (v.type == jbvBinary)
			{
				*names = lappend(*names, key);
				*values = lappend(*values, JsonbToCString(NULL, v.val.binary.data, v.val.binary.len));
			}
			else
			{
				*names = lappend(*names, key);
				*values = lappend(*values, scalar_text(&v));
			}
		}
	}
}

/* names and text values (NULL for JSON null) of the flattened object */
void
edp_json_flatten(Jsonb *jb, List **names, List **values)
{
	flatten_container(&jb->root, NULL, names, values);
}
