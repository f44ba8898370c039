/*
 * reward.h - the reward mathematics (docs/rewards.md): diagnostic deltas,
 * the process-reward functional, test-outcome rewards, episode rewards.
 *
 * Everything here is a pure function of its arguments (bundle facts,
 * outcome records, numbers): no I/O, no global state, thread-safe. That
 * is what lets `lanser trace replay` recompute every reward from the
 * recorded data alone.
 *
 * Arithmetic is IEEE-754 binary64, evaluated in the order the formulas
 * are written in docs/rewards.md; nothing is rounded inside. Values that
 * are hashed or printed go through jcs_format_number (shortest round trip),
 * so the same inputs give the same bytes on every machine.
 */
#ifndef LANSER_REWARD_H
#define LANSER_REWARD_H

#include <jansson.h>
#include <stdbool.h>

#define RWD_SCHEMA "lanser.reward/1"

/* ---- diagnostic delta ---- */

/* Weight of one diagnostic by severity in D_t. Defaults (rwd_sev_default):
 * error 1, warning 0.25, information 0, hint 0. */
struct rwd_sev_weights {
	double error, warning, information, hint;
};
extern const struct rwd_sev_weights rwd_sev_default;

struct rwd_diag_delta {
	double d_before, d_after;  /* D_{t-1}, D_t: weighted counts of relevant diagnostics */
	long fixed, introduced, kept;   /* matched by key (see rwd_diag_key), relevant only */
	long relevant_before, relevant_after;
};

/*
 * The stable matching key of a diagnostic fact (bundle.md: {kind:
 * "diagnostic", path, range, severity, message, code?, source?}): path,
 * severity, source, code and message, without the range, so a diagnostic
 * that only moved (lines inserted above it) is the same diagnostic. When
 * the caller annotated the fact with "symbol" (the qualified name of the
 * enclosing symbol, from the outline: the diagnostic's selector), it is
 * part of the key, so the same message in two functions is two keys.
 * Returns a malloc'd string (fields separated by U+001F), or NULL when the
 * fact is not a diagnostic.
 */
char *rwd_diag_key(const json_t *fact);

/*
 * Computes the delta between two fact arrays (the facts of a `diag`
 * bundle before and after a step; non-diagnostic facts are ignored).
 * `relevant` is a JSON array of workspace-relative paths (the files the
 * step touched plus the files that depend on the touched symbols), or NULL
 * for "every path is relevant". Diagnostics are matched as multisets by
 * key: per key, min(before, after) are kept, the rest fixed or introduced.
 * `w` NULL means rwd_sev_default. Returns 0, or LN_EGENERIC when an
 * argument is not an array.
 */
int rwd_diag_delta(struct rwd_diag_delta *out, const json_t *before, const json_t *after,
		   const json_t *relevant, const struct rwd_sev_weights *w);

/* ---- the process reward functional ---- */

enum rwd_functional {
	RWD_PAPER,    /* Eq. 5.1: w_d(D_{t-1}-D_t) + w_s S_t - w_c(1 - c_t) */
	RWD_DELTA,    /* the default: w_d(D_{t-1}-D_t) + w_s S_t + w_c(c_t - c_{t-1}) */
	RWD_BOUNDED,  /* RWD_DELTA on a normalised D, mapped affinely onto [0, 1] */
};

struct rwd_weights {
	double wd, ws, wc;
};
/* w_d = 0.5, w_s = 0.4, w_c = 0.1 (the paper's defaults). */
extern const struct rwd_weights rwd_weights_default;

/* One step's terms. c_prev is only read by RWD_DELTA / RWD_BOUNDED. */
struct rwd_step {
	double d_prev, d;   /* D_{t-1}, D_t (>= 0) */
	double s;           /* S_t: 1 when the safe-apply checks passed, else 0 */
	double c_prev, c;   /* c_{t-1}, c_t: disambiguation confidences in [0, 1] */
};

/* "paper", "delta", "bounded"; parse returns 0 or LN_EUSAGE. */
const char *rwd_functional_name(enum rwd_functional f);
int rwd_functional_parse(enum rwd_functional *out, const char *name);
/* The functional's version string, recorded with every reward, e.g.
 * "lanser.process/delta@1". */
const char *rwd_functional_version(enum rwd_functional f);

/* r_t of one step. Inputs are taken as given (callers validate ranges
 * with rwd_step_check). */
double rwd_process_step(enum rwd_functional f, const struct rwd_weights *w,
			const struct rwd_step *st);
/* 0, or LN_EUSAGE with a message naming the bad term (negative D, S not
 * in {0,1}, c outside [0,1], a NaN or infinite value, a negative weight
 * for RWD_BOUNDED). */
int rwd_step_check(enum rwd_functional f, const struct rwd_weights *w, const struct rwd_step *st);

/* {"name", "version", "weights": {"wd","ws","wc"}} (new reference). */
json_t *rwd_functional_json(enum rwd_functional f, const struct rwd_weights *w);

/* ---- test outcome ---- */

/*
 * Reads an outcome record (docs/rewards.md, "Test-outcome reward"):
 *   completed  bool: the test command ran to its end within the limits
 *   reason     string, when not completed (timeout, sandbox, infra)
 *   tests      [{name, outcome: passed|failed|error|skipped}]
 *   failToPass, passToPass  arrays of test names required to pass (task)
 * A record that did not complete is unscorable (scorable false, reason
 * set), never a 0. The records `lanser test` writes (sandbox, issue 6:
 * "outcome": {"status", "tests": [{"id", "status"}]}, "request":
 * {"FAIL_TO_PASS", "PASS_TO_PASS"}) are read too: status passed/failed
 * count as completed, patch-failed and build-failed as completed with
 * nothing passing (patch_failed, build_failed set), any other status
 * (error, limit, cancelled, base-build-failed) as unscorable. A `lanser
 * test` record whose command ran but reported no per-test result, with no
 * FAIL_TO_PASS/PASS_TO_PASS lists, takes its R_outcome from the exit
 * status: 1 for "passed" (from_exit_status set).
 */
struct rwd_outcome {
	bool scorable;
	char reason[512];
	double r_outcome;          /* 1 when every required test passed, else 0 */
	double pass_fraction;      /* passed / (tests that ran, skipped excluded) */
	long passed, failed, skipped, total;
	long f2p_total, f2p_passed;   /* FAIL_TO_PASS: required fixes that now pass */
	long p2p_total, p2p_broken;   /* PASS_TO_PASS: tests that should keep passing but did not */
	bool patch_failed;         /* a `lanser test` record whose patch did not apply */
	bool build_failed;         /* ... whose build failed (the base builds): R_outcome 0 */
	bool from_exit_status;     /* no per-test results: the exit status is the outcome */
};
/* Returns 0 (also for unscorable records), or LN_EGENERIC with a message
 * when the record is malformed (wrong types, an unknown outcome, more than
 * RWD_MAX_TESTS tests). */
#define RWD_MAX_TESTS 100000
int rwd_outcome_read(struct rwd_outcome *out, const json_t *record);
json_t *rwd_outcome_json(const struct rwd_outcome *o);

/* ---- episode reward ---- */

enum rwd_episode_mode {
	RWD_EP_PGRPO,    /* R_format + R_outcome + R_outcome * R_process (default) */
	RWD_EP_OUTCOME,  /* R_outcome */
	RWD_EP_PROCESS,  /* R_process */
	RWD_EP_SUM,      /* R_format + R_outcome + R_process */
};
const char *rwd_episode_mode_name(enum rwd_episode_mode m);
int rwd_episode_mode_parse(enum rwd_episode_mode *out, const char *name);

struct rwd_episode {
	bool scorable;          /* false: the candidate could not be scored */
	char reason[512];
	double r_format;        /* 1: the completion parsed into a usable patch */
	double r_outcome;       /* {0, 1} */
	double r_process;       /* [0, 1] */
};
/* The episode reward, or NAN when !ep->scorable (callers print null). */
double rwd_episode_reward(enum rwd_episode_mode m, const struct rwd_episode *ep);

/* R_process of an episode: the mean of RWD_BOUNDED step rewards (0 for
 * no steps). */
double rwd_process_episode(const struct rwd_weights *w, const struct rwd_step *steps,
			   size_t n);

/* Formats a finite double the canonical way (jcs_format_number) as a JSON
 * value; NAN/inf become null. New reference. */
json_t *rwd_number(double v);

#endif
