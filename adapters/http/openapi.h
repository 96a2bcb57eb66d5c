/*
 * The OpenAPI 3.0 document of the REST API, served as it is at
 * GET /api/docs/openapi.json. Its one source is adapters/http/openapi.json,
 * written by hand next to the routes it describes; the build embeds the file
 * into the binary as the array below (adapters/http/embed.cmake, which also
 * refuses a file that is not JSON), so the document served is the file,
 * byte for byte. tests/test_http_api.c proves that the document lists every
 * route the server serves and nothing else, and the openapi_lint test runs a
 * real OpenAPI validator (Redocly CLI, tests/openapi/) on the file.
 */
#ifndef FV_ADAPTERS_HTTP_OPENAPI_H
#define FV_ADAPTERS_HTTP_OPENAPI_H

#include <stddef.h>

/* The document's bytes (followed by a NUL that len does not count). */
extern const char fv_http__openapi_json[];
extern const size_t fv_http__openapi_json_len;

#endif
