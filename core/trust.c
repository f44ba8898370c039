/*
 * trust.c - workspace trust (see trust.h).
 */
#include "core/trust.h"
#include "core/atomicfile.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/xalloc.h"
#include "core/xjson.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static bool cli_trust;
static const char *cli_config;

void ln_trust_set_cli(bool trust, const char *config_file)
{
	cli_trust = trust;
	cli_config = config_file;
}

bool ln_trust_cli_trust(void)
{
	return cli_trust;
}

const char *ln_trust_cli_config(void)
{
	return cli_config;
}

/* The trust store's folder must be a directory of ours that nobody else
 * can reach: one that others could write may hold a planted trust.json,
 * so it is refused, never repaired (as with the state folder, core/state.h). */
static int check_private(const char *dir)
{
	struct stat st;

	if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid())
		return ln_error_set(LN_EPERM, "%s is not a directory of ours (refusing to use it)",
				    dir);
	if (st.st_mode & 077)
		return ln_error_set(LN_EPERM, "%s is accessible by others (mode %03o): refusing "
				    "to use the trust store in it; check what is inside, then "
				    "chmod 700 it", dir, (unsigned)(st.st_mode & 0777));
	return 0;
}

/* The folder holding the store; with `create`, made 0700 (parents too);
 * either way, when it exists it must pass check_private(). */
static int store_dir(struct buf *out, bool create)
{
	const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	struct stat st;
	char *p;

	if (xdg && xdg[0] == '/')
		buf_addf(out, "%s/lanser", xdg);
	else if (home && home[0] == '/')
		buf_addf(out, "%s/.local/state/lanser", home);
	else
		return ln_error_set(LN_ECONFIG, "the trust store needs XDG_STATE_HOME or HOME "
				    "(an absolute path)");
	if (!create) {
		/* reading: a store in a folder others could write is no store */
		if (lstat(out->data, &st) < 0 && errno == ENOENT)
			return 0;
		return check_private(out->data);
	}
	for (p = strchr(out->data + 1, '/'); ; p = strchr(p + 1, '/')) {
		if (p)
			*p = '\0';
		if (mkdir(out->data, 0700) < 0 && errno != EEXIST) {
			int e = errno;
			if (p)
				*p = '/';
			return ln_error_set(LN_EPERM, "cannot create %s: %s", out->data, strerror(e));
		}
		if (!p)
			break;
		*p = '/';
	}
	return check_private(out->data);
}

int ln_trust_store_path(char **out)
{
	struct buf b = BUF_INIT;
	int error = store_dir(&b, false);

	*out = NULL;
	if (error) {
		buf_release(&b);
		return error;
	}
	buf_adds(&b, "/trust.json");
	*out = buf_detach(&b, NULL);
	return 0;
}

/* Reads the store: *out is its "workspaces" object ({} when absent). */
static int store_read(json_t **out, const char *path)
{
	struct buf text = BUF_INIT;
	json_t *doc = NULL, *ws, *e;
	json_error_t jerr;
	const char *k;
	int error;

	*out = NULL;
	error = buf_read_file(&text, path, LN_TRUST_MAX_BYTES);
	if (error == LN_ENOTFOUND) {
		*out = json_object();
		error = 0;
		goto done;
	}
	if (error) {
		error = ln_error_set(LN_ECONFIG, "trust store %s: %s", path, ln_error_msg());
		goto done;
	}
	doc = json_loadb(text.data, text.len, JSON_REJECT_DUPLICATES, &jerr);
	if (!doc) {
		error = ln_error_set(LN_ECONFIG, "trust store %s:%d:%d: %s (fix or remove it)", path,
				     jerr.line, jerr.column, jerr.text);
		goto done;
	}
	ws = json_object_get(doc, "workspaces");
	if (!json_is_object(doc) || !json_is_integer(json_object_get(doc, "version")) ||
	    json_integer_value(json_object_get(doc, "version")) != 1 || !json_is_object(ws) ||
	    json_object_size(ws) > LN_TRUST_MAX_ENTRIES) {
		error = ln_error_set(LN_ECONFIG, "trust store %s: not {\"version\": 1, \"workspaces\": "
				     "{...}} with at most %d entries (fix or remove it)", path,
				     LN_TRUST_MAX_ENTRIES);
		goto done;
	}
	json_object_foreach(ws, k, e) {
		const char *d = json_string_value(json_object_get(e, "configDigest"));
		if (k[0] != '/' || !d || strncmp(d, "sha256:", 7)) {
			error = ln_error_set(LN_ECONFIG, "trust store %s: malformed entry for %s "
					     "(fix or remove it)", path, k);
			goto done;
		}
	}
	*out = json_incref(ws);
	error = 0;
done:
	json_decref(doc);
	buf_release(&text);
	return error;
}

static int store_write(const char *path, json_t *ws)
{
	json_t *doc = xjson_pack("{s:i, s:O}", "version", 1, "workspaces", ws);
	struct ln_atomic_opts ao = { .mode = 0600, .code = LN_EPERM };
	struct buf text = BUF_INIT;
	char *dump;
	int error;

	dump = json_dumps(doc, JSON_INDENT(1) | JSON_SORT_KEYS);
	json_decref(doc);
	if (!dump)
		ln_die_oom();
	buf_adds(&text, dump);
	free(dump);
	if (text.len > LN_TRUST_MAX_BYTES || json_object_size(ws) > LN_TRUST_MAX_ENTRIES) {
		error = ln_error_set(LN_ECONFIG, "trust store %s: too many entries (revoke some)",
				     path);
	} else {
		buf_addch(&text, '\n');
		error = ln_atomic_write(path, text.data, text.len, &ao);
	}
	buf_release(&text);
	return error;
}

int ln_trust_lookup(bool *out, const char *root, const char *digest)
{
	char *path = NULL;
	json_t *ws = NULL;
	const char *d;
	int error;

	*out = false;
	error = ln_trust_store_path(&path);
	if (error == LN_ECONFIG) {  /* no HOME: nothing can be trusted */
		ln_error_clear();
		error = 0;
		goto done;
	}
	if (!error)
		error = store_read(&ws, path);
	if (error)
		goto done;
	d = json_string_value(json_object_get(json_object_get(ws, root), "configDigest"));
	*out = d && !strcmp(d, digest);
done:
	json_decref(ws);
	free(path);
	return error;
}

static int store_update(const char *root, const char *digest, bool *removed)
{
	struct buf dir = BUF_INIT;
	json_t *ws = NULL;
	int error;

	error = store_dir(&dir, true);
	if (error)
		goto done;
	buf_adds(&dir, "/trust.json");
	error = store_read(&ws, dir.data);
	if (error)
		goto done;
	if (digest) {
		json_object_set_new(ws, root, xjson_pack("{s:s}", "configDigest", digest));
	} else {
		*removed = json_object_get(ws, root) != NULL;
		if (!*removed)
			goto done;
		json_object_del(ws, root);
	}
	error = store_write(dir.data, ws);
done:
	json_decref(ws);
	buf_release(&dir);
	return error;
}

int ln_trust_add(const char *root, const char *digest)
{
	return store_update(root, digest, NULL);
}

int ln_trust_revoke(bool *removed, const char *root)
{
	*removed = false;
	return store_update(root, NULL, removed);
}

int ln_trust_list(json_t **out)
{
	char *path = NULL;
	int error = ln_trust_store_path(&path);

	*out = NULL;
	if (!error)
		error = store_read(out, path);
	free(path);
	return error;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(json_string_value(*(json_t *const *)a), json_string_value(*(json_t *const *)b));
}

json_t *ln_trust_filter(json_t *cfg)
{
	/* Members of a server entry that run or steer a program. */
	static const char *const steer[] = { "command", "versionCommand", "initializationOptions",
					     "settings", NULL };
	static const char *const builtin[] = { "clangd", "pyright", "typescript", "pylsp", NULL };
	/* Members of "model" (the agent's model client, agent/llm.h) that
	 * choose where the API key is sent and which variable is sent. */
	static const char *const model_keys[] = { "baseUrl", "apiKeyEnv", NULL };
	json_t *ignored = json_array(), *servers = json_object_get(cfg, "servers"), *s;
	json_t *model = json_object_get(cfg, "model");
	const char *name;
	void *tmp;
	size_t i;

	for (i = 0; json_is_object(model) && model_keys[i]; i++)
		if (json_object_get(model, model_keys[i])) {
			json_array_append_new(ignored, json_sprintf("model.%s", model_keys[i]));
			json_object_del(model, model_keys[i]);
		}
	if (!json_is_object(servers))
		goto sort;
	json_object_foreach_safe(servers, tmp, name, s) {
		bool known = false;
		for (i = 0; builtin[i]; i++)
			known |= !strcmp(name, builtin[i]);
		if (!known) {
			json_array_append_new(ignored, json_sprintf("servers.%s", name));
			json_object_del(servers, name);
			continue;
		}
		if (!json_is_object(s))
			continue;  /* the profile loader reports it */
		for (i = 0; steer[i]; i++)
			if (json_object_get(s, steer[i])) {
				json_array_append_new(ignored, json_sprintf("servers.%s.%s", name,
									    steer[i]));
				json_object_del(s, steer[i]);
			}
	}
sort:
	/* a stable order for messages and doctor */
	xjson_array_sort(ignored, cmp_str);
	return ignored;
}
