/*
 * daemon_int.h - what the daemon's two halves share (see daemon.h for the
 * daemon itself): the server's state, its log and its error reply.
 * agent/daemon.c is the server's life (lock, socket, signals, the poll
 * loop, connections, idle and validity checks); agent/drequest.c answers
 * one whole request read from a connection (run, status, ready, stop)
 * against the warm workspace. Nothing else includes this header.
 *
 * Single-threaded: every function here runs on the daemon's one thread.
 */
#ifndef LANSER_AGENT_DAEMON_INT_H
#define LANSER_AGENT_DAEMON_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

#include "agent/daemon.h"
#include "agent/dcache.h"
#include "core/buf.h"

struct ln_config;
struct lsp_workspace;

#define DAEMON_MAX_CLIENTS 64       /* connections at a time (daemon.h) */

/* One accepted connection that has not sent a whole request yet. */
struct conn {
	int fd;
	struct buf in;
	long long since;
};

struct daemon {
	const struct cli *c;
	struct daemon_paths paths;
	struct lsp_workspace *ws;
	char cfg_digest[72];
	json_t *servers_cfg;      /* the "servers" the servers were started with */
	int listen_fd, lock_fd;
	struct conn conns[DAEMON_MAX_CLIENTS];
	size_t nconns;
	struct dcache cache;
	long long started_ms, last_active_ms, last_check_ms;
	int idle_ms;
	unsigned long requests, hits, refused, malformed, evicted;
	ino_t root_ino, sock_ino;
	dev_t root_dev;
	bool stopping;            /* set by a request: the loop ends after it */
};

/* One line on the daemon's log (its stderr): UTC time, pid, the message. */
void daemon_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Answers `fd` with an error reply: exit status ln_exit_code(code), stderr
 * "lanser: MESSAGE\n" (at most ~600 bytes). Written with the reply
 * deadline; a peer that does not read loses it. */
void daemon_send_error(int fd, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* (Re)creates d's warm workspace for the configuration `cfg` (borrowed):
 * empties the answer cache, starts the servers and warms them, and sets
 * the idle timeout. 0, or an LN_E* code with the last error set (d->ws may
 * then be NULL: requests answer with the error until it is fixed). */
int daemon_ws_setup(struct daemon *d, const struct ln_config *cfg);

/* Answers one whole request (body: its JSON, len bytes, borrowed) on fd.
 * May set d->stopping (a stop request, a workspace root that is gone). */
void daemon_handle_request(struct daemon *d, int fd, const char *body, size_t len);

#endif
