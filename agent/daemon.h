/*
 * daemon.h - the warm per-workspace daemon and its client (docs/daemon.md).
 *
 * One daemon per workspace root owns that workspace's language servers and
 * answers query commands (def, refs, hover, symbols, diag) for CLI calls
 * that connect to its unix socket, so that a call costs a socket round trip
 * instead of a server start. The first call starts it; it detaches fully
 * (double fork, setsid, stdio on its log) and stops after an idle period,
 * on `lanser daemon stop`, when its workspace root disappears, or when its
 * socket is taken away.
 *
 * Files, in the workspace's state folder (core/state.h, mode 0700):
 *   sock          the listening socket (0600)
 *   daemon.lock   flock()ed by the live daemon for its whole life: at most
 *                 one daemon per workspace, and a stale socket is detected
 *   start.lock    flock()ed by a client while it starts the daemon, so
 *                 concurrent first calls start exactly one
 *   daemon.pid    "<pid>\n<root>\n" (informational)
 *   daemon.log    the daemon's stdout/stderr (trimmed at start)
 *
 * Trust: the client only connects to a socket owned by its own uid in a
 * folder it owns, and checks the daemon's uid with SO_PEERCRED; the daemon
 * checks every connecting peer with SO_PEERCRED and refuses any uid but its
 * own (permission bits do not stop root).
 *
 * Wire format (both directions bounded; see docs/daemon.md):
 *   request  = u32be length, then that many bytes of JSON (at most 1 MiB):
 *              {"op":"run","argv":[...],"cwd":"/abs"} | {"op":"status"} |
 *              {"op":"stop"} | {"op":"ready","timeoutMs":N}
 *              (a member of the wrong type or out of range: an error reply)
 *   reply    = "LNR1", u32be exit status, u32be stdout length, u32be stderr
 *              length, then the two byte strings;
 *              or "LNB1" with the same layout ("busy": the request was not
 *              run, stderr says why), which the client answers in-process.
 * One request per connection.
 *
 * Connections: at most 64 at a time. A request already sent when the
 * daemon accepts the connection is answered at once; a connection that
 * has not sent a whole request within 2 s is closed, and when the table
 * is full the connection that has waited longest is evicted (it gets
 * "busy"). So idle peers of the same uid cannot stand between a client
 * and its answer; at worst a client is told "busy" and answers itself.
 */
#ifndef LANSER_AGENT_DAEMON_H
#define LANSER_AGENT_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "core/buf.h"
#include "agent/cli.h"

#define DAEMON_MAX_REQUEST ((size_t)1 << 20)
#define DAEMON_MAX_REPLY ((size_t)256 << 20)
/* A progress frame ("LNP1", before the reply, when the run request says
 * "progress": true): one line for the client's terminal, at most this
 * many bytes. */
#define DAEMON_MAX_PROGRESS 1024

/* `lanser daemon run`: serves c->root in the foreground until it is idle,
 * stopped, or its root or socket goes away (agent/daemon.c; `daemon
 * start` runs it detached). 0, or LN_EDAEMON when it cannot serve (a
 * daemon already runs, the socket cannot be made). */
int daemon_serve(struct cli *c);

/* True when LANSER_NO_DAEMON is set to a non-empty value other than "0". */
bool daemon_disabled(void);

struct daemon_reply {
	int code;              /* the command's exit status */
	struct buf out, err;
	bool busy;             /* the daemon sent "busy" instead of an answer */
};

/* Sends a command line (argv without the program name) to the daemon of
 * c->root, starting the daemon if none answers, and waits for the reply.
 * Returns 0 with *reply filled (release its buffers), or an LN_E* code
 * when no daemon could be reached or it died mid-request (the caller may
 * answer in-process instead). */
int daemon_call(const struct cli *c, int argc, char *const *argv, struct daemon_reply *reply);

/* daemon_call, then writes the reply's output to stdout/stderr and gives
 * its exit status in *code. Retries once with a fresh daemon when the
 * daemon died while answering; a "busy" daemon is an error at once (the
 * caller answers in-process). */
int daemon_forward(const struct cli *c, int argc, char *const *argv, int *code);

/* ---- shared by the client (client.c), the daemon (daemon.c) and the
 * `daemon` command (daemoncmd.c) ---- */

/* The workspace's state files. */
struct daemon_paths {
	char *dir;
	struct buf sock, lock, start, pid, log;
};
void dpaths_zero(struct daemon_paths *p);
int dpaths_init(struct daemon_paths *p, const char *root);
void dpaths_release(struct daemon_paths *p);

void wire_put_u32(unsigned char *p, uint32_t v);
uint32_t wire_get_u32(const unsigned char *p);
/* Exactly len bytes, or LN_EDAEMON (closed, error, deadline; -1: none). */
int wire_write(int fd, const void *data, size_t len, long long deadline);
int wire_read(int fd, void *data, size_t len, long long deadline);

/* 0 connected (socket and peer checked: ours); 1 nobody listens; else an
 * LN_E* code. */
int daemon_connect(const struct daemon_paths *p, int *fd_out);
/* Sends one request (borrowed) and reads the reply. LN_EDAEMON with
 * r->busy set when the daemon answered "busy". */
int daemon_roundtrip(int fd, json_t *req, struct daemon_reply *r, long long deadline);
void daemon_reply_init(struct daemon_reply *r);
void daemon_reply_release(struct daemon_reply *r);
/* Connects (starting the daemon when `autostart`), sends `req` (owned),
 * reads the reply. LN_ENOTFOUND when no daemon runs and !autostart. */
int daemon_request(const struct cli *c, json_t *req, struct daemon_reply *r, bool autostart,
		   long long deadline);

/* The binary that runs the daemon and in-process commands: this one in
 * the engine, `lanser-engine` next to it in the thin front end (set by
 * main; LANSER_ENGINE overrides). */
extern const char *lanser_engine_path;

#endif
