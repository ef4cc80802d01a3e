import type { IDataObject } from 'n8n-workflow';
import { describe, expect, it } from 'vitest';

import { RunFieldError, runFromItem, type RunContext } from '../nodes/Breakeven/runFromItem';
import { groqCompletion } from './groq';

const CONTEXT: RunContext = {
	workflowId: 'wf-1',
	workflowName: 'Groq chat',
	executionId: 'exec-42',
	sourceNode: 'Groq Chat',
	loggerNode: 'Log usage',
	itemIndex: 0,
};

const ACCEPTED_FIELDS = [
	'id',
	'model',
	'provider',
	'prompt_tokens',
	'completion_tokens',
	'cached_tokens',
	'occurred_at',
	'workflow_id',
	'workflow_name',
	'execution_id',
	'node',
	'latency_ms',
	'status',
	'metadata',
];

function fieldError(run: () => unknown): RunFieldError {
	let caught: unknown;
	try {
		run();
	} catch (error) {
		caught = error;
	}
	expect(caught).toBeInstanceOf(RunFieldError);
	return caught as RunFieldError;
}

describe('runFromItem defaults from a Groq chat completion', () => {
	it('reads usage, model, x_groq.id and the workflow context', () => {
		const completion = groqCompletion({
			promptTokens: 5012,
			completionTokens: 388,
			cachedTokens: 4096,
		});
		expect(runFromItem(completion, '', {}, CONTEXT)).toEqual({
			id: 'req_01jq8m3xkfe8zv6w1rj4n7k2pd',
			model: 'llama-3.3-70b-versatile',
			prompt_tokens: 5012,
			completion_tokens: 388,
			cached_tokens: 4096,
			workflow_id: 'wf-1',
			workflow_name: 'Groq chat',
			execution_id: 'exec-42',
			node: 'Groq Chat',
			latency_ms: 412,
		});
	});

	it('leaves cached_tokens out when the response has no prompt_tokens_details', () => {
		const completion = groqCompletion({ promptTokens: 12, completionTokens: 3 });
		const run = runFromItem(completion, '', {}, CONTEXT);
		expect(run).not.toHaveProperty('cached_tokens');
		expect(run.prompt_tokens).toBe(12);
		expect(run.completion_tokens).toBe(3);
	});

	it('never copies prompt or completion text, only fields the service accepts', () => {
		const completion = groqCompletion({ promptTokens: 10, completionTokens: 2, cachedTokens: 1 });
		const run = runFromItem(completion, '', { metadata: { team: 'support' } }, CONTEXT);
		expect(Object.keys(run).every((key) => ACCEPTED_FIELDS.includes(key))).toBe(true);
		expect(JSON.stringify(run)).not.toContain('Paris');
	});

	it('reads the completion from a nested field', () => {
		const item = { question: 'q', data: groqCompletion({ promptTokens: 7, completionTokens: 1 }) };
		expect(runFromItem(item, 'data', {}, CONTEXT).prompt_tokens).toBe(7);
		expect(runFromItem({ wrap: item }, ' wrap.data ', {}, CONTEXT).completion_tokens).toBe(1);
	});

	it('falls back to the completion id, then to execution, node and item index', () => {
		const completion = groqCompletion({ promptTokens: 1, completionTokens: 1 });
		delete completion.x_groq;
		expect(runFromItem(completion, '', {}, CONTEXT).id).toBe('chatcmpl-7f1c2a9e');
		delete completion.id;
		expect(runFromItem(completion, '', {}, { ...CONTEXT, itemIndex: 3 }).id).toBe(
			'n8n:exec-42:Log usage:3',
		);
		const error = fieldError(() =>
			runFromItem(completion, '', {}, { ...CONTEXT, executionId: undefined }),
		);
		expect(error.field).toBe('Run ID');
	});

	it('omits the context fields n8n did not provide', () => {
		const completion = groqCompletion({ promptTokens: 1, completionTokens: 1 });
		const run = runFromItem(completion, '', {}, { loggerNode: 'Log usage', itemIndex: 0 });
		for (const key of ['workflow_id', 'workflow_name', 'execution_id', 'node']) {
			expect(run).not.toHaveProperty(key);
		}
	});
});

describe('runFromItem overrides', () => {
	it('lets every field be overridden', () => {
		const completion = groqCompletion({ promptTokens: 100, completionTokens: 10, cachedTokens: 5 });
		const run = runFromItem(
			completion,
			'',
			{
				runId: 'custom-1',
				model: 'llama-3.1-8b-instant',
				provider: 'vllm',
				promptTokens: '250',
				completionTokens: 40,
				cachedTokens: 0,
				occurredAt: '2026-11-26T09:30:00+01:00',
				workflowId: 'other-wf',
				workflowName: 'Other',
				executionId: 'exec-7',
				node: 'Agent',
				latencyMs: 1500,
				status: 'error',
				metadata: '{"team": "support"}',
			},
			CONTEXT,
		);
		expect(run).toEqual({
			id: 'custom-1',
			model: 'llama-3.1-8b-instant',
			provider: 'vllm',
			prompt_tokens: 250,
			completion_tokens: 40,
			cached_tokens: 0,
			occurred_at: '2026-11-26T09:30:00+01:00',
			workflow_id: 'other-wf',
			workflow_name: 'Other',
			execution_id: 'exec-7',
			node: 'Agent',
			latency_ms: 1500,
			status: 'error',
			metadata: { team: 'support' },
		});
	});

	it('treats empty overrides as unset, as n8n hands over cleared fields', () => {
		const completion = groqCompletion({ promptTokens: 9, completionTokens: 4 });
		const run = runFromItem(completion, '', { model: '', promptTokens: null, node: '' }, CONTEXT);
		expect(run.model).toBe('llama-3.3-70b-versatile');
		expect(run.prompt_tokens).toBe(9);
		expect(run.node).toBe('Groq Chat');
	});

	it('builds a run with no completion at all when the token counts are given', () => {
		const run = runFromItem(
			{ answer: 'hi' },
			'',
			{ model: 'llama-3.3-70b-versatile', promptTokens: 30, completionTokens: 5 },
			CONTEXT,
		);
		expect(run).toMatchObject({
			id: 'n8n:exec-42:Log usage:0',
			prompt_tokens: 30,
			completion_tokens: 5,
		});
	});

	it('accepts date objects for Occurred At and keeps their offset', () => {
		const completion = groqCompletion({ promptTokens: 1, completionTokens: 1 });
		const luxonLike = { toISO: () => '2026-11-26T10:00:00.000+02:00' };
		expect(runFromItem(completion, '', { occurredAt: luxonLike }, CONTEXT).occurred_at).toBe(
			'2026-11-26T10:00:00.000+02:00',
		);
		const date = new Date(Date.UTC(2026, 10, 26, 8, 0, 0));
		expect(runFromItem(completion, '', { occurredAt: date }, CONTEXT).occurred_at).toBe(
			'2026-11-26T08:00:00.000Z',
		);
	});
});

describe('runFromItem errors name the field to fix', () => {
	const completion = () => groqCompletion({ promptTokens: 10, completionTokens: 2 });
	const cases: Array<[string, IDataObject, string, string]> = [
		['no usage on the item', { model: 'm' }, 'Prompt Tokens', 'usage.prompt_tokens'],
		[
			'a negative token count',
			{ ...completion(), usage: { prompt_tokens: -1, completion_tokens: 2 } },
			'Prompt Tokens',
			'-1',
		],
		[
			'a fractional token count',
			{ ...completion(), usage: { prompt_tokens: 1, completion_tokens: 2.5 } },
			'Completion Tokens',
			'2.5',
		],
		['no model', { ...completion(), model: undefined }, 'Model', 'model'],
	];
	it.each(cases)('%s', (_label, item, field, mention) => {
		const error = fieldError(() => runFromItem(item, '', {}, CONTEXT));
		expect(error.field).toBe(field);
		expect(error.message).toContain(mention);
	});

	it('rejects cached tokens above the prompt tokens', () => {
		const item = groqCompletion({ promptTokens: 10, completionTokens: 2, cachedTokens: 11 });
		expect(fieldError(() => runFromItem(item, '', {}, CONTEXT)).field).toBe('Cached Tokens');
	});

	it('rejects a response field that is not an object', () => {
		const error = fieldError(() => runFromItem({ data: 'text' }, 'data', {}, CONTEXT));
		expect(error.field).toBe('Response Field');
		expect(error.message).toContain('"data"');
	});

	it('rejects bad overrides', () => {
		const item = completion();
		const bad: Array<[IDataObject, string]> = [
			[{ occurredAt: '2026-11-26T09:30:00' }, 'Occurred At'],
			[{ occurredAt: 'yesterday' }, 'Occurred At'],
			[{ status: 'ok' }, 'Status'],
			[{ metadata: '[1, 2]' }, 'Metadata'],
			[{ metadata: '{oops' }, 'Metadata'],
			[{ latencyMs: -5 }, 'Latency (Ms)'],
			[{ runId: 'x'.repeat(201) }, 'Run ID'],
			[{ promptTokens: '12abc' }, 'Prompt Tokens'],
		];
		for (const [overrides, field] of bad) {
			expect(fieldError(() => runFromItem(item, '', overrides, CONTEXT)).field).toBe(field);
		}
	});
});
