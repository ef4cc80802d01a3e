import type { IDataObject } from 'n8n-workflow';

/** The body of `POST /v1/runs`: exactly the fields the service accepts (it rejects unknown ones). */
export interface RunPayload {
	id: string;
	model: string;
	provider?: string;
	prompt_tokens: number;
	completion_tokens: number;
	cached_tokens?: number;
	occurred_at?: string;
	workflow_id?: string;
	workflow_name?: string;
	execution_id?: string;
	node?: string;
	latency_ms?: number;
	status?: 'success' | 'error';
	metadata?: IDataObject;
}

/** What the "Overrides" collection may hold; each value may come from an expression, hence `unknown`. */
export interface RunOverrides {
	runId?: unknown;
	model?: unknown;
	provider?: unknown;
	promptTokens?: unknown;
	completionTokens?: unknown;
	cachedTokens?: unknown;
	occurredAt?: unknown;
	workflowId?: unknown;
	workflowName?: unknown;
	executionId?: unknown;
	node?: unknown;
	latencyMs?: unknown;
	status?: unknown;
	metadata?: unknown;
}

/** Facts about the running workflow that fill the defaults no response carries. */
export interface RunContext {
	workflowId?: string;
	workflowName?: string;
	executionId?: string;
	/** The node whose output is being logged (the only parent of this node), if known. */
	sourceNode?: string;
	/** This node's own name: with the execution id and item index it makes a stable fallback run id. */
	loggerNode: string;
	itemIndex: number;
}

/** A bad or missing value, named by the parameter a user would fix. */
export class RunFieldError extends Error {
	constructor(
		readonly field: string,
		message: string,
	) {
		super(`${field}: ${message}`);
		this.name = 'RunFieldError';
	}
}

const MAX_TOKENS = 10_000_000;

function getPath(value: unknown, path: string): unknown {
	let current = value;
	for (const key of path.split('.')) {
		if (current === null || typeof current !== 'object' || Array.isArray(current)) return undefined;
		current = (current as IDataObject)[key];
	}
	return current;
}

function isSet(value: unknown): boolean {
	return value !== undefined && value !== null && value !== '';
}

function text(field: string, value: unknown, maxLength: number): string {
	const result = typeof value === 'number' ? String(value) : value;
	if (typeof result !== 'string' || result.trim() === '') {
		throw new RunFieldError(field, `must be a non-empty string (got ${describe(value)})`);
	}
	if (result.trim().length > maxLength) {
		throw new RunFieldError(field, `must be at most ${maxLength} characters`);
	}
	return result.trim();
}

function count(field: string, value: unknown, max = MAX_TOKENS): number {
	const parsed = typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : value;
	if (typeof parsed !== 'number' || !Number.isInteger(parsed) || parsed < 0 || parsed > max) {
		throw new RunFieldError(
			field,
			`must be a whole number from 0 to ${max} (got ${describe(value)})`,
		);
	}
	return parsed;
}

function describe(value: unknown): string {
	if (value === undefined) return 'nothing';
	if (value === null) return 'null';
	if (typeof value === 'string')
		return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
	if (typeof value === 'object') return Array.isArray(value) ? 'a list' : 'an object';
	return String(value);
}

function timestamp(field: string, value: unknown): string {
	let iso: unknown = value;
	if (value instanceof Date) iso = value.toISOString();
	// Luxon DateTime, what n8n expressions such as {{ $now }} evaluate to.
	else if (
		value &&
		typeof value === 'object' &&
		typeof (value as { toISO?: unknown }).toISO === 'function'
	) {
		iso = (value as { toISO: () => string | null }).toISO();
	}
	if (
		typeof iso !== 'string' ||
		!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i.test(iso.trim()) ||
		Number.isNaN(Date.parse(iso))
	) {
		throw new RunFieldError(
			field,
			`must be an RFC 3339 date-time with a UTC offset, e.g. 2026-11-26T09:30:00Z (got ${describe(value)})`,
		);
	}
	return iso.trim();
}

function metadataObject(field: string, value: unknown): IDataObject {
	let parsed = value;
	if (typeof value === 'string') {
		let validJson = true;
		try {
			parsed = JSON.parse(value);
		} catch {
			validJson = false;
		}
		if (!validJson) throw new RunFieldError(field, 'is not valid JSON');
	}
	if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
		throw new RunFieldError(field, `must be a JSON object (got ${describe(parsed)})`);
	}
	return parsed as IDataObject;
}

/**
 * Builds the ledger entry for one item: defaults come from an OpenAI-compatible chat completion (as Groq returns
 * it: `usage.*`, `model`, `x_groq.id`) found at `responseField` of the item, and from the workflow context; any
 * override that is set wins. No prompt or completion text is ever copied.
 */
export function runFromItem(
	item: IDataObject,
	responseField: string,
	overrides: RunOverrides,
	context: RunContext,
): RunPayload {
	const path = responseField.trim();
	const response = path === '' ? item : getPath(item, path);
	const where = path === '' ? 'the item' : `the item's "${path}"`;
	if (
		path !== '' &&
		(response === null || typeof response !== 'object' || Array.isArray(response))
	) {
		throw new RunFieldError(
			'Response Field',
			`${where} is not an object (got ${describe(response)})`,
		);
	}
	const from = (key: string) => getPath(response, key);

	const pick = (override: unknown, key: string, field: string): unknown => {
		if (isSet(override)) return override;
		const found = from(key);
		if (!isSet(found)) {
			throw new RunFieldError(field, `${where} has no ${key}; set "${field}" under Overrides`);
		}
		return found;
	};

	let id: string;
	if (isSet(overrides.runId)) {
		id = text('Run ID', overrides.runId, 200);
	} else if (isSet(from('x_groq.id'))) {
		id = text('Run ID', from('x_groq.id'), 200);
	} else if (isSet(from('id'))) {
		id = text('Run ID', from('id'), 200);
	} else if (context.executionId) {
		id = `n8n:${context.executionId}:${context.loggerNode}:${context.itemIndex}`.slice(0, 200);
	} else {
		throw new RunFieldError(
			'Run ID',
			`${where} has no x_groq.id or id and there is no execution id; set "Run ID"`,
		);
	}

	const run: RunPayload = {
		id,
		model: text('Model', pick(overrides.model, 'model', 'Model'), 200),
		prompt_tokens: count(
			'Prompt Tokens',
			pick(overrides.promptTokens, 'usage.prompt_tokens', 'Prompt Tokens'),
		),
		completion_tokens: count(
			'Completion Tokens',
			pick(overrides.completionTokens, 'usage.completion_tokens', 'Completion Tokens'),
		),
	};

	const cached = isSet(overrides.cachedTokens)
		? overrides.cachedTokens
		: from('usage.prompt_tokens_details.cached_tokens');
	if (isSet(cached)) {
		run.cached_tokens = count('Cached Tokens', cached);
		if (run.cached_tokens > run.prompt_tokens) {
			throw new RunFieldError(
				'Cached Tokens',
				`${run.cached_tokens} cannot exceed the prompt tokens (${run.prompt_tokens})`,
			);
		}
	}

	if (isSet(overrides.provider)) run.provider = text('Provider', overrides.provider, 100);
	if (isSet(overrides.occurredAt)) run.occurred_at = timestamp('Occurred At', overrides.occurredAt);

	const workflowId = isSet(overrides.workflowId) ? overrides.workflowId : context.workflowId;
	if (isSet(workflowId)) run.workflow_id = text('Workflow ID', workflowId, 200);
	const workflowName = isSet(overrides.workflowName)
		? overrides.workflowName
		: context.workflowName;
	if (isSet(workflowName)) run.workflow_name = text('Workflow Name', workflowName, 500);
	const executionId = isSet(overrides.executionId) ? overrides.executionId : context.executionId;
	if (isSet(executionId)) run.execution_id = text('Execution ID', executionId, 200);
	const node = isSet(overrides.node) ? overrides.node : context.sourceNode;
	if (isSet(node)) run.node = text('Node', node, 200);

	if (isSet(overrides.latencyMs)) {
		run.latency_ms = count('Latency (Ms)', overrides.latencyMs, 86_400_000);
	} else {
		// Groq reports its own processing time in seconds; queue time is left out as it is not the model's.
		const totalTime = from('usage.total_time');
		if (typeof totalTime === 'number' && Number.isFinite(totalTime) && totalTime >= 0) {
			run.latency_ms = Math.round(totalTime * 1000);
		}
	}

	if (isSet(overrides.status)) {
		if (overrides.status !== 'success' && overrides.status !== 'error') {
			throw new RunFieldError(
				'Status',
				`must be "success" or "error" (got ${describe(overrides.status)})`,
			);
		}
		run.status = overrides.status;
	}
	if (isSet(overrides.metadata)) run.metadata = metadataObject('Metadata', overrides.metadata);
	return run;
}
