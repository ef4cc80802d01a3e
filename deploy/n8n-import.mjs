#!/usr/bin/env node
// One-shot set-up of n8n for the Breakeven stack: the `n8n-import` service of docker-compose.yml runs it in the
// n8n image, on n8n's database, before n8n starts (a running n8n only notices CLI publishes after a restart).
//
//   1. Credentials the workflows reference by name are written from the environment, under fixed ids, so .env
//      stays their source of truth (a changed key is picked up on the next `docker compose up`).
//   2. Each workflow in WORKFLOWS_DIR that n8n does not hold yet is imported with `n8n import:workflow
//      --separate`, its Config node filled from WORKFLOW_CONFIG_<FIELD> variables. Workflows n8n already holds
//      are left alone, so edits made in the editor survive a restart of the stack; `--force` re-imports them
//      all (overwriting those edits and unpublishing them, as n8n's import always does).
//   3. The workflows named in PUBLISH_WORKFLOWS that step 2 imported are published, so n8n serves their
//      webhooks as soon as it starts.
//
// `--dry-run` prints the plan as JSON (no secret values) without touching n8n.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const CONFIG_PREFIX = 'WORKFLOW_CONFIG_';
const CONFIG_NODE_TYPE = 'n8n-nodes-base.set';
// Node packages every n8n ships; any other package in a node type is a community package to install first.
const BUILT_IN_PACKAGES = new Set(['n8n-nodes-base', '@n8n/n8n-nodes-langchain']);

// Names and types are the ones the exported workflows reference (workflows/README.md); a comma-separated key
// list contributes its first key.
const CREDENTIALS = [
	{
		id: 'breakevenIngestKey',
		name: 'Breakeven ingest key',
		type: 'httpHeaderAuth',
		env: 'BREAKEVEN_INGEST_KEYS',
		data: (key) => ({ name: 'Authorization', value: `Bearer ${key}` }),
	},
	{
		id: 'breakevenApiKey',
		name: 'Breakeven API key',
		type: 'httpHeaderAuth',
		env: 'BREAKEVEN_API_KEYS',
		data: (key) => ({ name: 'Authorization', value: `Bearer ${key}` }),
	},
	{
		id: 'breakevenGroq',
		name: 'Groq account',
		type: 'groqApi',
		env: 'GROQ_API_KEY',
		data: (key) => ({ apiKey: key }),
	},
];

class SetupError extends Error {}

function log(message) {
	console.log(`n8n-import: ${message}`);
}

function parseArgs(argv) {
	const known = new Set(['--force', '--dry-run']);
	for (const arg of argv) {
		if (!known.has(arg)) throw new SetupError(`unknown argument ${arg} (known: --force, --dry-run)`);
	}
	return { force: argv.includes('--force'), dryRun: argv.includes('--dry-run') };
}

function firstKey(value) {
	return (value ?? '')
		.split(',')
		.map((part) => part.trim())
		.find((part) => part.length > 0);
}

function csv(value) {
	return (value ?? '')
		.split(',')
		.map((part) => part.trim())
		.filter((part) => part.length > 0);
}

function readWorkflows(dir) {
	let files;
	try {
		files = fs.readdirSync(dir).filter((file) => file.endsWith('.json'));
	} catch (error) {
		throw new SetupError(`cannot read WORKFLOWS_DIR ${dir}: ${error.message}`);
	}
	if (files.length === 0) throw new SetupError(`no *.json workflow in WORKFLOWS_DIR ${dir}`);
	return files.sort().map((file) => {
		let workflow;
		try {
			workflow = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
		} catch (error) {
			throw new SetupError(`${file}: not valid JSON (${error.message})`);
		}
		// n8n generates an id when one is missing, which would re-import the file as a new copy on every run.
		if (typeof workflow?.id !== 'string' || workflow.id.length === 0) {
			throw new SetupError(`${file}: the workflow needs an "id" so that it is imported only once`);
		}
		if (!Array.isArray(workflow.nodes)) throw new SetupError(`${file}: "nodes" must be a list`);
		return { file, workflow };
	});
}

function configOverrides(env) {
	const overrides = new Map();
	for (const [key, value] of Object.entries(env)) {
		// An empty value keeps the workflow's default, so optional fields can be wired as ${VAR:-}.
		if (key.startsWith(CONFIG_PREFIX) && value !== '') {
			overrides.set(key.slice(CONFIG_PREFIX.length).toLowerCase(), { key, value });
		}
	}
	return overrides;
}

function configAssignments(workflow) {
	return workflow.nodes
		.filter((node) => node.name === 'Config' && node.type === CONFIG_NODE_TYPE)
		.flatMap((node) => node.parameters?.assignments?.assignments ?? []);
}

// Fills the Config node in place; returns the field names it set.
function configure(file, workflow, overrides) {
	const set = [];
	for (const assignment of configAssignments(workflow)) {
		const override = overrides.get(assignment.name);
		if (!override) continue;
		if (assignment.type === 'number') {
			const number = Number(override.value);
			if (!Number.isFinite(number)) {
				throw new SetupError(`${override.key} must be a number for ${file} (got a non-numeric value)`);
			}
			assignment.value = number;
		} else {
			assignment.value = override.value;
		}
		set.push(assignment.name);
	}
	return set;
}

function communityPackages(workflow) {
	const packages = workflow.nodes.map((node) => String(node.type).slice(0, String(node.type).lastIndexOf('.')));
	return [...new Set(packages.filter((name) => !BUILT_IN_PACKAGES.has(name)))].sort();
}

function referencedCredentials(workflows) {
	const names = new Set();
	for (const { workflow } of workflows) {
		for (const node of workflow.nodes) {
			for (const [type, ref] of Object.entries(node.credentials ?? {})) names.add(`${type}/${ref?.name}`);
		}
	}
	return names;
}

function plan(env, options) {
	const workflows = readWorkflows(env.WORKFLOWS_DIR || '/workflows');
	const overrides = configOverrides(env);
	const configured = workflows.map(({ file, workflow }) => ({
		file,
		workflow,
		fields: configure(file, workflow, overrides),
		packages: communityPackages(workflow),
	}));
	const used = new Set(configured.flatMap((entry) => entry.fields));
	for (const [field, { key }] of overrides) {
		if (!used.has(field)) {
			const known = [...new Set(workflows.flatMap(({ workflow }) => configAssignments(workflow).map((a) => a.name)))];
			throw new SetupError(`${key} matches no field of a Config node (fields: ${known.sort().join(', ')})`);
		}
	}
	const ids = new Set(workflows.map(({ workflow }) => workflow.id));
	const publish = csv(env.PUBLISH_WORKFLOWS);
	for (const id of publish) {
		if (!ids.has(id)) throw new SetupError(`PUBLISH_WORKFLOWS names ${id}, which no workflow file has (ids: ${[...ids].join(', ')})`);
	}
	const referenced = referencedCredentials(workflows);
	const credentials = CREDENTIALS.filter((credential) => firstKey(env[credential.env]) !== undefined).map(
		(credential) => ({
			id: credential.id,
			name: credential.name,
			type: credential.type,
			data: credential.data(firstKey(env[credential.env])),
			referenced: referenced.has(`${credential.type}/${credential.name}`),
		}),
	);
	return { configured, credentials, publish, force: options.force };
}

function stripAnsi(text) {
	return text.replace(/\u001b\[[0-9;]*m/g, '');
}

function runN8n(env, ...args) {
	const done = spawnSync(env.N8N_BIN || 'n8n', args, {
		env,
		encoding: 'utf8',
		stdio: ['ignore', 'pipe', 'pipe'],
		maxBuffer: 64 * 1024 * 1024,
	});
	if (done.error) throw new SetupError(`cannot run n8n ${args[0]}: ${done.error.message}`);
	const output = stripAnsi(`${done.stdout}${done.stderr}`);
	if (done.status !== 0) {
		throw new SetupError(`n8n ${args[0]} failed (exit ${done.status}):\n${output.slice(-4000)}`);
	}
	return output;
}

function existingWorkflowIds(env, wanted) {
	const lines = new Set(runN8n(env, 'list:workflow', '--onlyId').split('\n').map((line) => line.trim()));
	return new Set([...wanted].filter((id) => lines.has(id)));
}

function writePrivate(dir, name, value) {
	const file = path.join(dir, name);
	fs.writeFileSync(file, JSON.stringify(value, null, 2), { mode: 0o600 });
	return file;
}

function apply(env, steps) {
	const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'n8n-import-'));
	try {
		if (steps.credentials.length > 0) {
			const file = writePrivate(
				scratch,
				'credentials.json',
				steps.credentials.map(({ id, name, type, data }) => ({ id, name, type, data })),
			);
			runN8n(env, 'import:credentials', `--input=${file}`);
			fs.rmSync(file);
			log(`credentials written: ${steps.credentials.map((c) => c.name).join(', ')}`);
		}

		const ids = steps.configured.map(({ workflow }) => workflow.id);
		const existing = steps.force ? new Set() : existingWorkflowIds(env, ids);
		const fresh = steps.configured.filter(({ workflow }) => !existing.has(workflow.id));
		for (const id of existing) log(`workflow ${id} already in n8n: left as it is (--force re-imports it)`);
		if (fresh.length === 0) return;

		const dir = path.join(scratch, 'workflows');
		fs.mkdirSync(dir, { mode: 0o700 });
		for (const { file, workflow } of fresh) writePrivate(dir, file, workflow);
		runN8n(env, 'import:workflow', '--separate', `--input=${dir}`);
		for (const { file, workflow, fields, packages } of fresh) {
			log(`imported ${file} as ${workflow.id}${fields.length ? ` (Config: ${fields.join(', ')})` : ''}`);
			if (packages.length) log(`note: ${workflow.id} runs only once n8n has the package ${packages.join(', ')}`);
		}

		const imported = new Set(fresh.map(({ workflow }) => workflow.id));
		for (const id of steps.publish.filter((id) => imported.has(id))) {
			runN8n(env, 'publish:workflow', `--id=${id}`);
			log(`published ${id}`);
		}
	} finally {
		fs.rmSync(scratch, { recursive: true, force: true });
	}
}

function main() {
	const options = parseArgs(process.argv.slice(2));
	const steps = plan(process.env, options);
	if (options.dryRun) {
		console.log(
			JSON.stringify(
				{
					credentials: steps.credentials.map(({ id, name, type, referenced }) => ({ id, name, type, referenced })),
					workflows: steps.configured.map(({ file, workflow, fields, packages }) => ({
						file,
						id: workflow.id,
						config: fields,
						packages,
					})),
					publish: steps.publish,
					force: steps.force,
				},
				null,
				2,
			),
		);
		return;
	}
	for (const credential of steps.credentials) {
		if (!credential.referenced) log(`note: no workflow uses the credential "${credential.name}"`);
	}
	apply(process.env, steps);
	log('done');
}

try {
	main();
} catch (error) {
	if (!(error instanceof SetupError)) throw error;
	console.error(`n8n-import: ${error.message}`);
	process.exit(1);
}
