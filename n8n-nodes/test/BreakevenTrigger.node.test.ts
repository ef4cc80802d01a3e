import { randomBytes } from 'crypto';
import nock from 'nock';
import type { IDataObject } from 'n8n-workflow';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { BreakevenTrigger, EVENT_TYPES } from '../nodes/BreakevenTrigger/BreakevenTrigger.node';
import { sign } from '../nodes/BreakevenTrigger/standardWebhooks';
import { CREDENTIALS, FakeHookFunctions, FakeWebhookFunctions } from './fakes';

const SERVICE = CREDENTIALS.baseUrl;
const AUTH = { reqheaders: { authorization: `Bearer ${CREDENTIALS.apiKey}` } };
const WEBHOOK_URL = 'http://127.0.0.1:5678/webhook/0d6f3c1e-8b7a-4a55-9a51-2f0c8f6f3a10/webhook';
const ALL_EVENTS = [...EVENT_TYPES].sort();

const newSecret = () => `whsec_${randomBytes(24).toString('base64')}`;

beforeAll(() => nock.disableNetConnect());
afterAll(() => nock.enableNetConnect());
afterEach(() => {
	const pending = nock.pendingMocks();
	nock.cleanAll();
	expect(pending).toEqual([]);
});

const methods = new BreakevenTrigger().webhookMethods.default;

function hook(
	staticData: IDataObject = {},
	events: string[] = [...EVENT_TYPES],
	webhookUrl = WEBHOOK_URL,
) {
	return new FakeHookFunctions({ webhookUrl, staticData, params: { events, options: {} } });
}

function listing(...subscriptions: IDataObject[]) {
	return { webhooks: subscriptions };
}

describe('subscription lifecycle', () => {
	it('subscribes the production URL to the chosen events and keeps id and secret', async () => {
		const secret = newSecret();
		nock(SERVICE, AUTH)
			.post('/v1/webhooks', {
				url: WEBHOOK_URL,
				events: ['breakeven.reached', 'freetier.approaching'],
				format: 'standard',
				description: 'n8n: Groq chat / Breakeven Trigger',
			})
			.reply(201, {
				id: 'wh_1',
				secret,
				url: WEBHOOK_URL,
				events: ['breakeven.reached', 'freetier.approaching'],
			});
		const fake = hook({}, ['freetier.approaching', 'breakeven.reached']);

		expect(await methods.create.call(fake.asContext())).toBe(true);
		expect(fake.staticData).toEqual({ subscriptionId: 'wh_1', secret });
	});

	it('refuses to activate with no event chosen', async () => {
		const fake = hook({}, []);
		await expect(methods.create.call(fake.asContext())).rejects.toThrow(
			'Events: choose at least one',
		);
	});

	it('surfaces the service refusing the URL', async () => {
		nock(SERVICE, AUTH)
			.post('/v1/webhooks')
			.reply(422, {
				error: {
					code: 'validation_error',
					message: 'url: points at a loopback address',
					details: null,
				},
			});
		const fake = hook();
		await expect(methods.create.call(fake.asContext())).rejects.toThrow(
			'Breakeven API 422 (validation_error): url: points at a loopback address',
		);
		expect(fake.staticData).toEqual({});
	});

	it('reports no subscription without asking the service when nothing is stored', async () => {
		expect(await methods.checkExists.call(hook().asContext())).toBe(false);
	});

	it('finds its live subscription', async () => {
		nock(SERVICE, AUTH)
			.get('/v1/webhooks')
			.reply(
				200,
				listing(
					{ id: 'wh_other', url: 'https://elsewhere.test/hook', events: ALL_EVENTS },
					{ id: 'wh_1', url: WEBHOOK_URL, events: [...ALL_EVENTS].reverse(), format: 'standard' },
				),
			);
		const fake = hook({ subscriptionId: 'wh_1', secret: newSecret() });
		expect(await methods.checkExists.call(fake.asContext())).toBe(true);
		expect(fake.staticData.subscriptionId).toBe('wh_1');
	});

	it('forgets a subscription that vanished from the service', async () => {
		nock(SERVICE, AUTH).get('/v1/webhooks').reply(200, listing());
		const fake = hook({ subscriptionId: 'wh_1', secret: newSecret() });
		expect(await methods.checkExists.call(fake.asContext())).toBe(false);
		expect(fake.staticData).toEqual({});
	});

	it('replaces a subscription whose URL or events no longer match', async () => {
		nock(SERVICE, AUTH)
			.get('/v1/webhooks')
			.reply(200, listing({ id: 'wh_1', url: WEBHOOK_URL, events: ['breakeven.reached'] }))
			.delete('/v1/webhooks/wh_1')
			.reply(204);
		const fake = hook({ subscriptionId: 'wh_1', secret: newSecret() });
		expect(await methods.checkExists.call(fake.asContext())).toBe(false);
		expect(fake.staticData).toEqual({});

		nock(SERVICE, AUTH)
			.get('/v1/webhooks')
			.reply(
				200,
				listing({ id: 'wh_2', url: 'http://old-host:5678/webhook/x/webhook', events: ALL_EVENTS }),
			)
			.delete('/v1/webhooks/wh_2')
			.reply(404, { error: { code: 'not_found', message: 'no such webhook', details: null } });
		const moved = hook({ subscriptionId: 'wh_2', secret: newSecret() });
		expect(await methods.checkExists.call(moved.asContext())).toBe(false);
		expect(moved.staticData).toEqual({});
	});

	it('replaces a subscription the service disabled', async () => {
		nock(SERVICE, AUTH)
			.get('/v1/webhooks')
			.reply(
				200,
				listing({
					id: 'wh_1',
					url: WEBHOOK_URL,
					events: ALL_EVENTS,
					enabled: false,
					disabled_reason: '410',
				}),
			)
			.delete('/v1/webhooks/wh_1')
			.reply(204);
		const fake = hook({ subscriptionId: 'wh_1', secret: newSecret() });
		expect(await methods.checkExists.call(fake.asContext())).toBe(false);
		expect(fake.staticData).toEqual({});
	});

	it('replaces a subscription whose secret was lost', async () => {
		nock(SERVICE, AUTH)
			.get('/v1/webhooks')
			.reply(200, listing({ id: 'wh_1', url: WEBHOOK_URL, events: ALL_EVENTS }))
			.delete('/v1/webhooks/wh_1')
			.reply(204);
		const fake = hook({ subscriptionId: 'wh_1' });
		expect(await methods.checkExists.call(fake.asContext())).toBe(false);
	});

	it('unsubscribes on deactivation, and treats an already deleted subscription as done', async () => {
		nock(SERVICE, AUTH).delete('/v1/webhooks/wh_1').reply(204);
		const fake = hook({ subscriptionId: 'wh_1', secret: newSecret() });
		expect(await methods.delete.call(fake.asContext())).toBe(true);
		expect(fake.staticData).toEqual({});

		nock(SERVICE, AUTH)
			.delete('/v1/webhooks/wh_9')
			.reply(404, { error: { code: 'not_found', message: 'no such webhook', details: null } });
		const gone = hook({ subscriptionId: 'wh_9', secret: newSecret() });
		expect(await methods.delete.call(gone.asContext())).toBe(true);
		expect(gone.staticData).toEqual({});
	});

	it('keeps the subscription id and logs, without the secret, when the service cannot delete it', async () => {
		const secret = newSecret();
		nock(SERVICE, AUTH)
			.delete('/v1/webhooks/wh_1')
			.reply(503, { error: { code: 'unavailable', message: 'database is down', details: null } });
		const fake = hook({ subscriptionId: 'wh_1', secret });
		expect(await methods.delete.call(fake.asContext())).toBe(false);
		expect(fake.staticData).toEqual({ subscriptionId: 'wh_1', secret });
		expect(fake.logger.lines).toEqual([
			'warn: Breakeven Trigger could not delete subscription wh_1: Breakeven API 503 (unavailable): database is down',
		]);
		expect(fake.logger.lines.join('\n')).not.toContain(secret);
	});

	it('subscribes, unsubscribes and re-subscribes after the subscription vanished, as n8n drives it', async () => {
		const first = newSecret();
		const second = newSecret();
		const fake = hook();
		const activate = async () => {
			if (!(await methods.checkExists.call(fake.asContext())))
				await methods.create.call(fake.asContext());
		};

		nock(SERVICE, AUTH)
			.post('/v1/webhooks', (body: IDataObject) => body.url === WEBHOOK_URL)
			.reply(201, { id: 'wh_1', secret: first });
		await activate();
		expect(fake.staticData).toEqual({ subscriptionId: 'wh_1', secret: first });

		// n8n restarts: the subscription is still there, nothing changes.
		nock(SERVICE, AUTH)
			.get('/v1/webhooks')
			.reply(200, listing({ id: 'wh_1', url: WEBHOOK_URL, events: ALL_EVENTS }));
		await activate();
		expect(fake.staticData).toEqual({ subscriptionId: 'wh_1', secret: first });

		// Someone deleted it in the service: the next activation subscribes again with a fresh secret.
		nock(SERVICE, AUTH)
			.get('/v1/webhooks')
			.reply(200, listing())
			.post('/v1/webhooks')
			.reply(201, { id: 'wh_2', secret: second });
		await activate();
		expect(fake.staticData).toEqual({ subscriptionId: 'wh_2', secret: second });

		nock(SERVICE, AUTH).delete('/v1/webhooks/wh_2').reply(204);
		expect(await methods.delete.call(fake.asContext())).toBe(true);
		expect(fake.staticData).toEqual({});
	});
});

describe('receiving alerts', () => {
	const secret = newSecret();
	const body = Buffer.from(
		'{"type": "breakeven.reached", "timestamp": "2026-11-26T08:00:00Z", ' +
			'"data": {"model": "llama-3.3-70b-versatile", "level": "reached", "daily_prompts": 3301.5, ' +
			'"message": "llama-3.3-70b-versatile passed its break-even of 3,173 prompts/day"}}',
	);
	const now = () => Math.floor(Date.now() / 1000);

	function deliver(
		raw: Buffer | undefined,
		headers: Record<string, string>,
		staticData: IDataObject = { subscriptionId: 'wh_1', secret },
	) {
		// What n8n's body parser would make of it: same data, other key order, so only the raw bytes verify.
		const parsedBody = raw ? (JSON.parse(raw.toString()) as IDataObject) : {};
		return new FakeWebhookFunctions({
			headers,
			rawBody: raw,
			parsedBody: { data: parsedBody.data, type: parsedBody.type },
			staticData,
		});
	}

	function signed(raw: Buffer, key = secret, sentAt = now(), id = 'msg_31ab') {
		return {
			'Webhook-Id': id,
			'Webhook-Timestamp': String(sentAt),
			'Webhook-Signature': sign(key, id, sentAt, raw),
			'Content-Type': 'application/json',
		};
	}

	it('starts the workflow with the verified alert', async () => {
		const fake = deliver(body, signed(body));
		const result = await new BreakevenTrigger().webhook.call(fake.asContext());
		expect(result).toEqual({
			workflowData: [
				[
					{
						json: {
							webhookId: 'msg_31ab',
							type: 'breakeven.reached',
							timestamp: '2026-11-26T08:00:00Z',
							data: JSON.parse(body.toString()).data,
						},
					},
				],
			],
		});
		expect(fake.response.body).toBeUndefined();
	});

	it('accepts the header of a sender signing with two secrets', async () => {
		const sentAt = now();
		const headers = signed(body, secret, sentAt);
		headers['Webhook-Signature'] =
			`${sign(newSecret(), 'msg_31ab', sentAt, body)} ${headers['Webhook-Signature']}`;
		const result = await new BreakevenTrigger().webhook.call(deliver(body, headers).asContext());
		expect(result.workflowData).toHaveLength(1);
	});

	const rejections: Array<[string, () => FakeWebhookFunctions, string]> = [
		[
			'a tampered body',
			() => deliver(Buffer.from(body.toString().replace('3301.5', '9999.5')), signed(body)),
			'no matching signature',
		],
		['a forged signature', () => deliver(body, signed(body, newSecret())), 'no matching signature'],
		[
			'a stale timestamp',
			() => deliver(body, signed(body, secret, now() - 301)),
			'webhook-timestamp is too old',
		],
		[
			'a future timestamp',
			() => deliver(body, signed(body, secret, now() + 301)),
			'webhook-timestamp is too far in the future',
		],
		[
			'no signature header',
			() => deliver(body, { 'Webhook-Id': 'msg_1', 'Webhook-Timestamp': String(now()) }),
			'missing webhook-signature header',
		],
		[
			'no stored secret',
			() => deliver(body, signed(body), {}),
			'no subscription secret stored: reactivate the workflow',
		],
		[
			'no raw body',
			() => deliver(undefined, signed(body)),
			'request body unavailable for verification',
		],
	];

	it.each(rejections)('answers 401 and starts nothing for %s', async (_label, make, reason) => {
		const fake = make();
		const result = await new BreakevenTrigger().webhook.call(fake.asContext());
		expect(result).toEqual({ noWebhookResponse: true });
		expect(fake.response.statusCode).toBe(401);
		expect(fake.response.body).toEqual({
			error: {
				code: reason.startsWith('no subscription') ? 'not_subscribed' : 'invalid_signature',
				message: reason,
			},
		});
		expect(fake.logger.lines).toEqual([`warn: Breakeven Trigger rejected a call: ${reason}`]);
		expect(fake.logger.lines.join('\n')).not.toContain(secret.slice('whsec_'.length));
	});

	it('answers 400 to a correctly signed body that is not an alert', async () => {
		const notJson = Buffer.from('type=breakeven.reached');
		const fake = deliver(undefined, signed(notJson));
		(fake as unknown as { getRequestObject: () => { rawBody: Buffer } }).getRequestObject = () => ({
			rawBody: notJson,
		});
		const result = await new BreakevenTrigger().webhook.call(fake.asContext());
		expect(result).toEqual({ noWebhookResponse: true });
		expect(fake.response.statusCode).toBe(400);
	});
});
