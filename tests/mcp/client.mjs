// client.mjs - drives `lanser mcp` through a whole session with the official
// MCP TypeScript SDK (deps/node_modules/@modelcontextprotocol/sdk, pinned),
// the way Claude Code, Codex or Cursor would. tests/integration/t_mcp.sh runs
// it once per fixture.
//
//   node tests/mcp/client.mjs PLAN.json
//
// PLAN (written by t_mcp.sh):
//   label          prefix of every check's name
//   lanser, root   the binary and the workspace (--root)
//   extraArgs      more arguments of `lanser mcp` (e.g. --no-daemon)
//   env            environment of the server (XDG dirs of the test)
//   calls          {tool: arguments} - one good call for every tool the
//                  server lists (a listed tool without one is a failure)
//   expectTools    tools that must be listed
//   cliIds         {tool: bundleId}: what `lanser --json TOOL ARGS` answered to
//                  the plan's call of that tool (the MCP answer must be the same)
//   def            {arguments, cliBundleId}: the same question as `lanser def
//                  --json`, whose bundleId the MCP answer must carry
//   rename         {arguments, file, newName}: preview, then apply
//   escape         {tool, arguments}: a path outside the workspace
//   notFound       {tool, arguments}: a selector that resolves nowhere
//   cancel         {tool, arguments, marker} or null: a long call to cancel
//   readOnly       true: the session runs with --read-only (no mutating tools)
//   expectText     {tool: [regex]}: patterns the call's text must match
//   rejectText     {tool: [regex]}: patterns it must not match
//
// Prints one line per check, "ok NAME" or "FAIL NAME: DETAILS" (the format
// of tests/integration/lib.sh), then "# pid N" (the server's pid) and exits
// 1 when a check failed.
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { execFileSync } from 'node:child_process';

const plan = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const sdk = `${process.env.LANSER_REPO_ROOT}/deps/node_modules/@modelcontextprotocol/sdk/dist/esm`;
const nm = `${process.env.LANSER_REPO_ROOT}/deps/node_modules`;
const { Client } = await import(pathToFileURL(`${sdk}/client/index.js`));
const { StdioClientTransport } = await import(pathToFileURL(`${sdk}/client/stdio.js`));
const types = await import(pathToFileURL(`${sdk}/types.js`));
const Ajv2020 = (await import(pathToFileURL(`${nm}/ajv/dist/2020.js`))).default;

let failed = 0;
const L = plan.label;
function ok(name) { console.log(`ok ${L}: ${name}`); }
function fail(name, details) {
	failed++;
	const d = String(details ?? '').split('\n').slice(0, 12).map((l) => `#   ${l.slice(0, 300)}`);
	console.log(`FAIL ${L}: ${name}${d.length ? '\n' + d.join('\n') : ''}`);
}
function check(name, cond, details) { cond ? ok(name) : fail(name, details); }
const text = (res) => (res.content || []).filter((c) => c.type === 'text').map((c) => c.text).join('\n');

const transport = new StdioClientTransport({
	command: plan.lanser,
	args: ['--root', plan.root, 'mcp', ...(plan.extraArgs || [])],
	env: { ...process.env, ...(plan.env || {}) },
	stderr: 'pipe',
});
let stderr = '';
transport.stderr?.on('data', (d) => { stderr += d; });
const client = new Client({ name: 'lanser-test', version: '1.0.0' }, { capabilities: {} });
const logs = [];
client.setNotificationHandler(types.LoggingMessageNotificationSchema, (n) => logs.push(n.params));

try {
	await client.connect(transport);
	ok('initialize (SDK client, protocol ' + types.LATEST_PROTOCOL_VERSION + ')');
} catch (e) {
	fail('initialize', `${e}\n${stderr}`);
	process.exit(1);
}
const pid = transport.pid;
const info = client.getServerVersion();
check('serverInfo names lanser', info?.name === 'lanser', JSON.stringify(info));
const caps = client.getServerCapabilities() || {};
check('capabilities: tools, resources, logging', caps.tools && caps.resources && caps.logging,
	JSON.stringify(caps));

// ---- tools/list: every tool's schemas compile
const { tools } = await client.listTools();
const names = tools.map((t) => t.name);
for (const want of plan.expectTools || [])
	check(`tools/list has ${want}`, names.includes(want), names.join(', '));
const ajv = new Ajv2020({ strict: false, allErrors: true });
let bad = [];
for (const t of tools) {
	try { ajv.compile(t.inputSchema); } catch (e) { bad.push(`${t.name} inputSchema: ${e.message}`); }
	if (t.inputSchema?.type !== 'object') bad.push(`${t.name}: inputSchema.type is not object`);
	try { new Ajv2020({ strict: false }).compile(t.outputSchema); } catch (e) { bad.push(`${t.name} outputSchema: ${e.message}`); }
	const a = t.annotations || {};
	if (typeof a.readOnlyHint !== 'boolean' || typeof a.destructiveHint !== 'boolean')
		bad.push(`${t.name}: annotations ${JSON.stringify(a)}`);
	if (a.readOnlyHint && a.destructiveHint) bad.push(`${t.name}: read-only and destructive`);
}
check(`every tool's inputSchema and outputSchema compile (JSON Schema 2020-12, ${tools.length} tools)`,
	bad.length === 0 && tools.length > 0, bad.join('\n'));
const mutating = tools.filter((t) => !t.annotations?.readOnlyHint).map((t) => t.name);
if (plan.readOnly) {
	check('read-only: no mutating tool listed', mutating.length === 0, mutating.join(', '));
} else {
	check('rename is marked destructive, def read-only',
		tools.find((t) => t.name === 'rename')?.annotations?.destructiveHint === true &&
		tools.find((t) => t.name === 'def')?.annotations?.readOnlyHint === true,
		JSON.stringify(tools.map((t) => [t.name, t.annotations])));
}

// every argument the server is given is valid against the tool's own schema
function validArgs(tool, args) {
	const t = tools.find((x) => x.name === tool);
	const v = ajv.compile(t.inputSchema);
	return v(args) ? '' : ajv.errorsText(v.errors);
}

await client.setLoggingLevel('debug');

// ---- call each tool (the SDK validates structuredContent against outputSchema)
for (const t of tools) {
	const args = plan.calls[t.name];
	if (!args) {
		fail(`tools/call ${t.name}: the plan has a call for every listed tool`, 'none given');
		continue;
	}
	const why = validArgs(t.name, args);
	if (why) { fail(`tools/call ${t.name}: the plan's arguments fit its schema`, why); continue; }
	try {
		const res = await client.callTool({ name: t.name, arguments: args }, undefined, { timeout: 300000 });
		const sc = res.structuredContent;
		const isBundle = sc && (typeof sc.bundleId === 'string' || Array.isArray(sc.bundles));
		check(`tools/call ${t.name}: text and a bundle (structuredContent)`,
			text(res).length > 0 && isBundle, JSON.stringify(res).slice(0, 600));
		// what an agent reads (many clients show only the text): each
		// pattern must match it, none of the rejected ones
		for (const re of plan.expectText?.[t.name] || [])
			check(`tools/call ${t.name}: the text says /${re}/`, new RegExp(re, 'm').test(text(res)), text(res));
		for (const re of plan.rejectText?.[t.name] || [])
			check(`tools/call ${t.name}: the text is not /${re}/`, !new RegExp(re, 'm').test(text(res)), text(res));
		if (plan.cliIds?.[t.name])
			check(`tools/call ${t.name}: the bundleId of \`lanser --json ${t.name}\``,
				sc?.bundleId === plan.cliIds[t.name], `mcp ${sc?.bundleId}\ncli ${plan.cliIds[t.name]}`);
		const want = plan.expectError?.[t.name];
		if (want !== undefined)
			check(`tools/call ${t.name}: isError ${want}`, !!res.isError === want, text(res));
		else
			check(`tools/call ${t.name}: not an error`, !res.isError, text(res));
	} catch (e) {
		fail(`tools/call ${t.name}`, `${e}\n${stderr.slice(-500)}`);
	}
}
check('log notifications arrive at level debug', logs.some((l) => l.logger === 'lanser'),
	JSON.stringify(logs.slice(0, 3)));

// ---- the same bundleId as the CLI's
let defId = null;
if (plan.def) {
	const res = await client.callTool({ name: 'def', arguments: plan.def.arguments });
	defId = res.structuredContent?.bundleId;
	check('def through MCP carries the bundleId of `lanser def --json`',
		defId && defId === plan.def.cliBundleId, `mcp ${defId}\ncli ${plan.def.cliBundleId}`);
	check('def: the text names the definition', /:\d+:\d+/.test(text(res)), text(res));
}

// ---- resources: the session's bundles
{
	const { resources } = await client.listResources();
	const uri = `lanser://bundle/${defId}`;
	check('resources/list has the def bundle', resources.some((r) => r.uri === uri),
		resources.map((r) => r.uri).join('\n'));
	try {
		const r = await client.readResource({ uri });
		const b = JSON.parse(r.contents[0].text);
		check('resources/read gives back the bundle', b.bundleId === defId, r.contents[0].text.slice(0, 200));
	} catch (e) { fail('resources/read', e); }
	try {
		await client.readResource({ uri: 'lanser://bundle/sha256:nope' });
		fail('resources/read of an unknown bundle is an error', 'it answered');
	} catch (e) {
		check('resources/read of an unknown bundle is error -32002', e.code === -32002, e);
	}
	const { resourceTemplates } = await client.listResourceTemplates();
	check('resources/templates/list names lanser://bundle/{bundleId}',
		resourceTemplates.some((t) => t.uriTemplate === 'lanser://bundle/{bundleId}'), JSON.stringify(resourceTemplates));
}

// ---- rename: preview, then apply
if (plan.rename && !plan.readOnly) {
	const file = `${plan.root}/${plan.rename.file}`;
	const before = readFileSync(file, 'utf8');
	const res = await client.callTool({ name: 'rename', arguments: plan.rename.arguments });
	check('rename preview: a diff in the text, not an error', !res.isError && /^[-+]/m.test(text(res)), text(res));
	check('rename preview: the file is unchanged', readFileSync(file, 'utf8') === before, '');
	const res2 = await client.callTool({ name: 'rename', arguments: { ...plan.rename.arguments, apply: true } });
	const after = readFileSync(file, 'utf8');
	check('rename apply: not an error', !res2.isError, text(res2));
	check(`rename apply: ${plan.rename.file} now says ${plan.rename.newName}`,
		after !== before && after.includes(plan.rename.newName), after.slice(0, 400));
}

// ---- bad calls
{
	const res = await client.callTool({ name: 'def', arguments: { args: 5 } });
	check('wrong type (args: 5) is isError with a reason', res.isError && /args/.test(text(res)), text(res));
	const res2 = await client.callTool({ name: 'refs', arguments: { args: ['x@L1:C1'], noSuchOption: true } });
	check('unknown argument is isError naming it', res2.isError && /noSuchOption/.test(text(res2)), text(res2));
	try {
		await client.callTool({ name: 'no-such-tool', arguments: {} });
		fail('unknown tool is a JSON-RPC error', 'it answered');
	} catch (e) {
		check('unknown tool is JSON-RPC error -32602', e.code === -32602, e);
	}
	if (plan.notFound) {
		// a selector that resolves nowhere: the reason as a result the model
		// reads (its bundle fits the outputSchema), not a protocol error
		try {
			const nf = await client.callTool({ name: plan.notFound.tool, arguments: plan.notFound.arguments });
			check(`a selector that resolves nowhere (${plan.notFound.tool}) is isError saying so`,
				nf.isError && /no such symbol|not found/i.test(text(nf)), text(nf));
			check('... its bundle says NOT_FOUND', nf.structuredContent?.resolution?.status === 'NOT_FOUND',
				JSON.stringify(nf.structuredContent?.resolution));
		} catch (e) {
			fail(`a selector that resolves nowhere (${plan.notFound.tool}) is a result, not an error`, e);
		}
	}
	const esc = await client.callTool({ name: plan.escape.tool, arguments: plan.escape.arguments });
	check(`a path outside the workspace (${plan.escape.tool}) is isError`, esc.isError, text(esc));
	check('... and says why (outside the workspace)', /outside|workspace|jail/i.test(text(esc)), text(esc));
	if (plan.readOnly) {
		try {
			await client.callTool({ name: 'rename', arguments: plan.rename.arguments });
			fail('read-only: rename is refused', 'it answered');
		} catch (e) {
			check('read-only: calling rename is JSON-RPC error -32602', e.code === -32602, e);
		}
	}
}

// ---- cancellation of a long call, with progress
if (plan.cancel) {
	const ac = new AbortController();
	let progress = 0;
	const t0 = Date.now();
	const p = client.callTool({ name: plan.cancel.tool, arguments: plan.cancel.arguments }, undefined, {
		signal: ac.signal, timeout: 120000,
		onprogress: () => { progress++; if (progress === 2) ac.abort('enough'); },
	});
	let err = null;
	try { await p; } catch (e) { err = e; }
	check(`cancel: ${plan.cancel.tool} was aborted after its progress notifications`, err && progress >= 2,
		`progress ${progress}, ${err}`);
	check('cancel: the call ended well before it would have', Date.now() - t0 < 25000, `${Date.now() - t0} ms`);
	// the server keeps serving; the cancelled run's processes are gone by the time
	// a later call has been answered (the call finished before the next one ran)
	await client.ping();
	const res = await client.callTool({ name: 'outline', arguments: plan.calls.outline });
	check('cancel: the next call is answered', !res.isError, text(res));
	let left = '';
	try { left = execFileSync('pgrep', ['-af', plan.cancel.marker]).toString(); } catch { left = ''; }
	check('cancel: the long call\'s processes are gone', left.trim() === '', left);
}

await client.close();
console.log(`# pid ${pid}`);
process.exit(failed ? 1 : 0);
