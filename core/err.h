/*
 * err.h - named failures, the exit-code table, and the last-error message.
 *
 * Every expected failure has a negative code LN_E*; its process exit code is
 * its negation (LN_ETIMEOUT = -64 exits 64), so there is exactly one table
 * and nothing to keep in sync. The table is documented in docs/exit-codes.md
 * and printed by `lanser --help`; a new code is added here, there, and in
 * ln_err_table[] in err.c, never reused.
 *
 * Library code returns these codes and never calls exit(). The place where a
 * failure is detected sets a message with ln_error_set(); callers pass the
 * code up unchanged. The message is per-thread.
 */
#ifndef LANSER_ERR_H
#define LANSER_ERR_H

enum ln_err {
	LN_OK = 0,
	LN_EGENERIC = -1,      /* generic error */
	LN_ESELECTOR = -2,     /* bad selector or position */
	LN_ENOTFOUND = -3,     /* not found (file, symbol, location) */
	LN_EAMBIGUOUS = -4,    /* ambiguous selector */
	LN_EVERSION = -10,     /* version skew */
	LN_ETIMEOUT = -64,     /* language server timeout */
	LN_ECRASH = -65,       /* language server crashed or spoke garbage */
	LN_ECONFLICT = -70,    /* apply conflict */
	LN_EPERM = -71,        /* filesystem permissions / workspace jail */
	LN_EUNSUPPORTED = -72, /* server lacks the capability */
	LN_ECANCELLED = -73,   /* cancelled */
	LN_EMODIFIED = -74,    /* content modified */
	LN_ENOINDEX = -75,     /* indexing unsupported */
	LN_EREPLAY = -76,      /* replay mismatch */
	LN_EINPUT = -77,       /* unusable input file: binary, not UTF-8, too large */
	LN_ECONFIG = -78,      /* invalid configuration (.lanser.json) */
	LN_ENOSERVER = -79,    /* no language server available for the file */
	LN_EDAEMON = -80,      /* daemon refused the peer, broke the protocol or failed */
	LN_EDIRTY = -81,       /* the work tree has uncommitted changes (see --allow-dirty) */
	LN_EROLLEDBACK = -82,  /* applied, then rolled back because verification failed */
	LN_ESANDBOX = -83,     /* the sandbox could not be set up or the run broke a limit */
	LN_EPOLICY = -84,      /* the patch is not acceptable by the configured policy */
	LN_ETRACE = -85,       /* malformed, truncated or reordered trace file */
	LN_EMODEL = -86,       /* the model server is unreachable, kept failing, or refused the request */
	LN_EUSAGE = -129,      /* command-line usage error */
};

struct ln_err_info {
	int code;           /* the LN_E* value */
	const char *name;   /* stable machine-readable name, e.g. "SERVER_TIMEOUT" */
	const char *summary;
};

/* The table, terminated by an entry with name == NULL. */
extern const struct ln_err_info ln_err_table[];

/* Exit status for an LN_E* code (0 for LN_OK, 1 for unknown codes). */
int ln_exit_code(int err);
/* Stable name for a code ("OK", "SERVER_TIMEOUT", ...). Never NULL. */
const char *ln_err_name(int err);

/* Sets the last error and returns `code`, so callers can write
 * `return ln_error_set(LN_ENOTFOUND, "...", ...);`. */
int ln_error_set(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The last message set on this thread ("" when none). Valid until the next
 * ln_error_set/ln_error_clear on the same thread. */
const char *ln_error_msg(void);
int ln_error_code(void);
void ln_error_clear(void);

/*
 * The current error, kept across cleanup that may report errors of its own
 * (libgit2's git_error_state_capture/restore): capture before the cleanup,
 * restore after it, and the caller sees the original code and message.
 * Capturing does not clear the current error.
 */
struct ln_error_state {
	int code;
	char msg[1024];
};
void ln_error_capture(struct ln_error_state *st);
/* Makes st the current error again; returns its code. */
int ln_error_restore(const struct ln_error_state *st);

#endif
