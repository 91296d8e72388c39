/*-------------------------------------------------------------------------
 *
 * core/compat.h
 *		The one place that tests PG_VERSION_NUM.
 *
 * edp targets PostgreSQL 15; wrappers here name the 15 spelling of APIs
 * that later releases renamed, so the rest of the code reads the same.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EDP_COMPAT_H
#define EDP_COMPAT_H

#if PG_VERSION_NUM < 150000
#error "edp requires PostgreSQL 15 or later"
#endif

#if PG_VERSION_NUM >= 160000
#define edp_init_materialized_srf(fcinfo) InitMaterializedSRF((fcinfo), 0)
#define edp_init_materialized_srf_scalar(fcinfo) InitMaterializedSRF((fcinfo), MAT_SRF_USE_EXPECTED_DESC)
#else
#define edp_init_materialized_srf(fcinfo) SetSingleFuncCall((fcinfo), 0)
#define edp_init_materialized_srf_scalar(fcinfo) SetSingleFuncCall((fcinfo), SRF_SINGLE_USE_EXPECTED)
#endif

/*
 * A materialized SRF whose row type is the one the caller expects: a
 * query's function scan has already built that descriptor, so short
 * queries skip building it again from pg_proc's OUT parameters.
 */
#define edp_init_materialized_srf_expected(fcinfo) \
	do { \
		if (((ReturnSetInfo *) (fcinfo)->resultinfo) != NULL && \
			IsA((fcinfo)->resultinfo, ReturnSetInfo) && \
			((ReturnSetInfo *) (fcinfo)->resultinfo)->expectedDesc != NULL) \
			edp_init_materialized_srf_scalar(fcinfo); \
		else \
			edp_init_materialized_srf(fcinfo); \
	} while (0)

#endif							/* EDP_COMPAT_H */
