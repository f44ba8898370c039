/*
 * rawlsp - the baseline of lanser's benchmarks: a minimal LSP client that
 * starts a language server, waits until it is ready, and times identical
 * requests sent straight over its stdio pipes.
 *
 * It deliberately shares no code with lanser (its own framing, its own
 * process handling, only jansson): it is what "an already-warm server and
 * the cheapest possible client" costs, the floor lanser's warm path is
 * measured against.
 *
 *   rawlsp --root DIR --file REL --lang ID [--ready MODE] [-n N]
 *          [--warmup K] [--timeout MS] [--log FILE] [--show]
 *          --req METHOD:LINE:COL [--req ...] -- SERVER-COMMAND [ARGS...]
 *
 * METHOD is def, refs or hover; LINE and COL are 0-based, in the server's
 * position units (the fixtures are ASCII where we query, so any encoding
 * gives the same numbers). MODE is
 *   clangd   wait for $/progress "end" of token backgroundIndexProgress
 *            (if clangd announces none within 3 s, it is not indexing);
 *   pyright  wait for a window/logMessage "Found N source files" or
 *            "No source files found";
 *   none     no readiness wait.
 * Every request is then sent K times untimed (warm-up) and N times timed;
 * each timed sample is one round trip: from just before the request is
 * written to just after its response has been read and parsed.
 *
 * Output: one JSON object per --req on stdout, e.g.
 *   {"method":"def","n":200,"p50Ms":0.21,"p95Ms":0.4,"meanMs":0.25,
 *    "minMs":0.15,"maxMs":1.2,"results":1,"initMs":31.2,"readyMs":410.3}
 * "results" is the number of locations (def/refs) or hover characters in
 * the last answer (--show adds that answer as "result"); an empty answer is
 * an error (exit 1), so the figures are never those of a server that answers
 * nothing. Exit 0 ok, 1 error, 2 usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_FRAME (64u << 20) /* a bigger message from a server is an error */
#define MAX_FILE (16u << 20)
#define MAX_REQS 16

/* The server's pid, so that no exit path leaves it running. */
static volatile pid_t g_child;

enum ready_mode { READY_NONE, READY_CLANGD, READY_PYRIGHT };

struct req {
	const char *name;   /* def, refs, hover */
	const char *method; /* textDocument/... */
	int line, col;
};

struct server {
	pid_t pid;
	int in, out;            /* our ends: write to in, read from out */
	char *buf;              /* bytes read from the server, not yet framed */
	size_t len, cap;
	int next_id;
	/* readiness */
	bool index_begun, index_done, found_files;
	const char *index_token;
	FILE *log;
	bool stopping, eof;
};

static void kill_child(void)
{
	pid_t pid = g_child;
	int status;

	if (pid > 0) {
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		g_child = 0;
	}
}

static void on_signal(int sig)
{
	pid_t pid = g_child;
	if (pid > 0) {
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("rawlsp: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	kill_child();
	exit(1);
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* ---- the child process ---- */

static void spawn(struct server *s, char **argv, const char *cwd, const char *log_path)
{
	int to[2], from[2], errp[2], err_fd;
	int child_errno = 0;
	ssize_t r;

	if (pipe2(to, O_CLOEXEC) || pipe2(from, O_CLOEXEC) || pipe2(errp, O_CLOEXEC))
		die("pipe: %s", strerror(errno));
	err_fd = open(log_path ? log_path : "/dev/null", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
		      0644);
	if (err_fd < 0)
		die("%s: %s", log_path ? log_path : "/dev/null", strerror(errno));
	s->pid = fork();
	if (s->pid < 0)
		die("fork: %s", strerror(errno));
	if (s->pid == 0) {
		/* async-signal-safe calls only; exec errors go back over errp */
		if (dup2(to[0], 0) < 0 || dup2(from[1], 1) < 0 || dup2(err_fd, 2) < 0 ||
		    chdir(cwd) < 0)
			goto fail;
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execvp(argv[0], argv);
	fail:
		child_errno = errno;
		r = write(errp[1], &child_errno, sizeof child_errno);
		(void)r;
		_exit(127);
	}
	g_child = s->pid;
	setpgid(s->pid, s->pid); /* also here: no race with kill(-pid) */
	close(to[0]);
	close(from[1]);
	close(errp[1]);
	close(err_fd);
	r = read(errp[0], &child_errno, sizeof child_errno);
	close(errp[0]);
	if (r == (ssize_t)sizeof child_errno)
		die("cannot start %s: %s", argv[0], strerror(child_errno));
	s->in = to[1];
	s->out = from[0];
	fcntl(s->in, F_SETFL, fcntl(s->in, F_GETFL) | O_NONBLOCK);
}

/* Reads what the server has written, waiting at most timeout_ms. */
static void fill(struct server *s, int timeout_ms)
{
	struct pollfd p = { .fd = s->out, .events = POLLIN };
	ssize_t n;
	int r = poll(&p, 1, timeout_ms);

	if (r < 0 && errno != EINTR)
		die("poll: %s", strerror(errno));
	if (r <= 0 || s->eof)
		return;
	if (s->cap - s->len < 65536) {
		s->cap = s->cap ? s->cap * 2 : 1 << 17;
		if (s->cap > 2 * (size_t)MAX_FRAME)
			die("server sent more than %u bytes in one go", 2 * MAX_FRAME);
		s->buf = realloc(s->buf, s->cap);
		if (!s->buf)
			abort();
	}
	n = read(s->out, s->buf + s->len, s->cap - s->len);
	if (n == 0) {
		if (s->stopping) {
			s->eof = true;
			return;
		}
		die("the server closed its output (crashed?)");
	}
	if (n < 0 && errno != EINTR && errno != EAGAIN)
		die("read: %s", strerror(errno));
	if (n > 0)
		s->len += n;
}

/* ---- framing ---- */

/* Writes one message; keeps reading while the server's pipe is full so
 * that neither side can block the other. */
static void send_msg(struct server *s, json_t *msg)
{
	char *body = json_dumps(msg, JSON_COMPACT);
	char head[64];
	size_t blen, off = 0, hlen, total;
	char *frame;

	if (!body)
		abort();
	blen = strlen(body);
	hlen = (size_t)snprintf(head, sizeof head, "Content-Length: %zu\r\n\r\n", blen);
	total = hlen + blen;
	frame = malloc(total);
	if (!frame)
		abort();
	memcpy(frame, head, hlen);
	memcpy(frame + hlen, body, blen);
	while (off < total) {
		ssize_t n = write(s->in, frame + off, total - off);
		if (n > 0) {
			off += n;
			continue;
		}
		if (n < 0 && errno == EPIPE && s->stopping)
			break;
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			die("write to server: %s", strerror(errno));
		struct pollfd p[2] = { { .fd = s->in, .events = POLLOUT },
				       { .fd = s->out, .events = POLLIN } };
		if (poll(p, 2, 1000) > 0 && (p[1].revents & (POLLIN | POLLHUP)))
			fill(s, 0);
	}
	free(frame);
	free(body);
	json_decref(msg);
}

/* Takes one complete message out of the buffer, or returns NULL. */
static json_t *take_msg(struct server *s)
{
	char *end, *p;
	size_t hlen, clen = 0;
	bool have_len = false;
	json_t *msg;
	json_error_t err;

	if (!s->len)
		return NULL;
	end = memmem(s->buf, s->len, "\r\n\r\n", 4);
	if (!end) {
		if (s->len > 8192)
			die("header longer than 8 KiB");
		return NULL;
	}
	hlen = (size_t)(end - s->buf) + 4;
	for (p = s->buf; p < end;) {
		char *eol = memmem(p, (size_t)(end + 2 - p), "\r\n", 2);
		if (eol - p > 15 && !strncasecmp(p, "Content-Length:", 15)) {
			char *q = p + 15, *e;
			unsigned long long v;
			while (*q == ' ' || *q == '\t')
				q++;
			errno = 0;
			v = strtoull(q, &e, 10);
			if (errno || e == q || v > MAX_FRAME)
				die("bad Content-Length");
			clen = (size_t)v;
			have_len = true;
		}
		p = eol + 2;
	}
	if (!have_len)
		die("message without Content-Length");
	if (s->len < hlen + clen)
		return NULL;
	msg = json_loadb(s->buf + hlen, clen, 0, &err);
	if (!msg)
		die("malformed JSON from the server: %s", err.text);
	memmove(s->buf, s->buf + hlen + clen, s->len - hlen - clen);
	s->len -= hlen + clen;
	return msg;
}

/* ---- server-to-client traffic ---- */

static void reply(struct server *s, json_t *id, json_t *result)
{
	send_msg(s, json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id, "result", result));
}

/* Answers the server's requests (pyright stalls until they are answered)
 * and follows the notifications readiness depends on. */
static void handle_incoming(struct server *s, json_t *msg)
{
	const char *method = json_string_value(json_object_get(msg, "method"));
	json_t *id = json_object_get(msg, "id");
	json_t *params = json_object_get(msg, "params");

	if (!method)
		return;
	if (id) {
		if (!strcmp(method, "workspace/configuration")) {
			json_t *items = json_object_get(params, "items"), *res = json_array();
			size_t i;
			for (i = 0; i < json_array_size(items); i++)
				json_array_append_new(res, json_null());
			reply(s, id, res);
		} else {
			/* client/registerCapability, window/workDoneProgress/create, ... */
			reply(s, id, json_null());
		}
		return;
	}
	if (!strcmp(method, "$/progress")) {
		const char *tok = json_string_value(json_object_get(params, "token"));
		const char *kind = json_string_value(
			json_object_get(json_object_get(params, "value"), "kind"));
		if (tok && kind && s->index_token && !strcmp(tok, s->index_token)) {
			if (!strcmp(kind, "begin"))
				s->index_begun = true;
			else if (!strcmp(kind, "end"))
				s->index_done = true;
		}
	} else if (!strcmp(method, "window/logMessage")) {
		const char *m = json_string_value(json_object_get(params, "message"));
		if (m && s->log)
			fprintf(s->log, "log: %s\n", m);
		if (m && ((strstr(m, "Found ") && strstr(m, "source file")) ||
			  strstr(m, "No source files found")))
			s->found_files = true;
	}
}

/* Pumps messages for at most timeout_ms; returns the response to id, or
 * NULL once the time is up (id < 0: only pumps). */
static json_t *pump(struct server *s, int id, int timeout_ms)
{
	double deadline = now_ms() + timeout_ms;

	for (;;) {
		json_t *msg;
		while ((msg = take_msg(s))) {
			json_t *mid = json_object_get(msg, "id");
			if (!json_object_get(msg, "method") && json_is_integer(mid) &&
			    json_integer_value(mid) == id)
				return msg;
			handle_incoming(s, msg);
			json_decref(msg);
		}
		double left = deadline - now_ms();
		if (left <= 0 || s->eof)
			return NULL;
		fill(s, (int)left + 1);
	}
}

static int send_request(struct server *s, const char *method, json_t *params)
{
	int id = ++s->next_id;
	send_msg(s, json_pack("{s:s, s:i, s:s, s:o}", "jsonrpc", "2.0", "id", id, "method", method,
			      "params", params));
	return id;
}

static json_t *call(struct server *s, const char *method, json_t *params, int timeout_ms)
{
	int id = send_request(s, method, params);
	json_t *res = pump(s, id, timeout_ms);
	if (!res)
		die("%s: no answer within %d ms", method, timeout_ms);
	if (json_object_get(res, "error")) {
		char *e = json_dumps(json_object_get(res, "error"), JSON_COMPACT);
		die("%s: error %s", method, e);
	}
	return res;
}

static void notify(struct server *s, const char *method, json_t *params)
{
	send_msg(s, json_pack("{s:s, s:s, s:o}", "jsonrpc", "2.0", "method", method, "params",
			      params));
}

/* ---- measurements ---- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Linear interpolation between closest ranks (numpy's default; the same
 * formula as bench/timeit.py). v must be sorted. */
static double percentile(const double *v, int n, double p)
{
	double pos = p * (n - 1);
	int lo = (int)pos;
	if (lo + 1 >= n)
		return v[n - 1];
	return v[lo] + (v[lo + 1] - v[lo]) * (pos - lo);
}

static size_t result_size(const json_t *result)
{
	if (json_is_array(result))
		return json_array_size(result);
	if (json_is_object(result)) {
		json_t *c = json_object_get(result, "contents");
		if (json_is_object(c))
			return strlen(json_string_value(json_object_get(c, "value")) ?: "");
		if (json_is_string(c))
			return strlen(json_string_value(c));
		if (json_object_get(result, "uri"))
			return 1; /* a single Location */
		return json_array_size(c);
	}
	return 0;
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *data;
	size_t n;

	if (!f)
		die("%s: %s", path, strerror(errno));
	data = malloc(MAX_FILE + 1);
	if (!data)
		abort();
	n = fread(data, 1, MAX_FILE + 1, f);
	fclose(f);
	if (n > MAX_FILE)
		die("%s: larger than %u bytes", path, MAX_FILE);
	data[n] = 0;
	return data;
}

static char *file_uri(const char *abs)
{
	/* Percent-encodes everything but unreserved characters and '/'. */
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(abs), i, o = 0;
	char *u = malloc(7 + 3 * n + 1);
	if (!u)
		abort();
	memcpy(u, "file://", 7);
	o = 7;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)abs[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    strchr("/-._~", c)) {
			u[o++] = (char)c;
		} else {
			u[o++] = '%';
			u[o++] = hex[c >> 4];
			u[o++] = hex[c & 15];
		}
	}
	u[o] = 0;
	return u;
}

static void usage(void)
{
	fputs("usage: rawlsp --root DIR --file REL --lang ID [--ready clangd|pyright|none]\n"
	      "              [-n N] [--warmup K] [--timeout MS] [--log FILE] [--show]\n"
	      "              --req def|refs|hover:LINE:COL [--req ...] -- SERVER [ARGS...]\n"
	      "(LINE and COL are 0-based)\n",
	      stderr);
	exit(2);
}

static int parse_int(const char *s)
{
	char *e;
	long v;
	errno = 0;
	v = strtol(s, &e, 10);
	if (errno || e == s || *e || v < 0 || v > 1000000000)
		usage();
	return (int)v;
}

static void parse_req(struct req *r, const char *spec)
{
	char name[16];
	int line, col, used = 0;

	if (sscanf(spec, "%15[a-z]:%d:%d%n", name, &line, &col, &used) != 3 || spec[used] ||
	    line < 0 || col < 0)
		usage();
	if (!strcmp(name, "def"))
		r->name = "def", r->method = "textDocument/definition";
	else if (!strcmp(name, "refs"))
		r->name = "refs", r->method = "textDocument/references";
	else if (!strcmp(name, "hover"))
		r->name = "hover", r->method = "textDocument/hover";
	else
		usage();
	r->line = line;
	r->col = col;
}

static json_t *req_params(const struct req *r, const char *uri)
{
	json_t *p = json_pack("{s:{s:s}, s:{s:i, s:i}}", "textDocument", "uri", uri, "position",
			      "line", r->line, "character", r->col);
	if (!strcmp(r->name, "refs"))
		json_object_set_new(p, "context", json_pack("{s:b}", "includeDeclaration", 1));
	return p;
}

static void stop_server(struct server *s)
{
	int status, i;
	json_t *res;

	/* Polite shutdown, then exit; SIGKILL to the process group if it lingers. */
	s->stopping = true;
	res = pump(s, send_request(s, "shutdown", json_null()), 5000);
	json_decref(res);
	notify(s, "exit", json_null());
	close(s->in);
	for (i = 0; i < 500; i++) {
		pid_t r = waitpid(s->pid, &status, WNOHANG);
		if (r == s->pid)
			break;
		if (r < 0)
			break;
		/* keep draining so a chatty server cannot block on a full pipe */
		if (s->eof)
			usleep(10000);
		else
			fill(s, 10);
	}
	if (i == 500) {
		kill(-s->pid, SIGKILL);
		kill(s->pid, SIGKILL);
		waitpid(s->pid, &status, 0);
	}
	/* clangd and node may leave helpers in the group: end them too. */
	kill(-s->pid, SIGKILL);
	g_child = 0;
	close(s->out);
}

int main(int argc, char **argv)
{
	const char *root = NULL, *file = NULL, *lang = NULL, *log_path = NULL;
	bool show = false;
	enum ready_mode ready = READY_NONE;
	int n = 100, warmup = 5, timeout = 120000, nreq = 0, i, k;
	struct req reqs[MAX_REQS];
	struct server s = { 0 };
	char root_abs[4096], *root_uri, *path, *uri, *text;
	double t0, init_ms, ready_ms, *samples;
	json_t *res;

	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--"))
			break;
		if (!strcmp(a, "--show")) {
			show = true;
			continue;
		}
		if (i + 1 >= argc)
			usage();
		if (!strcmp(a, "--root"))
			root = argv[++i];
		else if (!strcmp(a, "--file"))
			file = argv[++i];
		else if (!strcmp(a, "--lang"))
			lang = argv[++i];
		else if (!strcmp(a, "--log"))
			log_path = argv[++i];
		else if (!strcmp(a, "-n"))
			n = parse_int(argv[++i]);
		else if (!strcmp(a, "--warmup"))
			warmup = parse_int(argv[++i]);
		else if (!strcmp(a, "--timeout"))
			timeout = parse_int(argv[++i]);
		else if (!strcmp(a, "--req")) {
			if (nreq == MAX_REQS)
				usage();
			parse_req(&reqs[nreq++], argv[++i]);
		} else if (!strcmp(a, "--ready")) {
			a = argv[++i];
			if (!strcmp(a, "clangd"))
				ready = READY_CLANGD;
			else if (!strcmp(a, "pyright"))
				ready = READY_PYRIGHT;
			else if (!strcmp(a, "none"))
				ready = READY_NONE;
			else
				usage();
		} else
			usage();
	}
	if (!root || !file || !lang || !nreq || n < 1 || i + 1 >= argc)
		usage();
	if (!realpath(root, root_abs))
		die("%s: %s", root, strerror(errno));

	if (log_path && !(s.log = fopen(log_path, "a")))
		die("%s: %s", log_path, strerror(errno));
	s.index_token = ready == READY_CLANGD ? "backgroundIndexProgress" : NULL;
	root_uri = file_uri(root_abs);
	if (asprintf(&path, "%s/%s", root_abs, file) < 0)
		abort();
	uri = file_uri(path);
	text = read_file(path);

	/* The server runs in the root: a relative command path is ours. */
	char exe_abs[4096];
	if (strchr(argv[i + 1], '/')) {
		if (!realpath(argv[i + 1], exe_abs))
			die("%s: %s", argv[i + 1], strerror(errno));
		argv[i + 1] = exe_abs;
	}

	t0 = now_ms();
	spawn(&s, argv + i + 1, root_abs, log_path);
	res = call(&s, "initialize",
		   json_pack("{s:i, s:s, s:s, s:[{s:s, s:s}], s:{s:{s:b}, s:{s:b}, "
			     "s:{s:{s:b}, s:{}, s:{s:[s,s]}}}}",
			     "processId", (int)getpid(), "rootUri", root_uri, "rootPath", root_abs,
			     "workspaceFolders", "uri", root_uri, "name", "workspace",
			     "capabilities", "window", "workDoneProgress", 1, "workspace",
			     "configuration", 1, "textDocument", "definition", "linkSupport", 0,
			     "references", "hover", "contentFormat", "markdown", "plaintext"),
		   timeout);
	json_decref(res);
	init_ms = now_ms() - t0;
	notify(&s, "initialized", json_object());
	notify(&s, "textDocument/didOpen",
	       json_pack("{s:{s:s, s:s, s:i, s:s}}", "textDocument", "uri", uri, "languageId", lang,
			 "version", 1, "text", text));

	/* Readiness. */
	if (ready == READY_CLANGD) {
		/* clangd creates the token shortly after it loads the compilation
		 * database; no token within 3 s means it is not indexing. */
		double begin_deadline = now_ms() + 3000, deadline = t0 + timeout;
		while (!s.index_done && now_ms() < deadline) {
			if (!s.index_begun && now_ms() > begin_deadline)
				break;
			pump(&s, -1, 50);
		}
		if (s.index_begun && !s.index_done)
			die("clangd index did not finish within %d ms", timeout);
	} else if (ready == READY_PYRIGHT) {
		double deadline = t0 + timeout;
		while (!s.found_files && now_ms() < deadline)
			pump(&s, -1, 50);
		if (!s.found_files)
			die("pyright did not report its source files within %d ms", timeout);
	}
	ready_ms = now_ms() - t0;

	samples = calloc((size_t)n, sizeof *samples);
	if (!samples)
		abort();
	for (k = 0; k < nreq; k++) {
		size_t results = 0;
		double sum = 0, first_ms = 0;
		char *last = NULL;

		for (i = 0; i < warmup + n; i++) {
			double a = now_ms(), b;
			res = call(&s, reqs[k].method, req_params(&reqs[k], uri), timeout);
			b = now_ms();
			if (i == 0)
				first_ms = b - a;
			if (i >= warmup)
				samples[i - warmup] = b - a;
			results = result_size(json_object_get(res, "result"));
			if (i == warmup + n - 1 && show)
				last = json_dumps(json_object_get(res, "result"), JSON_COMPACT);
			json_decref(res);
		}
		if (!results)
			die("%s at %d:%d: the server answered nothing", reqs[k].name, reqs[k].line,
			    reqs[k].col);
		for (i = 0; i < n; i++)
			sum += samples[i];
		qsort(samples, (size_t)n, sizeof *samples, cmp_double);
		printf("{\"method\":\"%s\",\"line\":%d,\"col\":%d,\"n\":%d,\"warmup\":%d,"
		       "\"p50Ms\":%.4f,\"p95Ms\":%.4f,\"meanMs\":%.4f,\"minMs\":%.4f,\"maxMs\":%.4f,"
		       "\"firstMs\":%.4f,\"results\":%zu,\"initMs\":%.1f,\"readyMs\":%.1f,"
		       "\"indexed\":%s%s%s}\n",
		       reqs[k].name, reqs[k].line, reqs[k].col, n, warmup,
		       percentile(samples, n, 0.50), percentile(samples, n, 0.95), sum / n,
		       samples[0], samples[n - 1], first_ms, results, init_ms, ready_ms,
		       s.index_done ? "true" : "false", last ? ",\"result\":" : "", last ? last : "");
		free(last);
		fflush(stdout);
	}

	stop_server(&s);
	if (s.log)
		fclose(s.log);
	free(samples);
	free(text);
	free(uri);
	free(path);
	free(root_uri);
	free(s.buf);
	return 0;
}
