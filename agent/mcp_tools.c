/*
 * mcp_tools.c - the tools and resources of `lanser mcp` (docs/mcp.md).
 *
 * Tools are agent_tools_json() (agent/tools.h: the command table) dressed
 * for MCP: the bundle schema as outputSchema, annotations from the
 * command's flags, and each call run by agent_tool_call, the one call path
 * the agent loop uses too. A result is the short text as content plus the
 * bundle as structuredContent; a failing command is a result with isError
 * (the model reads why), a call the protocol cannot take (no name, an
 * unknown tool) a JSON-RPC error.
 *
 * Resources are the session's last bundles (lanser://bundle/<bundleId>)
 * and, with --trace FILE, the trace (lanser://trace).
 */
#include "agent/cli.h"
#include "agent/command.h"
#include "agent/daemon.h"
#include "agent/mcp_int.h"
#include "agent/tools.h"
#include "core/buf.h"
#include "core/bundle.h"
#include "core/err.h"
#include "core/proc.h"
#include "core/xalloc.h"
#include "core/xjson.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUNDLE_URI "lanser://bundle/"
#define TRACE_URI "lanser://trace"

static const json_t *bundle_schema(struct mcp *m)
{
	if (!m->bundle_schema) {
		m->bundle_schema = json_loads(ln_bundle_schema(), 0, NULL);
		if (!m->bundle_schema) /* built in: a broken one is a build bug */
			ln_die_oom();
	}
	return m->bundle_schema;
}

/* The outputSchema of a tool that may answer with several bundles (one
 * per candidate: a list option of more than one value, test --patch):
 * one bundle, or {"bundles": [bundle, ...]}. The bundle schema's $defs
 * move to the top so that its "#/$defs/..." references still resolve. */
static json_t *several_schema(struct mcp *m)
{
	json_t *one = json_deep_copy(bundle_schema(m)), *defs, *s;

	defs = json_incref(json_object_get(one, "$defs"));
	if (!defs)
		defs = json_object();
	json_object_del(one, "$defs");
	json_object_del(one, "$schema");
	json_object_del(one, "$id");
	json_object_set_new(defs, "bundle", one);
	s = xjson_pack("{s:s,s:s,s:o,s:[{s:s},{s:{s:{s:s,s:{s:s}}},s:[s]}]}",
		       "type", "object", "title", "one Analysis Bundle, or one per candidate",
		       "$defs", defs, "anyOf", "$ref", "#/$defs/bundle", "properties", "bundles",
		       "type", "array", "items", "$ref", "#/$defs/bundle", "required", "bundles");
	return s;
}

static bool answers_several(const struct agent_command *cmd)
{
	const struct agent_option *o;

	for (o = cmd->options; o && o->name; o++)
		if (o->type == AGENT_OPT_LIST && o->max > 1 && agent_option_is_tool_arg(o, cmd))
			return true;
	return false;
}

/* Whether cmd writes files when asked to: it has an "apply" argument. */
static bool applies(const struct agent_command *cmd)
{
	return agent_option_by_json(cmd, "apply") != NULL;
}

json_t *mcp_tools_list(struct mcp *m, const json_t *params, struct mcp_err *e)
{
	json_t *list = agent_tools_json(m->read_only), *tools = json_array(), *t;
	size_t i;

	(void)params;
	(void)e;
	json_array_foreach(list, i, t) {
		const char *name = json_string_value(json_object_get(t, "name"));
		const struct agent_command *cmd = name ? agent_tool_find(name) : NULL;
		bool writes = cmd && (cmd->flags & AGENT_CMD_WRITES);
		json_t *tool;

		if (!cmd)
			continue;
		tool = xjson_pack("{s:s,s:O,s:O,s:o,s:{s:b,s:b,s:b,s:b}}", "name", name,
				  "description", json_object_get(t, "description"),
				  "inputSchema", json_object_get(t, "inputSchema"),
				  "outputSchema", answers_several(cmd) ? several_schema(m) :
				  json_incref((json_t *)bundle_schema(m)),
				  "annotations", "readOnlyHint", !writes,
				  "destructiveHint", writes && applies(cmd),
				  "idempotentHint", !writes, "openWorldHint", 0);
		json_array_append_new(tools, tool);
	}
	json_decref(list);
	return xjson_pack("{s:o}", "tools", tools);
}

/* Keeps a bundle as a resource (the newest MCP_MAX_BUNDLES); the URI. */
static char *remember(struct mcp *m, const char *tool, json_t *bundle)
{
	const char *id = json_string_value(json_object_get(bundle, "bundleId"));
	json_t *b;
	size_t i;
	char *uri;

	if (!id)
		return NULL;
	if (!m->bundles)
		m->bundles = json_array();
	uri = xasprintf(BUNDLE_URI "%s", id);
	json_array_foreach(m->bundles, i, b)
		if (!strcmp(json_string_value(json_object_get(b, "uri")), uri)) {
			json_array_remove(m->bundles, i);
			break;
		}
	if (json_array_size(m->bundles) >= MCP_MAX_BUNDLES)
		json_array_remove(m->bundles, 0);
	json_array_append_new(m->bundles, xjson_pack("{s:s,s:s,s:O}", "uri", uri, "tool", tool,
						     "bundle", bundle));
	return uri;
}

static int open_tools(struct mcp *m)
{
	struct agent_tools_opts o = { 0 };

	if (m->tools)
		return 0;
	o.c = m->c;
	o.use_daemon = !m->c->no_daemon && !daemon_disabled();
	o.read_only = m->read_only;
	o.cancel = &m->cancel;
	o.trace_path = m->trace_path;
	return agent_tools_open(&m->tools, &o);
}

/* The progress token of a request (_meta.progressToken), or NULL. */
static const json_t *progress_token(const json_t *params)
{
	const json_t *t = json_object_get(json_object_get(params, "_meta"), "progressToken");

	return json_is_string(t) || json_is_integer(t) ? t : NULL;
}

json_t *mcp_tools_call(struct mcp *m, const json_t *id, const json_t *params, struct mcp_err *e)
{
	const char *name = json_string_value(json_object_get(params, "name"));
	const json_t *args = json_object_get(params, "arguments");
	const struct agent_command *cmd = name ? agent_tool_find(name) : NULL;
	struct agent_tool_result r;
	json_t *result, *content;
	struct buf text = BUF_INIT;
	char *uri = NULL;
	long long start;
	bool cancelled;
	int code;

	if (!name)
		return mcp_fail(e, MCP_EPARAMS, "Invalid params: tools/call needs \"name\" (a string)");
	if (args && !json_is_object(args))
		return mcp_fail(e, MCP_EPARAMS, "Invalid params: \"arguments\" must be an object");
	if (!cmd || (m->read_only && (cmd->flags & AGENT_CMD_WRITES)))
		return mcp_fail(e, MCP_EPARAMS, "Invalid params: unknown tool \"%.100s\"%s (tools/list "
				"names them)", name, cmd ? " (read-only session)" : "");
	memset(&r, 0, sizeof r);
	start = ln_now_ms();
	pthread_mutex_lock(&m->lock);
	m->call_id = json_incref((json_t *)id);
	m->call_token = json_incref((json_t *)progress_token(params));
	snprintf(m->call_name, sizeof m->call_name, "%s", name);
	m->call_cancelled = false;
	m->cancel = 0;
	m->call_start = m->last_progress = start;
	pthread_mutex_unlock(&m->lock);

	code = open_tools(m);
	if (code) {
		r.code = code;
		r.text = xstrdup("");
		snprintf(r.message, sizeof r.message, "%s", ln_error_msg());
	} else {
		agent_tool_call(m->tools, name, args, &r);
	}

	pthread_mutex_lock(&m->lock);
	cancelled = m->call_cancelled;
	json_decref(m->call_id);
	json_decref(m->call_token);
	m->call_id = m->call_token = NULL;
	m->cancel = 0;
	pthread_mutex_unlock(&m->lock);

	if (cancelled) {
		mcp_log(m, MCP_INFO, "%s: cancelled after %lld ms", name, ln_now_ms() - start);
		agent_tool_result_release(&r);
		e->code = 0; /* the specification: no answer to a cancelled request */
		return NULL;
	}
	if (json_is_array(r.bundle) && json_array_size(r.bundle) == 1) {
		json_t *one = json_incref(json_array_get(r.bundle, 0));
		json_decref(r.bundle);
		r.bundle = one;
	}
	if (json_is_object(r.bundle)) {
		uri = remember(m, name, r.bundle);
	} else if (json_is_array(r.bundle)) {
		json_t *b;
		size_t i;
		json_array_foreach(r.bundle, i, b)
			if (json_is_object(b))
				free(remember(m, name, b));
	}
	/* the text names the error itself (agent/tools.h) */
	buf_adds(&text, r.text && r.text[0] ? r.text : r.message);
	if (uri)
		buf_addf(&text, "%s(bundle: %s)", text.len && text.data[text.len - 1] != '\n' ?
			 "\n" : "", uri);
	content = xjson_pack("[{s:s,s:o}]", "type", "text", "text",
			     xjson_stringn_lossy(text.data, text.len));
	result = xjson_pack("{s:o,s:b}", "content", content, "isError", r.code != 0);
	if (json_is_object(r.bundle))
		json_object_set(result, "structuredContent", r.bundle);
	else if (json_is_array(r.bundle))
		json_object_set_new(result, "structuredContent", xjson_pack("{s:O}", "bundles",
									    r.bundle));
	mcp_log(m, r.code ? MCP_WARNING : MCP_DEBUG, "%s: %s in %lld ms", name,
		r.code ? ln_err_name(r.code) : "ok", ln_now_ms() - start);
	free(uri);
	buf_release(&text);
	agent_tool_result_release(&r);
	return result;
}

json_t *mcp_resources_list(struct mcp *m, const json_t *params, struct mcp_err *e)
{
	json_t *list = json_array(), *b;
	size_t i;

	(void)params;
	(void)e;
	/* newest first */
	for (i = json_array_size(m->bundles); i-- > 0;) {
		char name[160];
		b = json_array_get(m->bundles, i);
		snprintf(name, sizeof name, "%s bundle %.24s", json_string_value(json_object_get(b,
			 "tool")), json_string_value(json_object_get(json_object_get(b, "bundle"),
			 "bundleId")));
		json_array_append_new(list, xjson_pack("{s:O,s:s,s:s,s:s}", "uri",
						       json_object_get(b, "uri"), "name", name,
						       "description", "an Analysis Bundle of this session",
						       "mimeType", "application/json"));
	}
	if (m->trace_path)
		json_array_append_new(list, xjson_pack("{s:s,s:s,s:s,s:s}", "uri", TRACE_URI, "name",
						       "trace", "description", "the --trace file "
						       "(JSONL, docs/trace.md)", "mimeType",
						       "application/jsonl"));
	return xjson_pack("{s:o}", "resources", list);
}

json_t *mcp_resources_read(struct mcp *m, const json_t *params, struct mcp_err *e)
{
	const char *uri = json_string_value(json_object_get(params, "uri"));
	json_t *b, *text = NULL;
	size_t i;

	if (!uri)
		return mcp_fail(e, MCP_EPARAMS, "Invalid params: resources/read needs \"uri\" (a "
				"string)");
	json_array_foreach(m->bundles, i, b)
		if (!strcmp(json_string_value(json_object_get(b, "uri")), uri)) {
			char *s = json_dumps(json_object_get(b, "bundle"), JSON_COMPACT | JSON_SORT_KEYS);
			if (!s)
				ln_die_oom();
			text = json_string(s);
			free(s);
			return xjson_pack("{s:[{s:s,s:s,s:o}]}", "contents", "uri", uri, "mimeType",
					  "application/json", "text", text);
		}
	if (m->trace_path && !strcmp(uri, TRACE_URI)) {
		struct buf t = BUF_INIT;
		int error = buf_read_file(&t, m->trace_path, MCP_MAX_TRACE);
		if (error == LN_ENOTFOUND) {
			ln_error_clear();
			error = 0;
		}
		if (error) {
			buf_release(&t);
			return mcp_fail(e, MCP_EINTERNAL, "the trace cannot be read: %s",
					ln_error_msg());
		}
		text = xjson_stringn_lossy(t.data ? t.data : "", t.len);
		buf_release(&t);
		return xjson_pack("{s:[{s:s,s:s,s:o}]}", "contents", "uri", uri, "mimeType",
				  "application/jsonl", "text", text);
	}
	e->data = xjson_pack("{s:s}", "uri", uri);
	return mcp_fail(e, MCP_ENORESOURCE, "Resource not found (the session keeps its last %d "
			"bundles)", MCP_MAX_BUNDLES);
}

json_t *mcp_resource_templates(struct mcp *m, const json_t *params, struct mcp_err *e)
{
	(void)m;
	(void)params;
	(void)e;
	return xjson_pack("{s:[{s:s,s:s,s:s,s:s}]}", "resourceTemplates", "uriTemplate",
			  BUNDLE_URI "{bundleId}", "name", "bundle", "description",
			  "an Analysis Bundle of this session, by its bundleId", "mimeType",
			  "application/json");
}

void mcp_tools_release(struct mcp *m)
{
	agent_tools_close(m->tools);
	m->tools = NULL;
	json_decref(m->bundles);
	json_decref(m->bundle_schema);
	m->bundles = m->bundle_schema = NULL;
}
