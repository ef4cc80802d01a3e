import {
	NodeConnectionTypes,
	NodeOperationError,
	type IDataObject,
	type IHookFunctions,
	type INodeType,
	type INodeTypeDescription,
	type IWebhookFunctions,
	type IWebhookResponseData,
} from 'n8n-workflow';

import { breakevenApiRequest } from '../shared/transport';
import { pickHeaders, verify } from './standardWebhooks';

export const EVENT_TYPES = [
	'breakeven.approaching',
	'breakeven.reached',
	'breakeven.receded',
	'freetier.approaching',
	'test',
] as const;

/** What n8n's webhook server attaches to the request: the body bytes exactly as they arrived. */
interface RawBodyRequest {
	rawBody?: Buffer | string;
	readRawBody?: () => Promise<void>;
}

interface Subscription {
	id?: unknown;
	url?: unknown;
	events?: unknown;
	enabled?: unknown;
}

function selectedEvents(this: IHookFunctions): string[] {
	const events = this.getNodeParameter('events', []) as string[];
	if (!Array.isArray(events) || events.length === 0) {
		throw new NodeOperationError(this.getNode(), 'Events: choose at least one event type');
	}
	return [...events].sort();
}

function sameEvents(a: unknown, b: string[]): boolean {
	if (!Array.isArray(a) || a.length !== b.length) return false;
	const sorted = a.map(String).sort();
	return sorted.every((event, index) => event === b[index]);
}

function forget(staticData: IDataObject): void {
	delete staticData.subscriptionId;
	delete staticData.secret;
}

export class BreakevenTrigger implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Breakeven Trigger',
		name: 'breakevenTrigger',
		icon: { light: 'file:../../icons/breakeven.svg', dark: 'file:../../icons/breakeven.dark.svg' },
		group: ['trigger'],
		version: 1,
		subtitle: '={{$parameter["events"].join(", ")}}',
		description:
			'Starts the workflow on a signed Breakeven alert, such as a model approaching its break-even',
		defaults: {
			name: 'Breakeven Trigger',
		},
		inputs: [],
		outputs: [NodeConnectionTypes.Main],
		credentials: [
			{
				name: 'breakevenApi',
				required: true,
			},
		],
		webhooks: [
			{
				name: 'default',
				httpMethod: 'POST',
				responseMode: 'onReceived',
				path: 'webhook',
			},
		],
		properties: [
			{
				displayName: 'Events',
				name: 'events',
				type: 'multiOptions',
				required: true,
				options: [
					{
						name: 'Break-Even Approaching',
						value: 'breakeven.approaching',
						description: 'Daily prompts near the break-even, or forecast to reach it soon',
					},
					{
						name: 'Break-Even Reached',
						value: 'breakeven.reached',
						description: 'Self-hosting the model is now cheaper than the API',
					},
					{
						name: 'Break-Even Receded',
						value: 'breakeven.receded',
						description: 'Volume fell back after an alert',
					},
					{
						name: 'Free Tier Approaching',
						value: 'freetier.approaching',
						description: "Today's requests or tokens passed 80% of the model's free-tier limit",
					},
					{
						name: 'Test',
						value: 'test',
						description: 'Sent on demand to check the connection',
					},
				],
				default: [...EVENT_TYPES],
			},
			{
				displayName: 'Options',
				name: 'options',
				type: 'collection',
				placeholder: 'Add Option',
				default: {},
				options: [
					{
						displayName: 'Subscription Description',
						name: 'description',
						type: 'string',
						default: '',
						description:
							'Label of the subscription in the service. Default: the workflow and node names.',
					},
				],
			},
		],
	};

	webhookMethods = {
		default: {
			async checkExists(this: IHookFunctions): Promise<boolean> {
				const staticData = this.getWorkflowStaticData('node');
				const id = staticData.subscriptionId;
				if (typeof id !== 'string' || id === '') return false;

				const response = await breakevenApiRequest.call(this, {
					method: 'GET',
					path: '/v1/webhooks',
				});
				const list = (response.body as { webhooks?: unknown }).webhooks;
				const found = (Array.isArray(list) ? (list as Subscription[]) : []).find(
					(subscription) => String(subscription.id) === id,
				);
				if (!found) {
					// Deleted on the service side: forget it so create() subscribes again.
					forget(staticData);
					return false;
				}
				const current =
					found.enabled !== false &&
					found.url === this.getNodeWebhookUrl('default') &&
					sameEvents(found.events, selectedEvents.call(this)) &&
					typeof staticData.secret === 'string' &&
					staticData.secret !== '';
				if (current) return true;

				// Stale (disabled, other URL or events, or its secret lost): replace it so deliveries resume and verify.
				await breakevenApiRequest.call(this, {
					method: 'DELETE',
					path: `/v1/webhooks/${encodeURIComponent(id)}`,
					acceptStatus: [404],
				});
				forget(staticData);
				return false;
			},

			async create(this: IHookFunctions): Promise<boolean> {
				const url = this.getNodeWebhookUrl('default');
				if (!url) {
					throw new NodeOperationError(this.getNode(), 'n8n gave this trigger no webhook URL');
				}
				const options = this.getNodeParameter('options', {}) as IDataObject;
				const workflow = this.getWorkflow();
				const description =
					typeof options.description === 'string' && options.description.trim() !== ''
						? options.description.trim()
						: `n8n: ${workflow.name ?? workflow.id ?? 'workflow'} / ${this.getNode().name}`;
				const response = await breakevenApiRequest.call(this, {
					method: 'POST',
					path: '/v1/webhooks',
					body: {
						url,
						events: selectedEvents.call(this),
						format: 'standard',
						description: description.slice(0, 200),
					},
				});
				const body = response.body as { id?: unknown; secret?: unknown };
				if (
					body.id === undefined ||
					body.id === null ||
					typeof body.secret !== 'string' ||
					!body.secret
				) {
					throw new NodeOperationError(
						this.getNode(),
						'The Breakeven service answered POST /v1/webhooks without an id and secret',
					);
				}
				const staticData = this.getWorkflowStaticData('node');
				staticData.subscriptionId = String(body.id);
				staticData.secret = body.secret;
				return true;
			},

			async delete(this: IHookFunctions): Promise<boolean> {
				const staticData = this.getWorkflowStaticData('node');
				const id = staticData.subscriptionId;
				if (typeof id === 'string' && id !== '') {
					try {
						await breakevenApiRequest.call(this, {
							method: 'DELETE',
							path: `/v1/webhooks/${encodeURIComponent(id)}`,
							acceptStatus: [404],
						});
					} catch (error) {
						// Keep the id: the next activation's checkExists() finds the subscription and replaces it.
						this.logger.warn(
							`Breakeven Trigger could not delete subscription ${id}: ${(error as Error).message}`,
						);
						return false;
					}
				}
				forget(staticData);
				return true;
			},
		},
	};

	async webhook(this: IWebhookFunctions): Promise<IWebhookResponseData> {
		const response = this.getResponseObject();
		const reject = (status: number, code: string, message: string): IWebhookResponseData => {
			this.logger.warn(`Breakeven Trigger rejected a call: ${message}`);
			response.status(status).json({ error: { code, message } });
			return { noWebhookResponse: true };
		};

		const secret = this.getWorkflowStaticData('node').secret;
		if (typeof secret !== 'string' || secret === '') {
			return reject(
				401,
				'not_subscribed',
				'no subscription secret stored: reactivate the workflow',
			);
		}

		const request = this.getRequestObject() as unknown as RawBodyRequest;
		if (request.rawBody === undefined && typeof request.readRawBody === 'function') {
			await request.readRawBody();
		}
		const raw = request.rawBody;
		if (raw === undefined) {
			return reject(401, 'invalid_signature', 'request body unavailable for verification');
		}

		const result = verify(secret, pickHeaders(this.getHeaderData()), raw);
		if (!result.valid) return reject(401, 'invalid_signature', result.reason);

		let alert: unknown;
		try {
			alert = JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8'));
		} catch {
			alert = undefined;
		}
		if (alert === null || typeof alert !== 'object' || Array.isArray(alert) || !('type' in alert)) {
			return reject(400, 'invalid_body', 'body is not a Standard Webhooks JSON object with a type');
		}
		const { type, timestamp, data } = alert as IDataObject;
		return {
			workflowData: [
				this.helpers.returnJsonArray([
					{ webhookId: result.webhookId, type, timestamp, data: data ?? null },
				]),
			],
		};
	}
}
