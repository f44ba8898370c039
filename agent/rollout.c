/*
 * rollout.c - `lanser agent --tasks FILE --samples K --jobs N` (docs/agent.md,
 * "Rollouts"): every task K times, N episodes at once, each episode a
 * worker process of its own (`lanser agent --task T --sample ID --json`)
 * with its own worktree, engine and servers, so samples never see each
 * other and a crash costs one sample. The K samples of a task are a GRPO
 * group: their episode rewards get group-relative advantages from the
 * same code as `lanser group` and `lanser advantages` (rewards/advantage.h).
 */
#include "agent/agentcmd.h"

#include "agent/cli.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/proc.h"
#include "core/state.h"
#include "core/xalloc.h"
#include "core/xjson.h"
#include "rewards/advantage.h"
#include "sandbox/worktree.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ROLLOUT_MAX_TASKS 10000
#define ROLLOUT_MAX_OUTPUT ((size_t)64 << 20)   /* one worker's result line */

struct job {
	size_t task, k;
	char id[96];
	struct ln_proc p;
	bool running, done;
	struct buf out;
	json_t *result;
};

struct ro {
	struct cli *c;
	char *dir;              /* the run's folder: task files */
	char **task_files;
	char **task_ids;
	size_t ntasks;
	struct job *jobs;
	size_t njobs;
};

/* Reads the tasks; each one checked here, written to the run's folder for
 * its workers. */
static int read_tasks(struct ro *x, const char *path)
{
	FILE *f = fopen(path, "r");
	struct buf line = BUF_INIT;
	char *dir = xstrdup(path), *slash = strrchr(dir, '/');
	long lineno = 0;
	int error = 0, ch;

	if (slash)
		*slash = '\0';
	if (!f) {
		free(dir);
		return ln_error_set(LN_ENOTFOUND, "--tasks %s: %s", path, strerror(errno));
	}
	for (;;) {
		struct agent_task t;
		json_error_t je;
		json_t *v;
		char what[64 + PATH_MAX], *file;
		bool eof;
		buf_reset(&line);
		while ((ch = fgetc(f)) != EOF && ch != '\n') {
			if (line.len >= (1u << 20)) {
				error = ln_error_set(LN_ECONFIG, "--tasks %s:%ld: a line longer than "
						     "1 MiB", path, lineno + 1);
				goto done;
			}
			buf_addch(&line, ch);
		}
		eof = ch == EOF;
		lineno++;
		if (line.len == 0 || strspn(line.data, " \t\r") == line.len) {
			if (eof)
				break;
			continue;
		}
		if (x->ntasks >= ROLLOUT_MAX_TASKS) {
			error = ln_error_set(LN_ECONFIG, "--tasks %s: more than %d tasks", path,
					     ROLLOUT_MAX_TASKS);
			goto done;
		}
		snprintf(what, sizeof what, "--tasks %s:%ld", path, lineno);
		v = json_loadb(line.data, line.len, JSON_REJECT_DUPLICATES, &je);
		if (!v) {
			error = ln_error_set(LN_ECONFIG, "%s:%d: %s", what, je.column, je.text);
			goto done;
		}
		agent_task_init(&t);
		error = agent_task_from_json(&t, v, what, slash ? dir : ".");
		if (!error && t.workspace)
			json_object_set_new(v, "workspace", json_string(t.workspace));
		x->task_files = xrealloc(x->task_files, (x->ntasks + 1) * sizeof *x->task_files);
		x->task_ids = xrealloc(x->task_ids, (x->ntasks + 1) * sizeof *x->task_ids);
		x->task_ids[x->ntasks] = t.id ? xstrdup(t.id) : xasprintf("t%zu", x->ntasks + 1);
		file = xasprintf("%s/task-%zu.json", x->dir, x->ntasks + 1);
		x->task_files[x->ntasks++] = file;
		if (!error && json_dump_file(v, file, JSON_COMPACT) < 0)
			error = ln_error_set(LN_ESANDBOX, "cannot write %s", file);
		agent_task_release(&t);
		json_decref(v);
		if (error || eof)
			break;
	}
	if (!error && !x->ntasks)
		error = ln_error_set(LN_ECONFIG, "--tasks %s: no task", path);
done:
	fclose(f);
	buf_release(&line);
	free(dir);
	return error;
}

static void add_opt(json_t *a, const char *name, const char *value)
{
	if (!value)
		return;
	json_array_append_new(a, json_string(name));
	json_array_append_new(a, json_string(value));
}

static void add_int(json_t *a, const char *name, long v, bool set)
{
	char b[32];
	if (!set)
		return;
	snprintf(b, sizeof b, "%ld", v);
	add_opt(a, name, b);
}

/* A worker's command line: this program, the options that shape an
 * episode, its task and sample id. */
static json_t *worker_argv(const struct ro *x, const struct job *j, const char *self)
{
	const struct cli *c = x->c;
	json_t *a = json_array();
	char trace_abs[PATH_MAX];

	json_array_append_new(a, json_string(self));
	json_array_append_new(a, json_string("--json"));
	add_opt(a, "--root", c->root);
	if (c->trust)
		json_array_append_new(a, json_string("--trust"));
	add_opt(a, "--config", c->config_path);
	if (c->trace_path) {
		if (c->trace_path[0] == '/')
			snprintf(trace_abs, sizeof trace_abs, "%s", c->trace_path);
		else
			snprintf(trace_abs, sizeof trace_abs, "%s/%s", c->cwd, c->trace_path);
		add_opt(a, "--trace", trace_abs);
	}
	add_int(a, "--timeout", c->timeout_ms, c->timeout_set);
	add_int(a, "--wait-index", c->index_ms, c->index_set);
	json_array_append_new(a, json_string("agent"));
	add_opt(a, "--task", x->task_files[j->task]);
	add_opt(a, "--sample", j->id);
	add_opt(a, "--base", c->base);
	add_opt(a, "--tests", c->tests);
	for (int i = 0; i < c->ntest_files; i++)
		add_opt(a, "--test-files", c->test_files[i]);
	add_int(a, "--steps", c->agent_steps, c->agent_steps > 0);
	add_int(a, "--tokens", c->agent_tokens, c->agent_tokens > 0);
	add_int(a, "--wall", c->agent_wall_ms, c->agent_wall_ms > 0);
	add_opt(a, "--model-url", c->llm_base_url);
	add_opt(a, "--model", c->llm_model);
	add_opt(a, "--api-key-env", c->llm_key_env);
	add_opt(a, "--temperature", c->temperature);
	/* samples of one group differ: seed + k */
	add_int(a, "--seed", c->seed + (long)j->k, c->seed_set);
	add_int(a, "--max-tokens", c->max_tokens, c->max_tokens > 0);
	if (c->stream)
		json_array_append_new(a, json_string("--stream"));
	if (c->no_isolation)
		json_array_append_new(a, json_string("--no-isolation"));
	add_opt(a, "--episode", c->episode_mode);
	return a;
}

static int start_job(struct ro *x, struct job *j, const char *self)
{
	json_t *a = worker_argv(x, j, self);
	size_t n = json_array_size(a), i;
	const char **argv = xcalloc(n + 1, sizeof *argv);
	struct ln_proc_opts po;
	int error;

	for (i = 0; i < n; i++)
		argv[i] = json_string_value(json_array_get(a, i));
	memset(&po, 0, sizeof po);
	po.argv = argv;
	po.cwd = x->c->cwd;
	po.in = LN_STDIO_NULL;
	po.out = LN_STDIO_PIPE;
	po.err = x->c->json ? LN_STDIO_NULL : LN_STDIO_INHERIT;
	po.new_pgrp = true;
	po.die_with_parent = true;
	error = ln_proc_spawn(&j->p, &po);
	j->running = error == 0;
	free(argv);
	json_decref(a);
	return error;
}

/* The worker's result: the last JSON line it printed, or an error record. */
static void finish_job(struct job *j)
{
	const char *p = j->out.data, *last = NULL;
	char st[80];

	while (p && p < j->out.data + j->out.len) {
		const char *nl = memchr(p, '\n', j->out.len - (size_t)(p - j->out.data));
		if (*p == '{')
			last = p;
		p = nl ? nl + 1 : NULL;
	}
	if (last)
		j->result = json_loadb(last, j->out.len - (size_t)(last - j->out.data),
				       JSON_DISABLE_EOF_CHECK, NULL);
	if (!json_is_object(j->result)) {
		/* no result: the worker's exit status says why */
		int code = j->p.status.exited && j->p.status.exitcode > 0 ? -j->p.status.exitcode
									 : LN_EGENERIC;
		json_decref(j->result);
		ln_proc_status_str(&j->p.status, st, sizeof st);
		j->result = xjson_pack("{s:s, s:s, s:{s:s, s:i, s:s}}", "schema", AGENT_RESULT_SCHEMA,
			"sample", j->id, "error", "code", ln_err_name(code), "exit", ln_exit_code(code),
			"message", st);
	}
	j->running = false;
	j->done = true;
}

/* Runs every job, jobs at once; pumps their outputs. */
static int run_jobs(struct ro *x)
{
	char self[PATH_MAX];
	ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
	size_t next = 0, done = 0, running = 0, i;
	int jobs = x->c->jobs > 0 ? x->c->jobs : 2, error = 0;
	bool tty = !x->c->json && x->c->err && isatty(fileno(x->c->err));

	if (sl <= 0)
		return ln_error_set(LN_EGENERIC, "cannot find this program: %s", strerror(errno));
	self[sl] = '\0';
	while (done < x->njobs) {
		struct pollfd *pf = xcalloc(x->njobs + 1, sizeof *pf);
		size_t *who = xcalloc(x->njobs + 1, sizeof *who), np = 0;
		while (running < (size_t)jobs && next < x->njobs) {
			struct job *j = &x->jobs[next++];
			if (start_job(x, j, self)) {
				finish_job(j);
				done++;
				continue;
			}
			running++;
		}
		for (i = 0; i < x->njobs; i++)
			if (x->jobs[i].running) {
				pf[np].fd = x->jobs[i].p.out_fd;
				pf[np].events = POLLIN;
				who[np++] = i;
			}
		if (np && poll(pf, np, 1000) < 0 && errno != EINTR)
			error = ln_error_set(LN_EGENERIC, "poll: %s", strerror(errno));
		for (i = 0; i < np && !error; i++) {
			struct job *j = &x->jobs[who[i]];
			char b[65536];
			ssize_t r;
			if (!(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			r = read(j->p.out_fd, b, sizeof b);
			if (r > 0 && j->out.len + (size_t)r <= ROLLOUT_MAX_OUTPUT)
				buf_add(&j->out, b, (size_t)r);
			if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
				ln_proc_wait(&j->p, -1);
				finish_job(j);
				ln_proc_release(&j->p, 0);
				running--;
				done++;
				if (tty)
					fprintf(x->c->err, "lanser: rollouts: %zu/%zu episodes done "
						"(%s)\n", done, x->njobs, j->id);
			}
		}
		free(pf);
		free(who);
		if (error)
			break;
	}
	return error;
}

/* Each task's group: rewards, advantages (rewards/advantage.h). */
static int group_of(struct ro *x, size_t t, size_t k, enum rwd_adv_mode mode)
{
	struct rwd_group g;
	json_t *rewards = json_array(), *gj, *adv = NULL;
	double m, sd;
	size_t i;
	int error;

	memset(&g, 0, sizeof g);
	for (i = 0; i < k; i++) {
		const json_t *r = x->jobs[t * k + i].result;
		const json_t *rw = json_object_get(json_object_get(json_object_get(r, "rewards"),
								  "episode"), "reward");
		json_array_append_new(rewards, json_is_number(rw) ? json_incref((json_t *)rw)
								  : json_null());
	}
	gj = xjson_pack("{s:s, s:o}", "id", x->task_ids[t], "rewards", rewards);
	error = rwd_group_parse(&g, gj);
	if (!error) {
		rwd_mean_std(g.r, g.n, &m, &sd);
		adv = rwd_group_advantages(&g, mode, RWD_PRESET_TRL, -1, sd);
		for (i = 0; i < k; i++) {
			json_t *r = x->jobs[t * k + i].result;
			json_object_set_new(r, "group", json_string(x->task_ids[t]));
			json_object_set(r, "advantage", json_array_get(json_object_get(adv,
					"advantages"), i));
		}
	}
	json_decref(adv);
	json_decref(gj);
	rwd_group_release(&g);
	return error;
}

static int write_results(struct ro *x)
{
	struct cli *c = x->c;
	FILE *f = c->out;
	char *abs = NULL;
	size_t i;
	int error = 0;

	if (c->out_path && strcmp(c->out_path, "-")) {
		abs = c->out_path[0] == '/' ? xstrdup(c->out_path) : xasprintf("%s/%s", c->cwd,
									       c->out_path);
		f = fopen(abs, "w");
		if (!f) {
			error = ln_error_set(LN_EPERM, "--out %s: %s", c->out_path, strerror(errno));
			free(abs);
			return error;
		}
	}
	for (i = 0; i < x->njobs; i++)
		agent_print_json(f, x->jobs[i].result);
	if (f != c->out && fclose(f))
		error = ln_error_set(LN_EPERM, "--out %s: %s", c->out_path, strerror(errno));
	if (!error && f != c->out && !c->json) {
		for (i = 0; i < x->njobs; i++) {
			const json_t *r = x->jobs[i].result;
			const json_t *rw = json_object_get(json_object_get(json_object_get(r,
				"rewards"), "episode"), "reward");
			const json_t *ad = json_object_get(r, "advantage");
			char a[40], b[40];
			if (json_is_number(rw))
				snprintf(a, sizeof a, "%.6g", json_number_value(rw));
			else
				snprintf(a, sizeof a, "null");
			if (json_is_number(ad))
				snprintf(b, sizeof b, "%.6g", json_number_value(ad));
			else
				snprintf(b, sizeof b, "null");
			fprintf(c->out, "%s: stop %s, reward %s, advantage %s\n",
				ln_printable(x->jobs[i].id),
				ln_printable(json_string_value(json_object_get(r, "stop")) ?: "error"), a, b);
		}
		fprintf(c->out, "%zu results written to %s\n", x->njobs, c->out_path);
	}
	free(abs);
	return error;
}

int agent_rollouts(struct cli *c)
{
	struct ro x;
	char *state = NULL;
	enum rwd_adv_mode mode = RWD_ADV_GRPO;
	size_t k = c->samples > 0 ? (size_t)c->samples : 1, t, i;
	int error;

	memset(&x, 0, sizeof x);
	x.c = c;
	if (c->mode && rwd_adv_mode_parse(&mode, c->mode))
		return ln_error_set(LN_EUSAGE, "--advantage: grpo, dr_grpo or batch");
	if (mode == RWD_ADV_STEP)
		return ln_error_set(LN_EUSAGE, "--advantage step is not for episode rewards");
	if ((error = ln_state_workspace_dir(&state, c->root)))
		return error;
	x.dir = xasprintf("%s/agent-%ld-XXXXXX", state, (long)getpid());
	free(state);
	if (!mkdtemp(x.dir)) {
		error = ln_error_set(LN_ESANDBOX, "cannot create %s: %s", x.dir, strerror(errno));
		goto done;
	}
	if ((error = read_tasks(&x, c->agent_tasks)))
		goto done;
	x.njobs = x.ntasks * k;
	x.jobs = xcalloc(x.njobs, sizeof *x.jobs);
	for (t = 0; t < x.ntasks; t++)
		for (i = 0; i < k; i++) {
			struct job *j = &x.jobs[t * k + i];
			j->task = t;
			j->k = i;
			j->p.in_fd = j->p.out_fd = j->p.err_fd = -1;
			buf_init(&j->out);
			snprintf(j->id, sizeof j->id, "%.80s-s%zu", x.task_ids[t], i + 1);
		}
	if ((error = run_jobs(&x)))
		goto done;
	for (t = 0; t < x.ntasks && !error; t++)
		error = group_of(&x, t, k, mode);
	if (!error)
		error = write_results(&x);
	if (!error) {
		/* every episode failed (no model server, a bad task): say why */
		const json_t *e0 = json_object_get(x.jobs[0].result, "error");
		for (i = 0; i < x.njobs && json_object_get(x.jobs[i].result, "error"); i++)
			;
		if (i == x.njobs && e0) {
			json_int_t ex = json_integer_value(json_object_get(e0, "exit"));
			error = ln_error_set(ex > 0 && ex < 256 ? -(int)ex : LN_EGENERIC,
					     "every episode failed; the first: %s",
					     json_string_value(json_object_get(e0, "message")) ?: "?");
		}
	}
done:
	for (i = 0; i < x.njobs; i++) {
		ln_proc_release(&x.jobs[i].p, 1000);
		buf_release(&x.jobs[i].out);
		json_decref(x.jobs[i].result);
	}
	free(x.jobs);
	for (i = 0; i < x.ntasks; i++) {
		free(x.task_files[i]);
		free(x.task_ids[i]);
	}
	free(x.task_files);
	free(x.task_ids);
	if (x.dir)
		sbx_rmtree(x.dir);
	free(x.dir);
	return error;
}
