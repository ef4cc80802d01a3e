import type { IDataObject, IExecuteFunctions, INodeExecutionData } from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';

import { breakevenApiRequest, nodeError } from '../shared/transport';
import { RunFieldError, runFromItem, type RunOverrides } from './runFromItem';

/** The node feeding this one, named in the ledger as the caller of the model. */
function sourceNodeName(this: IExecuteFunctions): string | undefined {
	const self = this.getNode().name;
	const parents = this.getParentNodes(self, { depth: 1 });
	// With several inputs merged there is no single model call to name; leave it to an override.
	return parents.length === 1 ? parents[0].name : undefined;
}

function optionalText(value: unknown): string | undefined {
	return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

/** Usage > Log: one `POST /v1/runs` per item; the item passes through with the ledger's answer attached. */
export async function logUsage(
	this: IExecuteFunctions,
	itemIndex: number,
	item: INodeExecutionData,
) {
	const responseField = this.getNodeParameter('responseField', itemIndex, '') as string;
	const overrides = this.getNodeParameter('overrides', itemIndex, {}) as RunOverrides;
	const workflow = this.getWorkflow();
	let run;
	try {
		run = runFromItem(item.json, responseField, overrides, {
			workflowId: optionalText(workflow.id),
			workflowName: optionalText(workflow.name),
			executionId: optionalText(this.getExecutionId()),
			sourceNode: sourceNodeName.call(this),
			loggerNode: this.getNode().name,
			itemIndex,
		});
	} catch (error) {
		if (error instanceof RunFieldError) {
			throw new NodeOperationError(this.getNode(), error.message, { itemIndex });
		}
		throw nodeError(this.getNode(), error, itemIndex);
	}
	const response = await breakevenApiRequest.call(this, {
		method: 'POST',
		path: '/v1/runs',
		body: run as unknown as IDataObject,
		itemIndex,
	});
	return response.body as IDataObject;
}

/** Dates for the service are calendar days: n8n's date picker hands over a date-time string. */
function day(
	this: IExecuteFunctions,
	field: string,
	value: unknown,
	itemIndex: number,
): string | undefined {
	if (value === undefined || value === null || value === '') return undefined;
	let textValue: unknown = value;
	if (value instanceof Date) textValue = value.toISOString();
	else if (
		typeof value === 'object' &&
		typeof (value as { toISO?: unknown }).toISO === 'function'
	) {
		textValue = (value as { toISO: () => string | null }).toISO();
	}
	const match =
		typeof textValue === 'string' ? /^(\d{4}-\d{2}-\d{2})(T|$)/.exec(textValue.trim()) : null;
	if (!match) {
		throw new NodeOperationError(
			this.getNode(),
			`${field}: must be a date such as 2026-11-26 (got ${JSON.stringify(value)})`,
			{ itemIndex },
		);
	}
	return match[1];
}

/** Usage > Get Many: `GET /v1/usage` with the chosen grouping and filters. */
export async function getUsage(this: IExecuteFunctions, itemIndex: number): Promise<IDataObject[]> {
	const groupBy = this.getNodeParameter('groupBy', itemIndex, 'day') as string;
	const output = this.getNodeParameter('output', itemIndex, 'rows') as string;
	const filters = this.getNodeParameter('filters', itemIndex, {}) as IDataObject;
	const qs: IDataObject = { group_by: groupBy };
	const start = day.call(this, 'Start Date', filters.start, itemIndex);
	const end = day.call(this, 'End Date', filters.end, itemIndex);
	if (start) qs.start = start;
	if (end) qs.end = end;
	for (const [param, key] of [
		['model', 'model'],
		['provider', 'provider'],
		['workflowId', 'workflow_id'],
	] as const) {
		const value = optionalText(filters[param]);
		if (value) qs[key] = value;
	}
	const response = await breakevenApiRequest.call(this, {
		method: 'GET',
		path: '/v1/usage',
		qs,
		itemIndex,
	});
	const body = response.body as IDataObject;
	if (output === 'report') return [body];
	return Array.isArray(body.rows) ? (body.rows as IDataObject[]) : [];
}

/** Break-Even > Get Status: `GET /v1/breakeven` for one model, or for every model with logged runs. */
export async function getStatus(
	this: IExecuteFunctions,
	itemIndex: number,
): Promise<IDataObject[]> {
	const qs: IDataObject = {};
	const model = optionalText(this.getNodeParameter('model', itemIndex, ''));
	const provider = optionalText(this.getNodeParameter('provider', itemIndex, ''));
	const plan = optionalText(this.getNodeParameter('plan', itemIndex, ''));
	if (model) qs.model = model;
	if (provider) qs.provider = provider;
	if (plan) qs.plan = plan;
	const response = await breakevenApiRequest.call(this, {
		method: 'GET',
		path: '/v1/breakeven',
		qs,
		itemIndex,
	});
	const body = response.body as IDataObject;
	if (!model && Array.isArray(body.models)) return body.models as IDataObject[];
	return [body];
}

function numberParam(this: IExecuteFunctions, name: string, itemIndex: number): number {
	return this.getNodeParameter(name, itemIndex) as number;
}

/** The body of `POST /v1/breakeven/calc`, with the section-1 input names of the service. */
export function calculationRequest(this: IExecuteFunctions, itemIndex: number): IDataObject {
	const api: IDataObject = {};
	if (this.getNodeParameter('apiPrices', itemIndex) === 'catalogue') {
		const model = optionalText(this.getNodeParameter('model', itemIndex, ''));
		if (!model) throw new NodeOperationError(this.getNode(), 'Model: is required', { itemIndex });
		api.provider = optionalText(this.getNodeParameter('provider', itemIndex, '')) ?? 'groq';
		api.model = model;
	} else {
		api.input_per_m = numberParam.call(this, 'inputPerM', itemIndex);
		api.output_per_m = numberParam.call(this, 'outputPerM', itemIndex);
		const priceOptions = this.getNodeParameter('priceOptions', itemIndex, {}) as IDataObject;
		if (priceOptions.cachedInputPerM !== undefined)
			api.cached_input_per_m = priceOptions.cachedInputPerM;
		if (priceOptions.batchDiscount !== undefined) api.batch_discount = priceOptions.batchDiscount;
	}

	const workload: IDataObject = {
		prompt_tokens: numberParam.call(this, 'promptTokens', itemIndex),
		completion_tokens: numberParam.call(this, 'completionTokens', itemIndex),
	};
	const workloadOptions = this.getNodeParameter('workloadOptions', itemIndex, {}) as IDataObject;
	if (workloadOptions.cachedTokens !== undefined)
		workload.cached_tokens = workloadOptions.cachedTokens;
	if (workloadOptions.peakToAverage !== undefined)
		workload.peak_to_average = workloadOptions.peakToAverage;

	const selfhost: IDataObject = {};
	if (this.getNodeParameter('selfHosting', itemIndex) === 'plan') {
		const plan = optionalText(this.getNodeParameter('plan', itemIndex, ''));
		if (!plan) throw new NodeOperationError(this.getNode(), 'Plan: is required', { itemIndex });
		selfhost.plan = plan;
	} else {
		selfhost.gpu_hourly = numberParam.call(this, 'gpuHourly', itemIndex);
		const planOptions = this.getNodeParameter('planOptions', itemIndex, {}) as IDataObject;
		for (const [param, key] of [
			['gpusPerReplica', 'gpus_per_replica'],
			['requestsPerSecond', 'requests_per_second'],
			['maxUtilization', 'max_utilization'],
			['opsPerDay', 'ops_per_day'],
		] as const) {
			if (planOptions[param] !== undefined) selfhost[key] = planOptions[param];
		}
	}
	return { api, workload, selfhost };
}

/** Break-Even > Calculate: `POST /v1/breakeven/calc`, a what-if that touches no stored data. */
export async function calculate(this: IExecuteFunctions, itemIndex: number): Promise<IDataObject> {
	const response = await breakevenApiRequest.call(this, {
		method: 'POST',
		path: '/v1/breakeven/calc',
		body: calculationRequest.call(this, itemIndex),
		itemIndex,
	});
	return response.body as IDataObject;
}
