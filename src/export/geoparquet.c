/*-------------------------------------------------------------------------
 *
 * export/geoparquet.c
 *		GeoParquet 1.1: what each geometry column holds (types, bounding
 *		box, CRS) and the "geo" key-value metadata of the file footer.
 *
 * Geometries are written as ISO WKB (PostGIS's st_asbinary).  While they
 * are written we walk each WKB once for its type and coordinates: PostGIS
 * could tell us the same per value (GeometryType, ST_XMin, ...) but at
 * several function calls per row.  The CRS comes from the SRID of the
 * column's geometries, which must all have the same one:
 *	 4326		"crs" left out, i.e. OGC:CRS84, longitude/latitude on WGS 84
 *				(GeoParquet coordinates are always x/y, lon/lat, so EPSG:4326
 *				as PostGIS stores it is exactly that)
 *	 0			"crs": null, the spec's "unknown"
 *	 other		a PROJJSON object naming the CRS by its id (EPSG:<srid>)
 *				only; readers that need the full definition look it up
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "port/pg_bswap.h"
#include "utils/json.h"

#include "export/parquet.h"

/* GeoParquet's names of the seven simple feature types (WKB codes 1..7) */
static const char *const geo_type_names[7] = {
	"Point", "LineString", "Polygon", "MultiPoint", "MultiLineString",
	"MultiPolygon", "GeometryCollection"
};

typedef struct WkbReader
{
	const unsigned char *p;
	size_t		len;
	size_t		off;
	const char *colname;
} WkbReader;

static void
wkb_bad(WkbReader *r)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("malformed WKB in geometry column \"%s\"", r->colname)));
}

static uint32
wkb_uint32(WkbReader *r, bool swap)
{
	uint32		v;

	if (r->off + 4 > r->len)
		wkb_bad(r);
	memcpy(&v, r->p + r->off, 4);
	r->off += 4;
	return swap ? pg_bswap32(v) : v;
}

static double
wkb_double(WkbReader *r, bool swap)
{
	uint64		v;
	double		d;

	if (r->off + 8 > r->len)
		wkb_bad(r);
	memcpy(&v, r->p + r->off, 8);
	r->off += 8;
	if (swap)
		v = pg_bswap64(v);
	memcpy(&d, &v, 8);
	return d;
}

static void
add_point(EdpGeoSummary *g, WkbReader *r, bool swap, int ndims)
{
	double		x = wkb_double(r, swap);
	double		y = wkb_double(r, swap);
	int			i;

	for (i = 2; i < ndims; i++)
		(void) wkb_double(r, swap);
	/* POINT EMPTY is NaN NaN; an infinite coordinate has no JSON form */
	if (!isfinite(x) || !isfinite(y))
		return;
	if (!g->has_bbox)
	{
		g->xmin = g->xmax = x;
		g->ymin = g->ymax = y;
		g->has_bbox = true;
		return;
	}
	g->xmin = Min(g->xmin, x);
	g->xmax = Max(g->xmax, x);
	g->ymin = Min(g->ymin, y);
	g->ymax = Max(g->ymax, y);
}

static void
walk(EdpGeoSummary *g, WkbReader *r, bool top, int depth)
{
	bool		swap;
	uint32		type;
	uint32		base;
	bool		has_z;
	bool		has_m;
	int			ndims;
	uint32		n;
	uint32		i;

	if (depth > 32 || r->off + 5 > r->len)
		wkb_bad(r);
	if (r->p[r->off] > 1)
		wkb_bad(r);
#ifdef WORDS_BIGENDIAN
	swap = (r->p[r->off] == 1);
#else
	swap = (r->p[r->off] == 0);
#endif
	r->off++;
	type = wkb_uint32(r, swap);
	/* ISO codes (1000 * Z/M/ZM + type); EWKB's flag bits for good measure */
	has_z = (type & 0x80000000) != 0;
	has_m = (type & 0x40000000) != 0;
	type &= 0x0FFFFFFF;
	base = type % 1000;
	has_z |= (type / 1000 == 1 || type / 1000 == 3);
	has_m |= (type / 1000 == 2 || type / 1000 == 3);
	ndims = 2 + (has_z ? 1 : 0) + (has_m ? 1 : 0);

	if (base < 1 || base > 7)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("geometry column \"%s\" holds a geometry type GeoParquet does not know (WKB type %u)",
						r->colname, type),
				 errhint("GeoParquet 1.1 knows the seven simple feature types; convert curves with ST_CurveToLine.")));
	if (top)
		g->types |= 1u << ((base - 1) + (has_z ? 7 : 0));

	switch (base)
	{
		case 1:
			add_point(g, r, swap, ndims);
			break;
		case 2:
			n = wkb_uint32(r, swap);
			for (i = 0; i < n; i++)
				add_point(g, r, swap, ndims);
			break;
		case 3:
			n = wkb_uint32(r, swap);
			for (i = 0; i < n; i++)
			{
				uint32		np = wkb_uint32(r, swap);
				uint32		j;

				for (j = 0; j < np; j++)
					add_point(g, r, swap, ndims);
			}
			break;
		default:
			n = wkb_uint32(r, swap);
			for (i = 0; i < n; i++)
				walk(g, r, false, depth + 1);
			break;
	}
}

/* account for one geometry (its ISO WKB and SRID) of column colname */
void
edp_geo_add_wkb(EdpGeoSummary *geo, const char *colname,
				const unsigned char *wkb, size_t len, int32 srid)
{
	WkbReader	r;

	if (!geo->srid_set)
	{
		geo->srid = srid;
		geo->srid_set = true;
	}
	else if (geo->srid != srid)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("geometry column \"%s\" mixes SRIDs %d and %d", colname, geo->srid, srid),
				 errdetail("GeoParquet records one coordinate reference system per column."),
				 errhint("Transform the geometries to one SRID, e.g. with ST_Transform.")));
	r.p = wkb;
	r.len = len;
	r.off = 0;
	r.colname = colname;
	walk(geo, &r, true, 0);
	if (r.off != len)
		wkb_bad(&r);
}

static void
append_double(StringInfo s, double v)
{
	char		buf[64];

	snprintf(buf, sizeof(buf), "%.17g", v);
	appendStringInfoString(s, buf);
}

/*
 * The value of the footer's "geo" key (GeoParquet 1.1.0), or NULL when no
 * column is a geometry.  The first geometry column is the primary one.
 */
char *
edp_geo_metadata_json(EdpParquetColumn *cols, int ncols)
{
	StringInfoData s;
	bool		first_col = true;
	int			i;

	for (i = 0; i < ncols; i++)
		if (cols[i].kind == EDP_PQ_GEOMETRY)
			break;
	if (i == ncols)
		return NULL;

	initStringInfo(&s);
	appendStringInfoString(&s, "{\"version\":\"1.1.0\",\"primary_column\":");
	escape_json(&s, cols[i].name);
	appendStringInfoString(&s, ",\"columns\":{");
	for (; i < ncols; i++)
	{
		EdpParquetColumn *c = &cols[i];
		EdpGeoSummary *g = &c->geo;
		bool		first_type = true;
		int			t;

		if (c->kind != EDP_PQ_GEOMETRY)
			continue;
		if (!first_col)
			appendStringInfoChar(&s, ',');
		first_col = false;
		escape_json(&s, c->name);
		appendStringInfoString(&s, ":{\"encoding\":\"WKB\",\"geometry_types\":[");
		for (t = 0; t < 14; t++)
		{
			if (!(g->types & (1u << t)))
				continue;
			if (!first_type)
				appendStringInfoChar(&s, ',');
			first_type = false;
			appendStringInfo(&s, "\"%s%s\"", geo_type_names[t % 7], t >= 7 ? " Z" : "");
		}
		appendStringInfoChar(&s, ']');
		if (g->has_bbox)
		{
			appendStringInfoString(&s, ",\"bbox\":[");
			append_double(&s, g->xmin);
			appendStringInfoChar(&s, ',');
			append_double(&s, g->ymin);
			appendStringInfoChar(&s, ',');
			append_double(&s, g->xmax);
			appendStringInfoChar(&s, ',');
			append_double(&s, g->ymax);
			appendStringInfoChar(&s, ']');
		}
		if (g->srid_set && g->srid == 0)
			appendStringInfoString(&s, ",\"crs\":null");
		else if (g->srid_set && g->srid != 4326)
			appendStringInfo(&s, ",\"crs\":{\"id\":{\"authority\":\"EPSG\",\"code\":%d}}", g->srid);
		appendStringInfoChar(&s, '}');
	}
	appendStringInfoString(&s, "}}");
	return s.data;
}
