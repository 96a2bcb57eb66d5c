/*
 * The admin routes of spec/rest-api.md "Tenants and keys" as rows of the
 * route table (http_api_int.h): creating a tenant (POST on the collections
 * /api/tenants and /api/orgs), reading one (GET P), and issuing, listing and
 * revoking the API keys of a tenant (P/api-keys). All need the admin role.
 */
#ifndef FV_ADAPTERS_HTTP_ADMIN_H
#define FV_ADAPTERS_HTTP_ADMIN_H

#include <stddef.h>

#include "adapters/http/http_api_int.h"

extern const fv_http__tenant_route fv_http__admin_routes[];
extern const size_t fv_http__admin_route_count;

#endif
