/*
 * mcp_int.h - what the two halves of `lanser mcp` share (docs/mcp.md):
 * agent/mcp.c speaks the protocol (stdin reader thread, JSON-RPC framing
 * and errors, initialize, logging, progress, cancellation), agent/mcp_tools.c
 * serves tools and resources from agent/tools.h.
 *
 * Threads: the main thread runs requests one at a time (tool calls
 * included); the reader thread reads stdin, answers ping, applies
 * notifications/cancelled to the running call and sends progress
 * notifications while a call runs. Everything under `lock` is shared
 * between them; `out_lock` serialises writes on the protocol fd.
 */
#ifndef LANSER_AGENT_MCP_INT_H
#define LANSER_AGENT_MCP_INT_H

#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

struct cli;
struct agent_tools;

/* JSON-RPC 2.0 error codes, and MCP's "resource not found". */
#define MCP_EPARSE -32700
#define MCP_EREQUEST -32600
#define MCP_EMETHOD -32601
#define MCP_EPARAMS -32602
#define MCP_EINTERNAL -32603
#define MCP_ENORESOURCE -32002

#define MCP_MAX_LINE ((size_t)4 << 20)   /* one message, in bytes */
#define MCP_MAX_QUEUED 256               /* requests waiting while one runs */
#define MCP_MAX_QUEUED_BYTES ((size_t)32 << 20) /* ... and their lines' bytes */
#define MCP_MAX_BUNDLES 32               /* bundles kept as resources */
#define MCP_MAX_TRACE ((size_t)16 << 20) /* the trace resource, in bytes */

struct mcp_msg {
	json_t *msg;
	size_t bytes;          /* the line it came from */
	struct mcp_msg *next;
};

/* A request's failure: code (MCP_E*) and message; code 0 with no result
 * means "send no answer" (a cancelled call). */
struct mcp_err {
	int code;
	char msg[512];
	json_t *data;          /* optional error.data (owned) */
};

enum mcp_level { MCP_DEBUG, MCP_INFO, MCP_NOTICE, MCP_WARNING, MCP_ERROR, MCP_CRITICAL,
		 MCP_ALERT, MCP_EMERGENCY };

struct mcp {
	struct cli *c;
	pthread_t main_thread; /* runs the calls (cancellation signals it) */
	int out_fd;            /* the protocol's stdout (fd 1 goes to stderr) */
	int in_fd;             /* the protocol's stdin (fd 0 reads /dev/null) */
	bool read_only;        /* --read-only or .lanser.json "readOnly": true */
	char *trace_path;      /* --trace FILE made absolute (we run from the root), or NULL */
	struct agent_tools *tools; /* opened at the first call */
	json_t *bundle_schema; /* outputSchema of every tool */
	json_t *bundles;       /* resources: [{uri, tool, bundle}], oldest first */

	pthread_mutex_t out_lock;
	bool out_broken;       /* the client went away (EPIPE) */

	pthread_mutex_t lock;  /* everything below */
	pthread_cond_t cond;
	struct mcp_msg *head, *tail;
	size_t queued, queued_bytes;
	bool eof;
	bool initialized;
	enum mcp_level level;
	json_t *call_id;       /* the running tools/call, or NULL */
	json_t *call_token;    /* its _meta.progressToken, or NULL */
	char call_name[64];
	bool call_cancelled;
	long long call_start, last_progress;
	long long last_signal; /* when the cancelled call was last sent SIGINT */
	volatile sig_atomic_t cancel; /* agent_tools_opts.cancel */
};

/* Sends one message (steals `msg`); thread-safe. */
void mcp_send(struct mcp *m, json_t *msg);
/* A log notification when `level` is at or above the client's level. */
void mcp_log(struct mcp *m, enum mcp_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Sets e and returns NULL, for handlers. */
json_t *mcp_fail(struct mcp_err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* agent/mcp_tools.c: request handlers (main thread). A result (new
 * reference), or NULL with e set. */
json_t *mcp_tools_list(struct mcp *m, const json_t *params, struct mcp_err *e);
json_t *mcp_tools_call(struct mcp *m, const json_t *id, const json_t *params, struct mcp_err *e);
json_t *mcp_resources_list(struct mcp *m, const json_t *params, struct mcp_err *e);
json_t *mcp_resources_read(struct mcp *m, const json_t *params, struct mcp_err *e);
json_t *mcp_resource_templates(struct mcp *m, const json_t *params, struct mcp_err *e);
void mcp_tools_release(struct mcp *m);

#endif
