/*
 * main.c - the lanser command table and dispatcher.
 *
 * The dispatcher parses the shared options, finds the workspace root
 * (--root, else the nearest .lanser.json, else the git top, else the
 * current directory), loads the configuration, runs the command, checks
 * stdout for write errors and turns the command's LN_E* code into the exit
 * status (core/err.h; docs/exit-codes.md).
 */
#include "cli.h"
#include "err.h"
#include "path.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { NEEDS_WORKSPACE = 1 };

struct command {
	const char *name;
	int (*fn)(struct cli *);
	int flags;
	const char *args;
	const char *summary;
};

static const struct command commands[] = {
	{ "def", cmd_def, NEEDS_WORKSPACE, "<path@L<line>:C<col>>", "go to definition" },
	{ "refs", cmd_refs, NEEDS_WORKSPACE, "<path@L<line>:C<col>>", "find references" },
	{ "hover", cmd_hover, NEEDS_WORKSPACE, "<path@L<line>:C<col>>", "type and documentation at a position" },
	{ "symbols", cmd_symbols, NEEDS_WORKSPACE, "<file> | --workspace [query]", "document or workspace symbols" },
	{ "diag", cmd_diag, NEEDS_WORKSPACE, "[file...]", "diagnostics for files (default: the whole workspace)" },
	{ "doctor", cmd_doctor, NEEDS_WORKSPACE, "", "what is installed, versions, what is missing" },
	{ "schema", cmd_schema, 0, "bundle", "print the JSON Schema of a format" },
	{ NULL, NULL, 0, NULL, NULL },
};

static void usage(FILE *out)
{
	const struct command *c;
	const struct ln_err_info *e;

	fprintf(out,
		"usage: lanser [options] <command> [args]\n"
		"\n"
		"Answers questions about code with facts from real language servers.\n"
		"Positions are 1-based lines and columns; the column unit is --index-io.\n"
		"\n"
		"commands:\n");
	for (c = commands; c->name; c++)
		fprintf(out, "  %-8s %-30s %s\n", c->name, c->args, c->summary);
	fprintf(out,
		"\n"
		"options:\n"
		"  --root DIR           workspace root (default: nearest .lanser.json, git top, cwd)\n"
		"  --json               print the Analysis Bundle (JSON, one line)\n"
		"  --index-io ENC       column unit: codepoint (default), utf-8, utf-16\n"
		"  --timeout MS         per-request timeout (default 30000)\n"
		"  --wait-index MS      how long to wait for the server's index (default 120000)\n"
		"  --no-wait            answer at once; the bundle says \"complete\": false\n"
		"  --workspace          symbols/diag over the whole workspace\n"
		"  --no-decl            refs: leave the declaration out\n"
		"  --no-daemon          run in-process (the only mode so far)\n"
		"  -h, --help           this help;  --version  print the version\n"
		"\n"
		"exit codes:\n");
	for (e = ln_err_table; e->name; e++)
		fprintf(out, "  %3d  %-22s %s\n", ln_exit_code(e->code), e->name, e->summary);
}

static int parse_ms(const char *s, int *out, const char *opt)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (!*s || *end || v < 0 || v > 3600 * 1000)
		return ln_error_set(LN_EUSAGE, "%s needs a number of milliseconds (0-3600000)", opt);
	*out = (int)v;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "root", required_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ "index-io", required_argument, NULL, 'i' },
		{ "timeout", required_argument, NULL, 't' },
		{ "wait-index", required_argument, NULL, 'w' },
		{ "no-wait", no_argument, NULL, 'W' },
		{ "workspace", no_argument, NULL, 'a' },
		{ "no-decl", no_argument, NULL, 'D' },
		{ "no-daemon", no_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli c;
	const struct command *cmd = NULL;
	const char *root_opt = NULL;
	int ch, error = 0, timeout = -1, index_ms = -1;

	memset(&c, 0, sizeof c);
	c.out = stdout;
	c.err = stderr;
	c.index_io = LN_ENC_CODEPOINT;
	/* A server that dies while we write to it must surface as EPIPE
	 * (-> SERVER_CRASH), not kill lanser. */
	signal(SIGPIPE, SIG_IGN);
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+hV", opts, NULL)) != -1 || optind < argc) {
		if (ch == -1) {
			/* a positional argument: the command first, then its args */
			if (!cmd) {
				for (cmd = commands; cmd->name; cmd++)
					if (!strcmp(cmd->name, argv[optind]))
						break;
				if (!cmd->name) {
					error = ln_error_set(LN_EUSAGE, "unknown command '%s' "
							     "(see lanser --help)", argv[optind]);
					goto done;
				}
				c.argv = calloc((size_t)argc, sizeof *c.argv);
				if (!c.argv)
					abort();
			} else {
				c.argv[c.argc++] = argv[optind];
			}
			optind++;
			continue;
		}
		switch (ch) {
		case 'r': root_opt = optarg; c.explicit_root = true; break;
		case 'j': c.json = true; break;
		case 'i':
			if (ln_enc_parse(&c.index_io, optarg)) {
				error = ln_error_set(LN_EUSAGE, "--index-io must be codepoint, utf-8 "
						     "or utf-16 (got '%s')", optarg);
				goto done;
			}
			break;
		case 't': if ((error = parse_ms(optarg, &timeout, "--timeout"))) goto done; break;
		case 'w': if ((error = parse_ms(optarg, &index_ms, "--wait-index"))) goto done; break;
		case 'W': c.no_wait = true; break;
		case 'a': c.workspace = true; break;
		case 'D': c.no_decl = true; break;
		case 'N': c.no_daemon = true; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("lanser %s\n", LANSER_VERSION); return 0;
		default:
			error = ln_error_set(LN_EUSAGE, "unknown or incomplete option '%s' "
					     "(see lanser --help)", argv[optind - 1]);
			goto done;
		}
	}
	if (!cmd) {
		usage(stderr);
		error = ln_error_set(LN_EUSAGE, "no command given");
		goto done;
	}
	c.cwd = getcwd(NULL, 0);
	if (!c.cwd) {
		error = ln_error_set(LN_EGENERIC, "cannot read the current directory");
		goto done;
	}
	if (cmd->flags & NEEDS_WORKSPACE) {
		error = ln_workspace_find_root(&c.root, root_opt, c.cwd);
		if (error)
			goto done;
		error = ln_config_load(&c.cfg, c.root);
		if (error)
			goto done;
		c.timeout_ms = timeout >= 0 ? timeout : c.cfg.request_ms;
		c.index_ms = index_ms >= 0 ? index_ms : c.cfg.index_ms;
	}
	error = cmd->fn(&c);
done:
	if (fflush(stdout) != 0 || ferror(stdout)) {
		if (!error)
			error = ln_error_set(LN_EGENERIC, "error writing to standard output");
	}
	if (error)
		fprintf(stderr, "lanser: %s\n", ln_error_msg()[0] ? ln_error_msg() : ln_err_name(error));
	ln_config_release(&c.cfg);
	free(c.argv);
	free(c.root);
	free(c.cwd);
	return ln_exit_code(error);
}
