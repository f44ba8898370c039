/*
 * locate.c - selector commands that need no language server:
 *
 *   lanser outline <file>              symbols from tree-sitter alone
 *   lanser locate <selector> [--at REV] where a selector points today
 *
 * Both build an Analysis Bundle whose facts carry "provenance":
 * "tree-sitter". `locate --at REV` resolves the selector in the files of
 * git revision REV and relocates the place into today's files
 * (selectors/resolve.h); the bundle records the original place, the
 * resolved range, the score, the features, the weights and tau.
 */
#include "agent/cli.h"
#include "agent/cmdctx.h"
#include "core/bundle.h"
#include "core/err.h"
#include "selectors/outline.h"
#include "core/path.h"
#include "core/proc.h"
#include "core/text.h"
#include "selectors/resolve.h"
#include "selectors/selector.h"
#include "selectors/source.h"
#include "selectors/tree.h"
#include "core/xalloc.h"
#include "core/xjson.h"

#include <stdlib.h>
#include <string.h>

static void note_documents(json_t *bundle, struct sel_files *f, json_t *paths)
{
	json_t *docs = json_object_get(json_object_get(bundle, "inputs"), "documents"), *p;
	size_t i;

	json_array_foreach(paths, i, p) {
		const char *d = sel_files_digest(f, json_string_value(p));
		const struct ln_text *t = NULL;
		size_t k;
		json_t *e;
		bool seen = false;
		if (!d)
			continue;
		json_array_foreach(docs, k, e)
			if (!strcmp(json_string_value(json_object_get(e, "path")), json_string_value(p)))
				seen = true;
		if (seen)
			continue;
		e = xjson_pack("{s:O, s:s}", "path", p, "sha256", d);
		/* its columns are bytes (docs/bundle.md, "Files that are not UTF-8") */
		if (sel_files_source(f)->text(f, json_string_value(p), &t) == 0 && t && t->latin1)
			json_object_set_new(e, "encoding", json_string("latin-1"));
		ln_error_clear();
		json_array_append_new(docs, e);
	}
}

/* The tree-sitter counters are this command's volatile members. */
static int end_bundle(struct cmdctx *x, int err, void (*human)(struct cmdctx *))
{
	struct sel_tree_stats st;

	sel_tree_stats(&st);
	json_object_set_new(cmdctx_volatile(x), "treeCache", xjson_pack("{s:I, s:I, s:I}",
		"hits", (json_int_t)st.hits, "incremental", (json_int_t)st.incremental,
		"full", (json_int_t)st.full));
	return cmdctx_end(x, err, human);
}

/* ---- outline ---- */

static void print_outline(struct cmdctx *x)
{
	struct cli *c = x->c;
	json_t *bundle = x->bundle;
	json_t *f;
	size_t i;

	json_array_foreach(json_object_get(bundle, "facts"), i, f) {
		json_t *r = json_object_get(f, "selectionRange");
		const char *cont = json_string_value(json_object_get(f, "container"));
		fprintf(c->out, "%-10s %s%s%s  %s:%lld:%lld%s\n",
			json_string_value(json_object_get(f, "symbolKind")), cont ? ln_printable(cont) : "",
			cont ? "." : "", ln_printable(json_string_value(json_object_get(f, "name"))),
			ln_printable(json_string_value(json_object_get(f, "path"))),
			(long long)json_integer_value(json_array_get(r, 0)),
			(long long)json_integer_value(json_array_get(r, 1)),
			json_is_false(json_object_get(f, "definition")) ? "  (declaration)" : "");
	}
}

static json_t *range_of(const struct ln_text *t, size_t a, size_t b, enum ln_enc enc)
{
	long sl, sc, el, ec;

	if (sel_offset_to_pos(t, a, enc, &sl, &sc) || sel_offset_to_pos(t, b, enc, &el, &ec))
		return NULL;
	return ln_range_new(sl, sc, el, ec);
}

int cmd_outline(struct cli *c)
{
	struct cmdctx x;
	struct sel_files *files = NULL;
	struct sel_doc *doc = NULL;
	struct sel_outline ol = { NULL, 0 };
	const struct ln_text *t;
	json_t *bundle, *paths = NULL;
	char *rel = NULL, *lex = NULL;
	size_t i;
	int error;

	cmdctx_begin(&x, c, "outline", CMDCTX_PARSERS | CMDCTX_HUMAN_ON_ERROR | CMDCTX_PRINT_REAL15);
	bundle = x.bundle;
	ln_path_lexical_rel(&lex, c->root, c->cwd, c->argv[0]);
	error = cmdctx_target_path(&x, lex ? lex : c->argv[0]);
	if (error)
		goto done;
	error = ln_path_resolve_in_root(&rel, NULL, c->root, c->cwd, c->argv[0]);
	if (error)
		goto done;
	sel_files_new_fs(&files, c->root, c->cwd);
	error = sel_files_source(files)->text(files, rel, &t);
	if (error)
		goto done;
	paths = xjson_pack("[s]", rel);
	note_documents(bundle, files, paths);
	error = sel_doc_parse(&doc, rel, t->data, t->len, sel_grammar_for_path(rel));
	if (error)
		goto done;
	error = sel_outline_build(&ol, doc);
	if (error)
		goto done;
	for (i = 0; i < ol.n; i++) {
		const struct sel_symbol *s = &ol.v[i];
		json_t *r = range_of(t, s->start, s->end, c->index_io);
		json_t *sr = range_of(t, s->name_start, s->name_end, c->index_io);
		json_t *fact = xjson_pack("{s:s, s:s, s:s, s:s, s:o*, s:o*, s:b, s:s}",
			"kind", "symbol", "name", s->name, "path", rel, "symbolKind", s->kind,
			"range", r, "selectionRange", sr, "definition", s->definition,
			"provenance", "tree-sitter");
		if (s->depth) {
			size_t n = strlen(s->qual) - strlen(s->name) - 1;
			json_object_set_new(fact, "container", json_stringn(s->qual, n));
		}
		json_array_append_new(json_object_get(bundle, "facts"), fact);
	}
done:
	sel_outline_release(&ol);
	sel_doc_free(doc);
	sel_files_free(files);
	json_decref(paths);
	free(rel);
	free(lex);
	return end_bundle(&x, error, print_outline);
}

/* ---- locate ---- */

static void print_candidates(struct cli *c, const json_t *res, FILE *out)
{
	json_t *k;
	size_t i;

	json_array_foreach(json_object_get(res, "candidates"), i, k) {
		json_t *r = json_object_get(k, "range"), *f = json_object_get(k, "features");
		fprintf(out, "%s:%lld:%lld-%lld:%lld  score %.3f  (s_ast %.2f s_module %.2f "
			"J_token %.2f s_prox %.2f; %s)\n",
			ln_printable(json_string_value(json_object_get(k, "path"))),
			(long long)json_integer_value(json_array_get(r, 0)),
			(long long)json_integer_value(json_array_get(r, 1)),
			(long long)json_integer_value(json_array_get(r, 2)),
			(long long)json_integer_value(json_array_get(r, 3)),
			json_number_value(json_object_get(k, "score")),
			json_number_value(json_object_get(f, "s_ast")),
			json_number_value(json_object_get(f, "s_module")),
			json_number_value(json_object_get(f, "J_token")),
			json_number_value(json_object_get(f, "s_prox")),
			json_string_value(json_object_get(k, "via")));
	}
}

static void print_locate(struct cmdctx *x)
{
	struct cli *c = x->c;
	json_t *bundle = x->bundle;
	json_t *res = json_object_get(bundle, "resolution"), *f;
	size_t i;

	json_array_foreach(json_object_get(bundle, "facts"), i, f) {
		json_t *r = json_object_get(f, "range");
		fprintf(c->out, "%s:%lld:%lld-%lld:%lld  confidence %.3f\n",
			ln_printable(json_string_value(json_object_get(f, "path"))),
			(long long)json_integer_value(json_array_get(r, 0)),
			(long long)json_integer_value(json_array_get(r, 1)),
			(long long)json_integer_value(json_array_get(r, 2)),
			(long long)json_integer_value(json_array_get(r, 3)),
			json_number_value(json_object_get(res, "confidence")));
	}
}

/* The request target: the parsed selector, its path made
 * workspace-relative for cursor and range (which are cwd-relative). */
static json_t *target_json(struct cli *c, const struct sel *s)
{
	json_t *t = sel_to_json(s);

	if ((s->kind == SEL_CURSOR || s->kind == SEL_RANGE) && s->path) {
		char *lex = NULL;
		ln_path_lexical_rel(&lex, c->root, c->cwd, s->path);
		if (lex)
			json_object_set_new(t, "path", json_string(lex));
		free(lex);
	}
	return t;
}

int cmd_locate(struct cli *c)
{
	struct cmdctx x;
	struct sel sel;
	struct sel_error perr;
	struct sel_resolution res;
	struct sel_files *cur = NULL, *old = NULL;
	json_t *bundle, *rj = NULL, *paths = json_array(), *k;
	size_t i;
	int error;

	memset(&res, 0, sizeof res);
	memset(&sel, 0, sizeof sel);
	cmdctx_begin(&x, c, "locate", CMDCTX_PARSERS | CMDCTX_HUMAN_ON_ERROR | CMDCTX_PRINT_REAL15);
	bundle = x.bundle;
	error = sel_parse(&sel, c->argv[0], strlen(c->argv[0]), &perr);
	if (error) {
		json_object_set_new(json_object_get(bundle, "request"), "target",
				    json_string(c->argv[0]));
		goto done;
	}
	json_object_set_new(json_object_get(bundle, "request"), "target", target_json(c, &sel));
	sel_files_new_fs(&cur, c->root, c->cwd);
	if (c->at) {
		error = sel_files_new_git(&old, c->root, c->cwd, c->at);
		if (error)
			goto done;
		/* the commit id, not the spelling: HEAD moves */
		json_object_set_new(json_object_get(bundle, "request"), "at",
				    json_string(sel_files_commit(old)));
		error = sel_relocate(&res, &sel, sel_files_source(old), sel_files_source(cur),
				     c->index_io);
	} else {
		error = sel_resolve(&res, &sel, sel_files_source(cur), c->index_io);
	}
	if (error)
		goto done;
	/* relocated candidates live in today's files; snapshot failures in the old ones */
	rj = sel_resolution_json(&res, (c->at && !res.relocated) ? sel_files_source(old)
								 : sel_files_source(cur), c->index_io);
	json_object_set(bundle, "resolution", rj);
	for (i = 0; i < res.n; i++)
		json_array_append_new(paths, json_string(res.v[i].path));
	note_documents(bundle, cur, paths);
	if (res.status == 0) {
		json_t *top = json_array_get(json_object_get(rj, "candidates"), 0);
		json_array_append_new(json_object_get(bundle, "facts"),
			xjson_pack("{s:s, s:O?, s:O?, s:O?, s:s}", "kind", "location",
				  "path", json_object_get(top, "path"),
				  "range", json_object_get(top, "range"),
				  "score", json_object_get(top, "score"), "provenance", "tree-sitter"));
	} else {
		if (!c->json) {
			if (res.status == LN_EAMBIGUOUS)
				fprintf(c->err, "lanser: candidates (best first):\n");
			print_candidates(c, rj, c->err);
		}
		error = ln_error_set(res.status, "%s", res.message ? res.message : "not found");
	}
done:
	(void)k;
	json_decref(rj);
	json_decref(paths);
	sel_resolution_release(&res);
	sel_release(&sel);
	sel_files_free(old);
	sel_files_free(cur);
	return end_bundle(&x, error, print_locate);
}
