/*
 * The discovery routes of spec/rest-api.md (seed 000) as rows of the tenant
 * route table (http_api_int.h): workers (list, get, heartbeats, status
 * history, delete) and workflow and task definitions (list, get, PATCH
 * configuration). Reads need any role; DELETE and PATCH the operator or
 * admin role.
 */
#ifndef FV_ADAPTERS_HTTP_DISCOVERY_H
#define FV_ADAPTERS_HTTP_DISCOVERY_H

#include <stddef.h>

#include "adapters/http/http_api_int.h"

extern const fv_http__tenant_route fv_http__discovery_routes[];
extern const size_t fv_http__discovery_route_count;

#endif
