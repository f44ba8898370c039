/*
 * selector.h - the Selector DSL: parsing and printing.
 *
 * The grammar is docs/selectors.md (EBNF); this parser implements exactly
 * that grammar. Five forms:
 *
 *   cursor    src/app.py@L42:C7                 1-based line and column
 *   range     src/app.py@R(42,7->44,1)          end exclusive
 *   symbolic  py://pkg.mod#Class.method:sig?overload=2
 *             c://src/list.c#list_push   c://#list.head   ts://src/a.ts#A.f
 *   ast       ast://src/app.py#class_definition[name=Config]/function_definition[2]
 *   anchor    anchor://src/app.py#"def load_data("?ctx=24&line=40
 *
 * Untrusted input: a selector longer than SEL_MAX_LEN bytes, deeper than
 * SEL_MAX_STEPS steps or SEL_MAX_QUAL name components, with more than
 * SEL_MAX_PREDS predicates on a step, a number above SEL_MAX_NUMBER, a
 * control character, invalid UTF-8 or a malformed or NUL percent escape is
 * rejected with a parse error; nothing is ever truncated silently.
 *
 * Thread-safety: no shared state; a parsed selector is immutable.
 */
#ifndef LANSER_SELECTOR_H
#define LANSER_SELECTOR_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "core/buf.h"

#define SEL_MAX_LEN 4096       /* bytes of selector text */
#define SEL_MAX_STEPS 32       /* AST path steps */
#define SEL_MAX_PREDS 8        /* predicates per AST step */
#define SEL_MAX_QUAL 32        /* components of a qualified name or module */
#define SEL_MAX_NUMBER 100000000L
#define SEL_MAX_CTX 10000      /* anchor ?ctx= lines */

enum sel_kind { SEL_CURSOR, SEL_RANGE, SEL_SYMBOLIC, SEL_AST, SEL_ANCHOR };

/* Symbolic schemes. */
enum sel_lang { SEL_LANG_NONE, SEL_LANG_PY, SEL_LANG_C, SEL_LANG_TS, SEL_LANG_JS };

/* What part of a symbol a symbolic selector addresses. */
enum sel_role {
	SEL_ROLE_DEF,   /* the whole definition (default) */
	SEL_ROLE_SIG,   /* the signature: from the start of the definition to its body */
	SEL_ROLE_BODY,  /* the body */
	SEL_ROLE_DOC,   /* the docstring (Python) or the comment right above */
	SEL_ROLE_NAME,  /* the name identifier */
};

/* One AST predicate: field=value, or (field == NULL) the 1-based index. */
struct sel_pred {
	char *field;
	char *value;
	long index;
};

struct sel_step {
	char *type;             /* tree-sitter node type */
	struct sel_pred *preds;
	int npreds;
};

struct sel {
	enum sel_kind kind;
	char *text;             /* the selector as given (owned copy) */
	/* The file: cursor/range/ast/anchor always, symbolic c/ts/js when
	 * given (NULL: any file of the workspace). Percent-decoded for the
	 * :// forms, raw for cursor and range. */
	char *path;
	/* cursor: line/col; range: line/col .. end_line/end_col (1-based). */
	long line, col, end_line, end_col;
	/* symbolic */
	enum sel_lang lang;
	char *module;           /* py: dotted module, NULL when absent */
	char **qual;            /* name components, nqual >= 1 */
	int nqual;
	enum sel_role role;
	bool role_given;
	long overload;          /* 1-based; 0 = not given */
	/* ast */
	struct sel_step *steps;
	int nsteps;
	/* anchor */
	char *snippet;          /* decoded, NUL-terminated, valid UTF-8 */
	size_t snippet_len;
	long ctx;               /* lines; -1 = not given */
	long anchor_line;       /* 1-based original line; 0 = not given */
};

/* Where and why parsing failed. `column` is 1-based and counts code points
 * of the selector (an invalid UTF-8 byte counts as one). `text` is the
 * whole message: "selector:1:<column>: expected ...". */
struct sel_error {
	int column;
	char text[200];
};

/*
 * Parses `len` bytes of `s` into *out (caller-owned storage; always
 * released with sel_release, also after a failure). Returns 0, or
 * LN_ESELECTOR with `err` filled (err may be NULL) and the last error set
 * to err->text.
 */
int sel_parse(struct sel *out, const char *s, size_t len, struct sel_error *err);
void sel_release(struct sel *sel);

/* The parsed form as JSON (new reference): {"kind": ..., fields present
 * for that kind}. Deterministic; used in bundles and by the parser tests. */
json_t *sel_to_json(const struct sel *sel);

/* Appends the canonical selector text: parsing it again gives the same
 * sel_to_json(). Percent-encodes what the grammar requires. */
void sel_format(struct buf *out, const struct sel *sel);

const char *sel_kind_name(enum sel_kind k);
const char *sel_role_name(enum sel_role r);
const char *sel_lang_name(enum sel_lang l);

#endif
