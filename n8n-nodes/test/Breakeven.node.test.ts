import nock from 'nock';
import { NodeApiError, NodeOperationError, type IDataObject } from 'n8n-workflow';
import { afterEach, beforeAll, afterAll, describe, expect, it } from 'vitest';

import { Breakeven } from '../nodes/Breakeven/Breakeven.node';
import { CREDENTIALS, FakeExecuteFunctions, type ParamValue } from './fakes';
import { groqCompletion } from './groq';

const SERVICE = CREDENTIALS.baseUrl;
const AUTH = { reqheaders: { authorization: `Bearer ${CREDENTIALS.apiKey}` } };

beforeAll(() => nock.disableNetConnect());
afterAll(() => nock.enableNetConnect());
afterEach(() => {
	const pending = nock.pendingMocks();
	nock.cleanAll();
	expect(pending).toEqual([]);
});

function logParams(extra: Record<string, ParamValue> = {}): Record<string, ParamValue> {
	return {
		resource: 'usage',
		operation: 'log',
		responseField: '',
		overrides: {},
		options: {},
		...extra,
	};
}

async function run(fake: FakeExecuteFunctions) {
	const [output] = await new Breakeven().execute.call(fake.asContext());
	return output;
}

async function failure(fake: FakeExecuteFunctions): Promise<Error> {
	try {
		await run(fake);
	} catch (error) {
		return error as Error;
	}
	throw new Error('expected the node to fail');
}

describe('Usage > Log', () => {
	it('logs the exact tokens of a Groq completion and passes the item on with the answer', async () => {
		const completion = groqCompletion({
			promptTokens: 5012,
			completionTokens: 388,
			cachedTokens: 4096,
		});
		const answer = { id: 'req_01jq8m3xkfe8zv6w1rj4n7k2pd', status: 'created', cost_usd: 0.0032 };
		nock(SERVICE, AUTH)
			.post('/v1/runs', {
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
			})
			.reply(201, answer);

		const output = await run(
			new FakeExecuteFunctions({ items: [completion], params: logParams() }),
		);

		expect(output).toEqual([
			{ json: { ...completion, breakeven: answer }, pairedItem: { item: 0 } },
		]);
	});

	it('logs a batch of items, one run each, in order', async () => {
		const items = [1, 2, 3].map((n) =>
			groqCompletion({ promptTokens: 100 * n, completionTokens: n, requestId: `req_${n}` }),
		);
		const scope = nock(SERVICE, AUTH);
		for (const n of [1, 2, 3]) {
			scope
				.post(
					'/v1/runs',
					(body: IDataObject) => body.id === `req_${n}` && body.prompt_tokens === 100 * n,
				)
				.reply(201, { id: `req_${n}`, status: 'created', cost_usd: n / 1000 });
		}

		const output = await run(new FakeExecuteFunctions({ items, params: logParams() }));

		expect(output.map((item) => (item.json.breakeven as IDataObject).id)).toEqual([
			'req_1',
			'req_2',
			'req_3',
		]);
		expect(output.map((item) => item.pairedItem)).toEqual([{ item: 0 }, { item: 1 }, { item: 2 }]);
	});

	it('uses overrides evaluated per item, as expressions are', async () => {
		const items = [
			{ answer: 'a', tokens: { in: 30, out: 4 } },
			{ answer: 'b', tokens: { in: 50, out: 6 } },
		];
		const sent: IDataObject[] = [];
		nock(SERVICE, AUTH)
			.post('/v1/runs', (body: IDataObject) => {
				sent.push(body);
				return true;
			})
			.times(2)
			.reply(200, (_uri, body) => ({
				id: (body as IDataObject).id,
				status: 'duplicate',
				cost_usd: 0,
			}));

		const tokens = (i: number) => items[i].tokens;
		const output = await run(
			new FakeExecuteFunctions({
				items,
				params: logParams({
					overrides: (i: number) => ({
						model: 'llama-3.1-8b-instant',
						provider: 'groq',
						promptTokens: tokens(i).in,
						completionTokens: tokens(i).out,
						runId: `answer-${items[i].answer}`,
						metadata: { answer: items[i].answer },
					}),
					options: { resultField: 'ledger' },
				}),
			}),
		);

		expect(sent).toEqual([
			{
				id: 'answer-a',
				model: 'llama-3.1-8b-instant',
				provider: 'groq',
				prompt_tokens: 30,
				completion_tokens: 4,
				workflow_id: 'wf-1',
				workflow_name: 'Groq chat',
				execution_id: 'exec-42',
				node: 'Groq Chat',
				metadata: { answer: 'a' },
			},
			expect.objectContaining({ id: 'answer-b', prompt_tokens: 50, completion_tokens: 6 }),
		]);
		expect(output[1].json).toEqual({
			...items[1],
			ledger: { id: 'answer-b', status: 'duplicate', cost_usd: 0 },
		});
	});

	it('does not name a source node when several nodes feed this one', async () => {
		const completion = groqCompletion({ promptTokens: 1, completionTokens: 1 });
		nock(SERVICE, AUTH)
			.post('/v1/runs', (body: IDataObject) => !('node' in body))
			.reply(201, { id: 'x', status: 'created', cost_usd: 0 });
		await run(
			new FakeExecuteFunctions({ items: [completion], params: logParams(), parents: ['A', 'B'] }),
		);
	});

	it('with Continue On Fail, passes every item on and attaches each failure to its own item', async () => {
		const good = groqCompletion({ promptTokens: 10, completionTokens: 2, requestId: 'req_good' });
		const noUsage = {
			model: 'llama-3.3-70b-versatile',
			answer: 'from a node that reports no usage',
		};
		const rejected = groqCompletion({
			promptTokens: 10,
			completionTokens: 2,
			requestId: 'req_conflict',
		});
		nock(SERVICE, AUTH)
			.post('/v1/runs', (body: IDataObject) => body.id === 'req_good')
			.reply(201, { id: 'req_good', status: 'created', cost_usd: 0.001 })
			.post('/v1/runs', (body: IDataObject) => body.id === 'req_conflict')
			.reply(409, {
				error: {
					code: 'conflict',
					message: "run 'req_conflict' was already logged with different content",
					details: [{ field: 'id', message: 'already used for a different run', type: 'conflict' }],
				},
			});

		const output = await run(
			new FakeExecuteFunctions({
				items: [good, noUsage, rejected],
				params: logParams(),
				continueOnFail: true,
			}),
		);

		expect(output).toHaveLength(3);
		expect(output[0].json.breakeven).toEqual({
			id: 'req_good',
			status: 'created',
			cost_usd: 0.001,
		});
		const noUsageError =
			'Prompt Tokens: the item has no usage.prompt_tokens; set "Prompt Tokens" under Overrides';
		// The top-level `error` is what makes n8n's Retry On Fail try the item again.
		expect(output[1].json).toEqual({
			...noUsage,
			error: noUsageError,
			breakeven: { error: noUsageError },
		});
		expect(output[2].json.answer).toBeUndefined();
		expect(output[2].json.choices).toEqual(rejected.choices);
		expect(output[2].json.breakeven).toEqual({
			error:
				"Breakeven API 409 (conflict): run 'req_conflict' was already logged with different content",
		});
		expect(output.map((item) => item.pairedItem)).toEqual([{ item: 0 }, { item: 1 }, { item: 2 }]);
	});

	it('without Continue On Fail, stops at the first bad item with an error naming field and item', async () => {
		const good = groqCompletion({ promptTokens: 10, completionTokens: 2, requestId: 'req_good' });
		nock(SERVICE, AUTH)
			.post('/v1/runs')
			.reply(201, { id: 'req_good', status: 'created', cost_usd: 0 });

		const error = await failure(
			new FakeExecuteFunctions({
				items: [good, { model: 'm', answer: 'no usage' }, good],
				params: logParams(),
			}),
		);

		expect(error).toBeInstanceOf(NodeOperationError);
		expect(error.message).toContain('Prompt Tokens');
		expect((error as NodeOperationError).context.itemIndex).toBe(1);
	});

	it("reports the service's validation message and status", async () => {
		nock(SERVICE, AUTH)
			.post('/v1/runs')
			.reply(422, {
				error: {
					code: 'validation_error',
					message: 'occurred_at: is more than 5 minutes in the future',
					details: [{ field: 'occurred_at', message: 'is more than 5 minutes in the future' }],
				},
			});
		const completion = groqCompletion({ promptTokens: 1, completionTokens: 1 });
		const error = await failure(
			new FakeExecuteFunctions({
				items: [completion],
				params: logParams({ overrides: { occurredAt: '2099-01-01T00:00:00Z' } }),
			}),
		);
		expect(error).toBeInstanceOf(NodeApiError);
		expect(error.message).toBe(
			'Breakeven API 422 (validation_error): occurred_at: is more than 5 minutes in the future',
		);
		expect((error as NodeApiError).httpCode).toBe('422');
	});

	it('says the service is unreachable without leaking the API key', async () => {
		nock(SERVICE)
			.post('/v1/runs')
			.replyWithError({ code: 'ECONNREFUSED', message: 'connect ECONNREFUSED' });
		const completion = groqCompletion({ promptTokens: 1, completionTokens: 1 });
		const error = await failure(
			new FakeExecuteFunctions({ items: [completion], params: logParams() }),
		);
		expect(error).toBeInstanceOf(NodeApiError);
		expect(error.message).toContain(`Breakeven API unreachable at ${SERVICE}`);
		expect(JSON.stringify(error)).not.toContain(CREDENTIALS.apiKey);
		expect(String(error.stack)).not.toContain(CREDENTIALS.apiKey);
	});

	it('rejects a credential whose Base URL is not a URL, naming the field', async () => {
		const error = await failure(
			new FakeExecuteFunctions({
				items: [groqCompletion({ promptTokens: 1, completionTokens: 1 })],
				params: logParams(),
				credentials: { baseUrl: 'breakeven.local:8000', apiKey: CREDENTIALS.apiKey },
			}),
		);
		expect(error.message).toContain('Base URL');
	});

	it('accepts a Base URL with a trailing slash', async () => {
		nock(SERVICE, AUTH).post('/v1/runs').reply(201, { id: 'x', status: 'created', cost_usd: 0 });
		await run(
			new FakeExecuteFunctions({
				items: [groqCompletion({ promptTokens: 1, completionTokens: 1 })],
				params: logParams(),
				credentials: { baseUrl: `${SERVICE}//`, apiKey: CREDENTIALS.apiKey },
			}),
		);
	});
});

describe('Usage > Get Many', () => {
	const usage = {
		rows: [
			{
				day: '2026-11-25',
				prompts: 3,
				prompt_tokens: 300,
				completion_tokens: 30,
				cached_tokens: 0,
				cost_usd: 0.1,
			},
			{
				day: '2026-11-26',
				prompts: 0,
				prompt_tokens: 0,
				completion_tokens: 0,
				cached_tokens: 0,
				cost_usd: 0,
			},
		],
		totals: {
			prompts: 3,
			prompt_tokens: 300,
			completion_tokens: 30,
			cached_tokens: 0,
			cost_usd: 0.1,
		},
	};

	it('sends grouping and filters as the query and returns one item per row', async () => {
		nock(SERVICE, AUTH)
			.get('/v1/usage')
			.query({
				group_by: 'day',
				start: '2026-11-25',
				end: '2026-11-26',
				model: 'llama-3.3-70b-versatile',
				workflow_id: 'wf-1',
			})
			.reply(200, usage);

		const output = await run(
			new FakeExecuteFunctions({
				items: [{}],
				params: {
					resource: 'usage',
					operation: 'getAll',
					groupBy: 'day',
					output: 'rows',
					filters: {
						start: '2026-11-25T00:00:00',
						end: '2026-11-26',
						model: 'llama-3.3-70b-versatile',
						workflowId: 'wf-1',
						provider: '',
					},
				},
			}),
		);

		expect(output).toEqual(usage.rows.map((row) => ({ json: row, pairedItem: { item: 0 } })));
	});

	it('returns rows and totals in one item when asked', async () => {
		nock(SERVICE, AUTH)
			.get('/v1/usage')
			.query({ group_by: 'model', provider: 'groq' })
			.reply(200, usage);
		const output = await run(
			new FakeExecuteFunctions({
				items: [{}],
				params: {
					resource: 'usage',
					operation: 'getAll',
					groupBy: 'model',
					output: 'report',
					filters: { provider: 'groq' },
				},
			}),
		);
		expect(output).toEqual([{ json: usage, pairedItem: { item: 0 } }]);
	});

	it('rejects a start date that is not a date, naming the filter', async () => {
		const error = await failure(
			new FakeExecuteFunctions({
				items: [{}],
				params: {
					resource: 'usage',
					operation: 'getAll',
					groupBy: 'day',
					output: 'rows',
					filters: { start: 'last week' },
				},
			}),
		);
		expect(error.message).toContain('Start Date');
	});
});

describe('Break-Even > Get Status', () => {
	it('asks for the model and plan and returns the status', async () => {
		const status = { model: 'llama-3.3-70b-versatile', level: 'approaching', daily_prompts: 2800 };
		nock(SERVICE, AUTH)
			.get('/v1/breakeven')
			.query({ model: 'llama-3.3-70b-versatile', plan: 'runpod-a40-70b' })
			.reply(200, status);
		const output = await run(
			new FakeExecuteFunctions({
				items: [{}],
				params: {
					resource: 'breakeven',
					operation: 'getStatus',
					model: 'llama-3.3-70b-versatile',
					plan: 'runpod-a40-70b',
				},
			}),
		);
		expect(output).toEqual([{ json: status, pairedItem: { item: 0 } }]);
	});

	it('returns one item per logged model when no model is given', async () => {
		const models = [
			{ provider: 'groq', model: 'llama-3.3-70b-versatile', level: 'ok' },
			{ provider: 'groq', model: 'llama-3.1-8b-instant', level: 'never' },
		];
		nock(SERVICE, AUTH).get('/v1/breakeven').query({ provider: 'groq' }).reply(200, { models });
		const output = await run(
			new FakeExecuteFunctions({
				items: [{}],
				params: {
					resource: 'breakeven',
					operation: 'getStatus',
					model: '',
					provider: 'groq',
					plan: '',
				},
			}),
		);
		expect(output).toEqual(models.map((json) => ({ json, pairedItem: { item: 0 } })));
	});

	it('turns a 404 into an error output under Continue On Fail', async () => {
		nock(SERVICE, AUTH)
			.get('/v1/breakeven')
			.query({ model: 'unknown' })
			.reply(404, { error: { code: 'not_found', message: 'model: unknown model', details: null } });
		const output = await run(
			new FakeExecuteFunctions({
				items: [{}],
				params: { resource: 'breakeven', operation: 'getStatus', model: 'unknown', plan: '' },
				continueOnFail: true,
			}),
		);
		expect(output).toEqual([
			{
				json: { error: 'Breakeven API 404 (not_found): model: unknown model' },
				pairedItem: { item: 0 },
			},
		]);
	});
});

describe('Break-Even > Calculate', () => {
	it('sends custom prices, workload and GPU plan with the service field names', async () => {
		const result = { verdict: 'breaks_even', breakeven_prompts_per_day: 3172.9 };
		nock(SERVICE, AUTH)
			.post('/v1/breakeven/calc', {
				api: { input_per_m: 0.59, output_per_m: 0.79, cached_input_per_m: 0.295 },
				workload: { prompt_tokens: 5000, completion_tokens: 0, peak_to_average: 2 },
				selfhost: { gpu_hourly: 0.39, requests_per_second: 0.5, max_utilization: 0.8 },
			})
			.reply(200, result);
		const output = await run(
			new FakeExecuteFunctions({
				items: [{}],
				params: {
					resource: 'breakeven',
					operation: 'calculate',
					apiPrices: 'custom',
					inputPerM: 0.59,
					outputPerM: 0.79,
					priceOptions: { cachedInputPerM: 0.295 },
					promptTokens: 5000,
					completionTokens: 0,
					workloadOptions: { peakToAverage: 2 },
					selfHosting: 'custom',
					gpuHourly: 0.39,
					planOptions: { requestsPerSecond: 0.5, maxUtilization: 0.8 },
				},
			}),
		);
		expect(output).toEqual([{ json: result, pairedItem: { item: 0 } }]);
	});

	it('names catalogue prices and a catalogue plan', async () => {
		nock(SERVICE, AUTH)
			.post('/v1/breakeven/calc', {
				api: { provider: 'groq', model: 'llama-3.3-70b-versatile' },
				workload: { prompt_tokens: 1200, completion_tokens: 300, cached_tokens: 200 },
				selfhost: { plan: 'runpod-a40-70b' },
			})
			.reply(200, { verdict: 'never' });
		const output = await run(
			new FakeExecuteFunctions({
				items: [{}],
				params: {
					resource: 'breakeven',
					operation: 'calculate',
					apiPrices: 'catalogue',
					provider: 'groq',
					model: 'llama-3.3-70b-versatile',
					promptTokens: 1200,
					completionTokens: 300,
					workloadOptions: { cachedTokens: 200 },
					selfHosting: 'plan',
					plan: 'runpod-a40-70b',
				},
			}),
		);
		expect(output[0].json).toEqual({ verdict: 'never' });
	});
});
