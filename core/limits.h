/*
 * limits.h - the named bounds that several layers share, in one place
 * (issue 18, item 5). Reached only as "core/limits.h" (one -I.), so it
 * never shadows the system <limits.h>.
 */
#ifndef LANSER_CORE_LIMITS_H
#define LANSER_CORE_LIMITS_H

#include <stddef.h>

/* The largest file lanser reads, parses, edits or hands to a server: a
 * source file before or after an edit, a document for tree-sitter, a
 * test-result report, a JSON document given as @FILE, a log tail. */
#define LN_FILE_MAX_BYTES ((size_t)16 << 20)

/* The largest timeout or wait a caller may ask for, in milliseconds (one
 * hour): --timeout/--wait-index, .lanser.json timeouts, batch, trace and
 * daemon requests. */
#define LN_TIMEOUT_MAX_MS 3600000

#endif
