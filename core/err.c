#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const struct ln_err_info ln_err_table[] = {
	{ LN_OK, "OK", "success" },
	{ LN_EGENERIC, "ERROR", "generic error" },
	{ LN_ESELECTOR, "BAD_SELECTOR", "bad selector or position (syntax, past end of line or file)" },
	{ LN_ENOTFOUND, "NOT_FOUND", "file, symbol or location not found" },
	{ LN_EAMBIGUOUS, "AMBIGUOUS", "selector matches several places; alternatives are listed" },
	{ LN_EVERSION, "VERSION_SKEW", "server, schema or trace version does not match" },
	{ LN_ETIMEOUT, "SERVER_TIMEOUT", "language server did not answer in time" },
	{ LN_ECRASH, "SERVER_CRASH", "language server crashed, exited or sent malformed data" },
	{ LN_ECONFLICT, "APPLY_CONFLICT", "edit does not apply to the current content" },
	{ LN_EPERM, "PERMISSION", "permission denied, path outside the jail, or unsafe git files (host files, FIFOs)" },
	{ LN_EUNSUPPORTED, "UNSUPPORTED_CAPABILITY", "the language server does not support this request" },
	{ LN_ECANCELLED, "CANCELLED", "request cancelled" },
	{ LN_EMODIFIED, "CONTENT_MODIFIED", "content changed while the request ran" },
	{ LN_ENOINDEX, "INDEXING_UNSUPPORTED", "the server cannot index this workspace" },
	{ LN_EREPLAY, "REPLAY_MISMATCH", "trace replay produced a different result" },
	{ LN_EINPUT, "BAD_INPUT_FILE", "input file is binary or too large, or text its file cannot hold" },
	{ LN_ECONFIG, "BAD_CONFIG", "invalid configuration (.lanser.json or options)" },
	{ LN_ENOSERVER, "NO_SERVER", "no language server installed or configured for this file" },
	{ LN_EDAEMON, "DAEMON", "daemon refused the caller, failed to start, or got a malformed request" },
	{ LN_EDIRTY, "DIRTY_TREE", "the work tree has uncommitted changes (use --allow-dirty)" },
	{ LN_EROLLEDBACK, "ROLLED_BACK", "the edit was applied, then rolled back because verification failed" },
	{ LN_ESANDBOX, "SANDBOX", "the sandbox could not be set up, or the run hit a limit" },
	{ LN_EPOLICY, "POLICY_REJECTED", "the patch is not acceptable by the configured policy" },
	{ LN_ETRACE, "BAD_TRACE", "the trace file is malformed, truncated or out of order" },
	{ LN_EMODEL, "MODEL_SERVER", "the model server is unreachable, kept failing, or refused the request" },
	{ LN_EUSAGE, "USAGE", "command-line usage error" },
	{ 0, NULL, NULL },
};

static _Thread_local char last_msg[1024];
static _Thread_local int last_code;

int ln_exit_code(int err)
{
	const struct ln_err_info *e;

	if (err == 0)
		return 0;
	for (e = ln_err_table; e->name; e++)
		if (e->code == err)
			return -err;
	return 1;
}

const char *ln_err_name(int err)
{
	const struct ln_err_info *e;

	for (e = ln_err_table; e->name; e++)
		if (e->code == err)
			return e->name;
	return "ERROR";
}

int ln_error_set(int code, const char *fmt, ...)
{
	va_list ap;
	char tmp[sizeof last_msg];

	/* Format into a copy: callers often wrap the previous message
	 * ("%s: %s", path, ln_error_msg()). */
	va_start(ap, fmt);
	vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	memcpy(last_msg, tmp, sizeof tmp);
	last_code = code;
	return code;
}

const char *ln_error_msg(void)
{
	return last_msg;
}

int ln_error_code(void)
{
	return last_code;
}

void ln_error_clear(void)
{
	last_msg[0] = '\0';
	last_code = 0;
}

void ln_error_capture(struct ln_error_state *st)
{
	st->code = last_code;
	memcpy(st->msg, last_msg, sizeof st->msg);
	st->msg[sizeof st->msg - 1] = '\0';
}

int ln_error_restore(const struct ln_error_state *st)
{
	memcpy(last_msg, st->msg, sizeof last_msg);
	last_code = st->code;
	return st->code;
}
