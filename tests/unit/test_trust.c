/* Workspace trust (core/trust.h) and protected paths (sandbox/jail.h). */
#include "tests/unit/harness.h"
#include "core/config.h"
#include "core/err.h"
#include "sandbox/jail.h"
#include "core/trust.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static int scratch(char *dir, size_t n)
{
	snprintf(dir, n, "/tmp/lanser-ut-trust.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	setenv("XDG_STATE_HOME", dir, 1);
	return 0;
}

static void cleanup(const char *dir)
{
	char cmd[512];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0) { /* best effort */ }
	unsetenv("XDG_STATE_HOME");
}

TEST(core_trust__filter_removes_what_runs_programs)
{
	json_t *cfg = json_loads("{\"servers\": {\"clangd\": {\"command\": [\"x\"], \"enabled\": true,"
				 " \"versionCommand\": [\"y\"]}, \"typescript\": {\"initializationOptions\":"
				 " {}, \"settings\": {}}, \"mine\": {\"command\": [\"z\"]}},"
				 " \"test\": [\"make\", \"test\"], \"jail\": {\"allow\": [\"src/\"]}}", 0, NULL);
	json_t *ign;
	char *s;

	CHECK(cfg != NULL);
	ign = ln_trust_filter(cfg);
	s = json_dumps(ign, JSON_COMPACT);
	CHECK_EQ_STR(s, "[\"servers.clangd.command\",\"servers.clangd.versionCommand\","
		     "\"servers.mine\",\"servers.typescript.initializationOptions\","
		     "\"servers.typescript.settings\"]");
	free(s);
	s = json_dumps(cfg, JSON_COMPACT | JSON_SORT_KEYS);
	/* build/test commands (sandboxed) and the jail stay */
	CHECK_EQ_STR(s, "{\"jail\":{\"allow\":[\"src/\"]},\"servers\":{\"clangd\":{\"enabled\":true},"
		     "\"typescript\":{}},\"test\":[\"make\",\"test\"]}");
	free(s);
	json_decref(ign);
	json_decref(cfg);
}

TEST(core_trust__store_add_lookup_revoke_and_malformed)
{
	char dir[64], path[128];
	bool t = true, removed = false;
	FILE *f;
	struct stat st;

	CHECK(scratch(dir, sizeof dir) == 0);
	CHECK_EQ_INT(ln_trust_lookup(&t, "/w", "sha256:aa"), 0);
	CHECK(!t);
	CHECK_EQ_INT(ln_trust_add("/w", "sha256:aa"), 0);
	CHECK_EQ_INT(ln_trust_lookup(&t, "/w", "sha256:aa"), 0);
	CHECK(t);
	CHECK_EQ_INT(ln_trust_lookup(&t, "/w", "sha256:bb"), 0);
	CHECK(!t);   /* another digest: untrusted */
	snprintf(path, sizeof path, "%s/lanser/trust.json", dir);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	CHECK_EQ_INT(ln_trust_revoke(&removed, "/w"), 0);
	CHECK(removed);
	CHECK_EQ_INT(ln_trust_lookup(&t, "/w", "sha256:aa"), 0);
	CHECK(!t);
	f = fopen(path, "w");
	CHECK(f != NULL);
	fputs("{\"version\": 1, \"workspaces\": {\"/w\": {\"configDigest\": 5}}}", f);
	fclose(f);
	CHECK_EQ_INT(ln_trust_lookup(&t, "/w", "sha256:aa"), LN_ECONFIG);
	CHECK(!t);
	CHECK(strstr(ln_error_msg(), path) != NULL);
	cleanup(dir);
}

TEST(core_trust__a_store_folder_others_can_reach_is_refused_not_repaired)
{
	char dir[64], sub[96];
	bool t = true;
	struct stat st;

	CHECK(scratch(dir, sizeof dir) == 0);
	snprintf(sub, sizeof sub, "%s/lanser", dir);
	CHECK(mkdir(sub, 0700) == 0 && chmod(sub, 0750) == 0);
	CHECK_EQ_INT(ln_trust_add("/w", "sha256:aa"), LN_EPERM);
	CHECK(strstr(ln_error_msg(), "accessible by others") != NULL);
	CHECK_EQ_INT(ln_trust_lookup(&t, "/w", "sha256:aa"), LN_EPERM);
	CHECK(!t);
	CHECK(stat(sub, &st) == 0 && (st.st_mode & 0777) == 0750);   /* left as it was */
	cleanup(dir);
}

TEST(core_trust__cli_trust_and_untrusted_config_digest)
{
	char dir[64], ws[128], cfgp[160];
	struct ln_config cfg;
	FILE *f;

	CHECK(scratch(dir, sizeof dir) == 0);
	snprintf(ws, sizeof ws, "%s/ws", dir);
	CHECK(mkdir(ws, 0700) == 0);
	snprintf(cfgp, sizeof cfgp, "%s/.lanser.json", ws);
	f = fopen(cfgp, "w");
	CHECK(f != NULL);
	fputs("{\"servers\": {\"clangd\": {\"command\": [\"evil\"]}}}", f);
	fclose(f);
	CHECK_EQ_INT(ln_config_load(&cfg, ws), 0);
	CHECK(!cfg.trusted);
	CHECK_EQ_INT(json_array_size(cfg.ignored), 1);
	CHECK(strcmp(cfg.digest, cfg.file_digest) != 0);
	CHECK(json_object_get(json_object_get(json_object_get(cfg.json, "servers"), "clangd"),
			      "command") == NULL);
	ln_config_release(&cfg);
	ln_trust_set_cli(true, NULL);
	CHECK_EQ_INT(ln_config_load(&cfg, ws), 0);
	ln_trust_set_cli(false, NULL);
	CHECK(cfg.trusted);
	CHECK_EQ_STR(cfg.digest, cfg.file_digest);
	ln_config_release(&cfg);
	cleanup(dir);
}

TEST(sbx_jail__protected_paths)
{
	CHECK(sbx_jail_protected(".lanser.json") != NULL);
	CHECK(sbx_jail_protected("sub/.Lanser.json") != NULL);
	CHECK(sbx_jail_protected("node_modules/typescript/lib/tsserver.js") != NULL);
	CHECK(sbx_jail_protected("web/node_modules/x.js") != NULL);
	CHECK(sbx_jail_protected(".gitattributes") != NULL);
	CHECK(sbx_jail_protected(".github/workflows/ci.yml") != NULL);
	CHECK(sbx_jail_protected("src/.clangd") != NULL);
	CHECK(sbx_jail_protected("build/compile_commands.json") != NULL);
	CHECK(sbx_jail_protected("compile_flags.txt") != NULL);
	CHECK(sbx_jail_protected("pyrightconfig.json") != NULL);
	CHECK(sbx_jail_protected("src/main.c") == NULL);
	CHECK(sbx_jail_protected("src/node_modules.c") == NULL);
	CHECK(sbx_jail_protected("docs/git.md") == NULL);
	CHECK(sbx_jail_protected("lanser.json") == NULL);
}
