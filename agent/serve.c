/*
 * serve.c - `lanser serve`: the reward server for GRPO trainers
 * (docs/serve.md; agent/serve.h for its parts).
 *
 * Reads the tasks file (every task's settings from its base revision, as
 * `lanser group` reads them), checks the listening address (loopback only
 * unless --allow-remote with --token-file), starts the workers and the HTTP
 * daemon, and waits for TERM or INT: then it stops accepting, lets the
 * requests in flight finish (at most their deadline), and exits 0. A second
 * signal cancels the scoring still running (its samples come back null).
 */
#include "agent/cli.h"
#include "agent/serve.h"

#include "core/buf.h"
#include "core/err.h"
#include "core/path.h"
#include "core/proc.h"
#include "core/xalloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SERVE_MAX_TASKS 1000
#define SERVE_MAX_TASK_LINE ((size_t)1 << 20)
#define SERVE_TOKEN_MAX 4096

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static FILE *log_out;

void srv_log(const char *fmt, ...)
{
	va_list ap;

	if (!log_out)
		return;
	pthread_mutex_lock(&log_lock);
	fputs("lanser serve: ", log_out);
	va_start(ap, fmt);
	vfprintf(log_out, fmt, ap);
	va_end(ap);
	fputc('\n', log_out);
	fflush(log_out);
	pthread_mutex_unlock(&log_lock);
}

/* ---- the tasks file ---- */

static bool id_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	return n > 0 && n <= 64 && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				   "0123456789._-") == n;
}

/* A path of the tasks file: absolute, or relative to its folder. */
static char *rel_path(const char *dir, const char *p)
{
	return p[0] == '/' ? xstrdup(p) : xasprintf("%s/%s", dir, p);
}

static int task_from_json(struct srv_task *t, const json_t *v, const char *dir, const char *file,
			  long lineno, const struct cli *c)
{
	static const char *const known[] = { "id", "workspace", "task", "base", "tests", NULL };
	const char *id = json_string_value(json_object_get(v, "id"));
	const char *ws = json_string_value(json_object_get(v, "workspace"));
	const char *task = json_string_value(json_object_get(v, "task"));
	const char *base = json_string_value(json_object_get(v, "base"));
	const json_t *tests = json_object_get(v, "tests"), *x;
	struct eng_source src;
	struct buf csv = BUF_INIT;
	char *root = NULL, *wsabs = NULL, *taskabs = NULL;
	const char *key;
	size_t i;
	int error;

	json_object_foreach((json_t *)v, key, x) {
		for (i = 0; known[i] && strcmp(known[i], key); i++)
			;
		if (!known[i])
			return ln_error_set(LN_ECONFIG, "%s:%ld: unknown member \"%s\"", file, lineno,
					    key);
	}
	if (!id_ok(id))
		return ln_error_set(LN_ECONFIG, "%s:%ld: \"id\" must be 1-64 characters of "
				    "[A-Za-z0-9._-]", file, lineno);
	if (!ws || !*ws)
		return ln_error_set(LN_ECONFIG, "%s:%ld: \"workspace\" (a git repository) is "
				    "needed", file, lineno);
	if (tests && !json_is_array(tests))
		return ln_error_set(LN_ECONFIG, "%s:%ld: \"tests\" must be an array of test ids",
				    file, lineno);
	json_array_foreach(tests, i, x) {
		if (!json_is_string(x) || strchr(json_string_value(x), ','))
			return ln_error_set(LN_ECONFIG, "%s:%ld: tests[%zu] must be a string "
					    "without ','", file, lineno, i);
		buf_addf(&csv, "%s%s", i ? "," : "", json_string_value(x));
	}
	wsabs = rel_path(dir, ws);
	error = ln_workspace_find_root(&root, wsabs, dir);
	if (error) {
		error = ln_error_set(error, "%s:%ld: workspace %s: %s", file, lineno, ws,
				     ln_error_msg());
		goto done;
	}
	t->id = xstrdup(id);
	memset(&src, 0, sizeof src);
	src.from = ENG_CONFIG_BASE;
	src.root = root;
	src.cwd = dir;
	if (task)
		src.task_path = taskabs = rel_path(dir, task);
	src.base = base;
	src.tests = csv.len ? csv.data : NULL;
	src.no_isolation = c->no_isolation;
	error = eng_settings_load(&t->s, &src);
	if (error) {
		error = ln_error_set(error, "%s:%ld: task %s: %s", file, lineno, id, ln_error_msg());
		goto done;
	}
	/* pinned to its commit: the engine's worktree, every test worktree and
	 * the answers name the same commit even when a branch moves meanwhile
	 * (the configuration was read from it a moment ago) */
	t->base_name = xstrdup(t->s.task.base);
	error = eng_resolve_commit(t->base_oid, root, t->base_name);
	if (error) {
		error = ln_error_set(error, "%s:%ld: task %s: base: %s", file, lineno, id,
				     ln_error_msg());
		goto done;
	}
	free(t->s.task.base);
	t->s.task.base = xstrdup(t->base_oid);
	if (c->sample_timeout_ms > 0 && (t->s.task.limits.wall_ms == 0 ||
					 t->s.task.limits.wall_ms > c->sample_timeout_ms))
		t->s.task.limits.wall_ms = c->sample_timeout_ms;
done:
	buf_release(&csv);
	free(root);
	free(wsabs);
	free(taskabs);
	return error;
}

static void tasks_free(struct srv_task *v, size_t n)
{
	size_t i;
	for (i = 0; i < n; i++) {
		free(v[i].id);
		free(v[i].base_name);
		eng_settings_release(&v[i].s);
		pthread_mutex_destroy(&v[i].lock);
		pthread_cond_destroy(&v[i].cond);
	}
	free(v);
}

/* Reads tasks.jsonl: one task per line (blank lines skipped). */
static int tasks_load(struct srv_task **out, size_t *nout, const struct cli *c, const char *path)
{
	char *abs = rel_path(c->cwd, path), *dir = xstrdup(abs), *slash;
	struct srv_task *v = NULL;
	struct buf b = BUF_INIT;
	size_t n = 0, pos = 0, i;
	long lineno = 0;
	int error;

	*out = NULL;
	*nout = 0;
	if ((slash = strrchr(dir, '/')))
		*(slash == dir ? slash + 1 : slash) = '\0';
	error = buf_read_file(&b, abs, (size_t)SERVE_MAX_TASKS * SERVE_MAX_TASK_LINE);
	if (error) {
		error = ln_error_set(error == LN_EINPUT ? LN_EINPUT : LN_ENOTFOUND, "--tasks %s: %s",
				     path, ln_error_msg());
		goto done;
	}
	while (!error && pos < b.len) {
		const char *s = b.data + pos, *e = memchr(s, '\n', b.len - pos);
		size_t len = e ? (size_t)(e - s) : b.len - pos;
		json_error_t je;
		json_t *line;
		pos += len + (e ? 1 : 0);
		lineno++;
		if (strspn(s, " \t\r") >= len)
			continue;
		if (len > SERVE_MAX_TASK_LINE || n >= SERVE_MAX_TASKS) {
			error = ln_error_set(LN_ECONFIG, "%s:%ld: more than %d tasks or a line longer "
					     "than %zu bytes", path, lineno, SERVE_MAX_TASKS,
					     SERVE_MAX_TASK_LINE);
			break;
		}
		line = json_loadb(s, len, JSON_REJECT_DUPLICATES, &je);
		if (!json_is_object(line)) {
			error = ln_error_set(LN_ECONFIG, "%s:%ld: not a JSON object%s%s", path, lineno,
					     line ? "" : ": ", line ? "" : je.text);
			json_decref(line);
			break;
		}
		v = xreallocarray(v, n + 1, sizeof *v);
		memset(&v[n], 0, sizeof v[n]);
		pthread_mutex_init(&v[n].lock, NULL);
		pthread_cond_init(&v[n].cond, NULL);
		error = task_from_json(&v[n], line, dir, path, lineno, c);
		n++;
		json_decref(line);
		for (i = 0; !error && i + 1 < n; i++)
			if (!strcmp(v[i].id, v[n - 1].id))
				error = ln_error_set(LN_ECONFIG, "%s:%ld: task id '%s' is taken", path,
						     lineno, v[i].id);
	}
	if (!error && n == 0)
		error = ln_error_set(LN_ECONFIG, "--tasks %s: no task", path);
done:
	if (error) {
		tasks_free(v, n);
	} else {
		*out = v;
		*nout = n;
	}
	buf_release(&b);
	free(abs);
	free(dir);
	return error;
}

/* ---- the listening address and the token ---- */

struct listen_addr {
	struct sockaddr_storage ss;
	bool ipv6, loopback;
};

/* "HOST:PORT" with a numeric IPv4 host, or "[IPv6]:PORT". */
static int parse_listen(struct listen_addr *la, const char *s)
{
	char host[64];
	const char *colon;
	char *end;
	long port;
	size_t hn;

	memset(la, 0, sizeof *la);
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');
		if (!rb || rb[1] != ':')
			goto bad;
		hn = (size_t)(rb - s - 1);
		if (hn >= sizeof host)
			goto bad;
		memcpy(host, s + 1, hn);
		colon = rb + 1;
		la->ipv6 = true;
	} else {
		colon = strrchr(s, ':');
		if (!colon || (size_t)(colon - s) >= sizeof host)
			goto bad;
		hn = (size_t)(colon - s);
		memcpy(host, s, hn);
	}
	host[hn] = '\0';
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (!colon[1] || *end || errno || port < 0 || port > 65535)
		goto bad;
	if (la->ipv6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&la->ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
			goto bad;
		la->loopback = IN6_IS_ADDR_LOOPBACK(&a->sin6_addr);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&la->ss;
		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
			goto bad;
		la->loopback = (ntohl(a->sin_addr.s_addr) >> 24) == 127;
	}
	return 0;
bad:
	return ln_error_set(LN_EUSAGE, "--listen needs HOST:PORT with a numeric address "
			    "(127.0.0.1:8650, [::1]:8650), got '%s'", s);
}

static int read_token(char **out, const char *path)
{
	struct buf b = BUF_INIT;
	struct stat st;
	int error;

	*out = NULL;
	if (stat(path, &st) || !S_ISREG(st.st_mode))
		return ln_error_set(LN_ENOTFOUND, "--token-file %s: not a readable file", path);
	error = buf_read_file(&b, path, SERVE_TOKEN_MAX);
	if (error) {
		buf_release(&b);
		return ln_error_set(LN_EINPUT, "--token-file %s: %s", path, ln_error_msg());
	}
	while (b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r' ||
			 b.data[b.len - 1] == ' '))
		b.data[--b.len] = '\0';
	if (b.len < 16 || memchr(b.data, '\0', b.len) || strpbrk(b.data, "\r\n")) {
		buf_release(&b);
		return ln_error_set(LN_EINPUT, "--token-file %s: the token must be one line of at "
				    "least 16 bytes", path);
	}
	if (st.st_mode & 077)
		srv_log("note: %s is readable by other users", path);
	*out = buf_detach(&b, NULL);
	return 0;
}

/* ---- the command ---- */

static volatile sig_atomic_t serve_signals;
static volatile sig_atomic_t serve_cancel;

static void on_signal(int sig)
{
	(void)sig;
	if (++serve_signals > 1)
		serve_cancel = 1;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static int cpu_count(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}

static int write_port_file(const struct cli *c, unsigned port)
{
	char *abs = rel_path(c->cwd, c->port_file), *tmp = xasprintf("%s.tmp", abs);
	FILE *f = fopen(tmp, "w");
	int error = 0;

	if (!f || fprintf(f, "%u\n", port) < 0 || fclose(f) || rename(tmp, abs))
		error = ln_error_set(LN_EPERM, "--port-file %s: %s", c->port_file, strerror(errno));
	free(tmp);
	free(abs);
	return error;
}

int cmd_serve(struct cli *c)
{
	struct srv_task *tasks = NULL;
	struct srv_http_opts ho;
	struct listen_addr la;
	struct sigaction sa, old_int, old_term;
	enum rwd_episode_mode emode = RWD_EP_PGRPO;
	char *token = NULL;
	size_t ntasks = 0, i;
	unsigned port = 0;
	int workers, engines, error, deadline;
	long long drain_until;

	log_out = c->err;
	if (!c->tasks_path)
		return ln_error_set(LN_EUSAGE, "serve needs --tasks FILE (docs/serve.md)");
	if ((error = parse_listen(&la, c->listen ? c->listen : "127.0.0.1:8650")))
		return error;
	if (!la.loopback && !c->allow_remote)
		return ln_error_set(LN_EUSAGE, "--listen %s is not a loopback address: add "
				    "--allow-remote and --token-file", c->listen);
	if (!la.loopback && !c->token_file)
		return ln_error_set(LN_EUSAGE, "--allow-remote needs --token-file (a bearer token)");
	if (c->episode_mode && rwd_episode_mode_parse(&emode, c->episode_mode))
		return ln_error_set(LN_EUSAGE, "--episode must be p-grpo, outcome, process or sum");
	if (c->token_file && (error = read_token(&token, c->token_file)))
		return error;
	if ((error = tasks_load(&tasks, &ntasks, c, c->tasks_path)))
		goto done;
	for (i = 0; i < ntasks; i++) {
		struct eng_opts *o = &tasks[i].o;
		o->mode = emode;
		o->weights = rwd_weights_default;
		o->index_io = c->index_io;
		/* no workspace of its own (the tasks name theirs): the timeouts
		 * are the options', else the defaults of docs/config.md */
		o->init_ms = 60000;
		o->request_ms = c->timeout_set ? c->timeout_ms : 30000;
		o->index_ms = c->index_set ? c->index_ms : 120000;
		o->diagnostics_ms = 60000;
		o->jobs = c->jobs;
		o->no_isolation = c->no_isolation;
		o->cancel = &serve_cancel;
	}
	workers = c->workers > 0 ? c->workers : cpu_count();
	/* more engines than workers would never be used at once; more than the
	 * CPUs per task would only compete for them (each has its servers) */
	engines = c->engines_per_task > 0 ? c->engines_per_task
		: (int)((size_t)workers / ntasks) < 1 ? 1
		: (int)((size_t)workers / ntasks) > cpu_count() ? cpu_count()
		: (int)((size_t)workers / ntasks);
	for (i = 0; i < ntasks; i++)
		tasks[i].engines_max = engines;
	deadline = c->deadline_ms > 0 ? c->deadline_ms : 300000;
	srv_metrics_init();
	serve_signals = 0;
	serve_cancel = 0;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	if ((error = srv_pool_start(tasks, ntasks, workers, c->queue_max > 0 ? c->queue_max : 64)))
		goto stop_pool;
	memset(&ho, 0, sizeof ho);
	ho.addr = (const struct sockaddr *)&la.ss;
	ho.ipv6 = la.ipv6;
	ho.token = token;
	ho.max_body = c->max_body > 0 ? (size_t)c->max_body : (size_t)16 << 20;
	ho.conn_timeout_s = c->idle_timeout_ms > 0 ? (c->idle_timeout_ms + 999) / 1000 : 10;
	ho.body_ms = 3 * ho.conn_timeout_s * 1000;
	ho.max_conns = c->max_conns > 0 ? c->max_conns : 256;
	ho.deadline_ms = deadline;
	ho.tasks = tasks;
	ho.ntasks = ntasks;
	ho.emode = emode;
	if ((error = srv_http_start(&ho, &port)))
		goto stop_pool;
	srv_log("listening on %s, port %u (%zu task%s, %d workers, %d engine%s per task, "
		"queue %d)%s", c->listen ? c->listen : "127.0.0.1:8650", port, ntasks,
		ntasks == 1 ? "" : "s", workers, engines, engines == 1 ? "" : "s",
		c->queue_max > 0 ? c->queue_max : 64, token ? ", bearer token required" : "");
	if (c->port_file && (error = write_port_file(c, port)))
		goto stop_http;
	while (!serve_signals)
		sleep_ms(100);
	srv_log("signal: draining (%d request%s in flight)", srv_http_inflight(),
		srv_http_inflight() == 1 ? "" : "s");
	srv_http_quiesce();
	drain_until = ln_now_ms() + deadline + 5000;
	while (srv_http_inflight() > 0 && ln_now_ms() < drain_until && !serve_cancel)
		sleep_ms(50);
	srv_log("drained: stopping");
stop_http:
	srv_http_stop();
stop_pool:
	srv_pool_stop();
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
done:
	tasks_free(tasks, ntasks);
	free(token);
	return error;
}
