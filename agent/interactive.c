/*
 * interactive.c - `lanser agent` without a task, on a terminal
 * (docs/agent.md, "Interactive session"): a person types requests; the
 * episode is the one of agent/episode.c (agent_episode_open / _request /
 * _close), in a private worktree of the base, with a hook that shows each
 * tool call, previews each edit and asks before writing it, and prints the
 * running reward. Edits land in the episode's worktree, never directly in
 * the user's tree: /apply puts the session's diff into the user's tree
 * through the guarded path (sbx_patch_apply: jail, clean-tree check, one
 * transaction), as `lanser patch --apply` would.
 *
 * Ctrl-C (SIGINT without SA_RESTART) sets the cancel flag: the model's
 * transfer stops at once, a running test call stops its runs at once
 * (test's own handler passes the signal on to ours), any other tool call
 * is stopped before the next one starts; the request ends as cancelled
 * and the session goes on. At the prompt it only clears the line.
 */
#include "agent/agentcmd.h"

#include "agent/cli.h"
#include "agent/trace.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/gitlib.h"
#include "core/xalloc.h"
#include "core/xjson.h"
#include "engine/engine.h"
#include "sandbox/txn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LINE_MAX_BYTES ((size_t)64 << 10)   /* one typed request */
#define SHOW_ARGS 400                        /* bytes of a call's arguments shown */
#define SHOW_PREVIEW ((size_t)12 << 10)      /* bytes of an edit's preview shown */

struct session {
	struct cli *c;
	FILE *o;
	volatile sig_atomic_t *cancel;
	struct agent_episode *ep;
	bool applied;              /* /apply wrote the session's diff to the user's tree */
};

/* ---- the terminal ---- */

enum { LINE_OK, LINE_EOF, LINE_INTERRUPTED };

/* One line from stdin (the newline dropped, at most LINE_MAX_BYTES - 1
 * bytes kept, the rest of a longer line read and dropped). */
static int read_line(struct session *s, struct buf *line)
{
	char ch;
	ssize_t n;

	buf_reset(line);
	for (;;) {
		n = read(STDIN_FILENO, &ch, 1);
		if (n < 0 && errno == EINTR) {
			if (*s->cancel)
				return LINE_INTERRUPTED;
			continue;
		}
		if (n <= 0)
			return line->len ? LINE_OK : LINE_EOF;
		if (ch == '\n')
			return LINE_OK;
		if (line->len < LINE_MAX_BYTES - 1)
			buf_add(line, &ch, 1);
	}
}

/* The first line of `text`, at most `max` bytes, printable. */
static void print_first_line(FILE *o, const char *prefix, const char *text, size_t max)
{
	const char *nl = strchr(text, '\n');
	size_t len = nl ? (size_t)(nl - text) : strlen(text);
	char *one = xstrndup(text, len > max ? max : len);

	fprintf(o, "%s%s%s\n", prefix, ln_printable(one), len > max || nl ? " ..." : "");
	free(one);
}

/* ---- the episode's hooks ---- */

static void on_call(void *ctx, long step, const char *tool, const char *args)
{
	struct session *s = ctx;
	size_t len = strlen(args);
	char *shown = xstrndup(args, len > SHOW_ARGS ? SHOW_ARGS : len);

	fprintf(s->o, "[%ld] %s %s%s\n", step, ln_printable(tool), ln_printable(shown),
		len > SHOW_ARGS ? " ..." : "");
	fflush(s->o);
	free(shown);
}

static bool on_confirm(void *ctx, long step, const char *tool, const char *preview)
{
	struct session *s = ctx;
	struct buf line = BUF_INIT;
	size_t len = strlen(preview);
	const char *note;
	bool yes = false;
	int st;

	/* the tool's last line tells a model how to apply: not for a person */
	note = strstr(preview, "\n(preview only");
	if (note && !strchr(note + 1, '\n'))
		len = (size_t)(note - preview) + 1;
	else if (note && strchr(note + 1, '\n') == preview + strlen(preview) - 1)
		len = (size_t)(note - preview) + 1;

	fprintf(s->o, "[%ld] preview of %s:\n", step, ln_printable(tool));
	fwrite(preview, 1, len > SHOW_PREVIEW ? SHOW_PREVIEW : len, s->o);
	if (len > SHOW_PREVIEW)
		fprintf(s->o, "\n... (%zu more bytes)", len - SHOW_PREVIEW);
	if (len && preview[len - 1] != '\n')
		fputc('\n', s->o);
	for (;;) {
		fprintf(s->o, "apply this %s? [y/n] ", ln_printable(tool));
		fflush(s->o);
		st = read_line(s, &line);
		if (st != LINE_OK) {
			fputc('\n', s->o);
			break;      /* Ctrl-C or end of input: no */
		}
		if (!strcmp(line.data, "y") || !strcmp(line.data, "yes")) {
			yes = true;
			break;
		}
		if (!strcmp(line.data, "n") || !strcmp(line.data, "no"))
			break;
	}
	buf_release(&line);
	return yes;
}

/* A test run's outcome for a person: the status and the counts, not the
 * record the model gets. false: not an outcome record. */
static bool print_test_outcome(FILE *o, const char *head, const char *json)
{
	json_t *v = json_loads(json, JSON_DISABLE_EOF_CHECK, NULL);
	const json_t *n = json_object_get(v, "counts");
	const char *status = json_string_value(json_object_get(v, "status"));
	const char *from = json_string_value(json_object_get(json_object_get(v, "results"),
							     "outcomeFrom"));

	if (!status) {
		json_decref(v);
		return false;
	}
	fprintf(o, "%stests %s: %lld passed, %lld failed, %lld skipped%s\n", head,
		ln_printable(status), json_integer_value(json_object_get(n, "passed")),
		json_integer_value(json_object_get(n, "failed")),
		json_integer_value(json_object_get(n, "skipped")),
		from && !strcmp(from, "exitStatus") ? " (no per-test results: the outcome is the "
						      "exit status)" : "");
	json_decref(v);
	return true;
}

static void on_result(void *ctx, long step, const char *tool, int code, const char *text,
		      const json_t *reward)
{
	struct session *s = ctx;
	char head[64];

	if (code)
		snprintf(head, sizeof head, "[%ld]   %s: ", step, ln_err_name(code));
	else
		snprintf(head, sizeof head, "[%ld]   ok: ", step);
	/* an error's text starts with "error NAME (exit N): " */
	if (code && !strncmp(text, "error ", 6) && strstr(text, "): "))
		text = strstr(text, "): ") + 3;
	if (!code && tool && !strcmp(tool, "test") && !strncmp(text, "outcome: {", 10) &&
	    print_test_outcome(s->o, head, text + 9))
		;
	else
		print_first_line(s->o, head, *text ? text : "(no output)", 200);
	if (reward) {
		const json_t *t = json_object_get(reward, "terms");
		size_t n;
		double sum, process;
		agent_episode_running(s->ep, &n, &sum, &process);
		fprintf(s->o, "[%ld]   reward %.6g (D %.6g -> %.6g, S %g, c %.3g); running: %zu "
			"scored step%s, sum %.6g, R_process %.6g\n", step,
			json_number_value(json_object_get(reward, "reward")),
			json_number_value(json_object_get(t, "D0")),
			json_number_value(json_object_get(t, "D")),
			json_number_value(json_object_get(t, "S")),
			json_number_value(json_object_get(t, "c")), n, n == 1 ? "" : "s", sum, process);
	}
	fflush(s->o);
}

static void trace_hook(void *ctx, const char *type, json_t *fields)
{
	trace_event(ctx, type, fields);
}

/* ---- commands ---- */

static void help(FILE *o)
{
	fprintf(o, "Type a request for the model. Commands:\n"
		"  /diff   the session's change against the base\n"
		"  /undo   roll back the last applied edit (exactly: the worktree as it was)\n"
		"  /apply  write the session's change into your tree (jail, clean tree, one "
		"transaction)\n"
		"  /exit   end: run the tests, print the episode reward and the final diff "
		"(also Ctrl-D)\n"
		"Ctrl-C cancels the current step; the session goes on.\n");
}

static void show_diff(struct session *s)
{
	size_t len;
	char *d = agent_episode_diff(s->ep, &len);

	if (!d)
		fprintf(s->o, "lanser: %s\n", ln_error_msg());
	else if (!len)
		fprintf(s->o, "no change against %.12s\n", agent_episode_base(s->ep));
	else
		fputs(ln_printable_text(d), s->o);
	free(d);
}

static void undo(struct session *s)
{
	long step;
	int error = agent_episode_undo(s->ep, &step);

	if (error == LN_ENOTFOUND)
		fprintf(s->o, "nothing to undo\n");
	else if (error)
		fprintf(s->o, "lanser: undo of step %ld failed: %s (exit %d)\n", step,
			ln_error_msg(), ln_exit_code(error));
	else
		fprintf(s->o, "undid step %ld: the worktree is as it was before it\n", step);
}

/* The top of the git work tree holding the workspace (the worktree's
 * diff is relative to it; a .lanser.json may sit in a sub-folder). */
static char *git_top(const char *root)
{
	git_repository *repo = NULL;
	char *top = NULL;
	size_t n;

	ln_git_init();
	if (ln_git_open(&repo, root, 0) == 0 && git_repository_workdir(repo)) {
		top = xstrdup(git_repository_workdir(repo));
		n = strlen(top);
		if (n > 1 && top[n - 1] == '/')
			top[n - 1] = '\0';
	}
	git_repository_free(repo);
	return top ? top : xstrdup(root);
}

static void apply_to_tree(struct session *s)
{
	struct sbx_apply_opts ao;
	json_t *report = NULL, *f;
	size_t len, i;
	char *d = agent_episode_diff(s->ep, &len), *top;
	int error;

	if (!d) {
		fprintf(s->o, "lanser: %s\n", ln_error_msg());
		return;
	}
	if (!len) {
		fprintf(s->o, "nothing to apply\n");
		free(d);
		return;
	}
	memset(&ao, 0, sizeof ao);
	top = git_top(s->c->root);
	error = sbx_patch_apply(top, d, len, &ao, &report);
	if (error) {
		fprintf(s->o, "lanser: not applied to %s: %s (exit %d)\n", ln_printable(top),
			ln_error_msg(), ln_exit_code(error));
	} else {
		s->applied = true;
		fprintf(s->o, "applied to %s:", ln_printable(top));
		json_array_foreach(json_object_get(report, "files"), i, f)
			fprintf(s->o, " %s", ln_printable(json_string_value(json_object_get(f,
				"path"))));
		fputc('\n', s->o);
	}
	json_decref(report);
	free(top);
	free(d);
}

/* ---- the session ---- */

int agent_interactive(struct cli *c, const struct agent_task *t, struct agent_model model,
		      volatile sig_atomic_t *cancel)
{
	struct eng_settings set;
	struct agent_episode_opts eo;
	struct agent_episode_hooks hooks;
	struct session s;
	struct buf line = BUF_INIT;
	json_t *res = NULL;
	int error, st;

	memset(&s, 0, sizeof s);
	s.c = c;
	s.o = c->out;
	s.cancel = cancel;
	error = agent_settings_load(&set, c, t);
	if (error)
		goto done;
	memset(&hooks, 0, sizeof hooks);
	hooks.ctx = &s;
	hooks.call = on_call;
	hooks.confirm = c->yes ? NULL : on_confirm;
	hooks.result = on_result;
	memset(&eo, 0, sizeof eo);
	eo.c = c;
	eo.task = t;
	eo.settings = &set;
	eo.sample = "session";
	eo.model = model;   /* its text streams to the terminal (agentcmd.c) */
	eo.mode = RWD_EP_PGRPO;
	if (c->episode_mode)
		rwd_episode_mode_parse(&eo.mode, c->episode_mode);
	eo.cancel = cancel;
	if (c->trace) {
		eo.trace = trace_hook;
		eo.trace_ctx = c;
	}
	eo.interactive = true;
	eo.hooks = &hooks;
	fprintf(s.o, "lanser agent: starting (worktree, language servers) ...\n");
	fflush(s.o);
	if ((error = agent_episode_open(&s.ep, &eo)))
		goto done;
	fprintf(s.o, "lanser agent: a session on %s at %.12s. Edits land in a private worktree "
		"(%s)%s; /apply writes them into your tree. /help for commands.\n",
		ln_printable(c->root), agent_episode_base(s.ep),
		ln_printable(agent_episode_worktree(s.ep)),
		c->yes ? ", without asking (--yes)" : ", each after you confirm it");
	for (;;) {
		*cancel = 0;
		fprintf(s.o, "lanser> ");
		fflush(s.o);
		st = read_line(&s, &line);
		if (st == LINE_EOF) {
			fputc('\n', s.o);
			break;
		}
		if (st == LINE_INTERRUPTED) {
			fputc('\n', s.o);
			continue;
		}
		if (!line.len)
			continue;
		if (!strcmp(line.data, "/exit") || !strcmp(line.data, "/quit"))
			break;
		if (!strcmp(line.data, "/undo")) {
			undo(&s);
		} else if (!strcmp(line.data, "/diff")) {
			show_diff(&s);
		} else if (!strcmp(line.data, "/apply")) {
			apply_to_tree(&s);
		} else if (line.data[0] == '/') {
			help(s.o);
		} else {
			int e = agent_episode_request(s.ep, line.data);
			if (e == LN_ECANCELLED || *cancel)
				fprintf(s.o, "\n(cancelled; the session goes on)\n");
			else if (e)
				fprintf(s.o, "\nlanser: %s (exit %d); the session goes on\n",
					ln_error_msg(), ln_exit_code(e));
		}
		fflush(s.o);
	}
	*cancel = 0;
	fprintf(s.o, "lanser agent: ending the session (tests, episode reward) ...\n");
	fflush(s.o);
	error = agent_episode_close(s.ep, &res, 0);
	s.ep = NULL;
	if (res) {
		struct ln_error_state es;
		ln_error_capture(&es);
		agent_print_result(s.o, res);
		if (!s.applied && json_string_length(json_object_get(res, "diff")))
			fprintf(s.o, "  (not applied to your tree: /apply before /exit does, or "
				"`git apply` the diff above)\n");
		ln_error_restore(&es);
	}
done:
	json_decref(res);
	buf_release(&line);
	eng_settings_release(&set);
	return error;
}
