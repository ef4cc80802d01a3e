import {
	NodeConnectionTypes,
	NodeOperationError,
	type IDataObject,
	type IExecuteFunctions,
	type INodeExecutionData,
	type INodeType,
	type INodeTypeDescription,
} from 'n8n-workflow';

import { breakevenProperties } from './descriptions';
import { nodeError } from '../shared/transport';
import { calculate, getStatus, getUsage, logUsage } from './operations';

function errorMessage(error: unknown): string {
	return error instanceof Error ? error.message : String(error);
}

export class Breakeven implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Breakeven',
		name: 'breakeven',
		icon: { light: 'file:../../icons/breakeven.svg', dark: 'file:../../icons/breakeven.dark.svg' },
		group: ['transform'],
		version: 1,
		subtitle: '={{$parameter["operation"] + ": " + $parameter["resource"]}}',
		description:
			'Log LLM token usage and see when self-hosting the model becomes cheaper than the API',
		defaults: {
			name: 'Breakeven',
		},
		usableAsTool: true,
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main],
		credentials: [
			{
				name: 'breakevenApi',
				required: true,
			},
		],
		properties: breakevenProperties,
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		const items = this.getInputData();
		const resource = this.getNodeParameter('resource', 0) as string;
		const operation = this.getNodeParameter('operation', 0) as string;
		const returnData: INodeExecutionData[] = [];

		for (let itemIndex = 0; itemIndex < items.length; itemIndex++) {
			const pairedItem = { item: itemIndex };
			if (resource === 'usage' && operation === 'log') {
				const options = this.getNodeParameter('options', itemIndex, {}) as IDataObject;
				const resultField =
					typeof options.resultField === 'string' && options.resultField.trim() !== ''
						? options.resultField.trim()
						: 'breakeven';
				try {
					const answer = await logUsage.call(this, itemIndex, items[itemIndex]);
					returnData.push({
						json: { ...items[itemIndex].json, [resultField]: answer },
						pairedItem,
					});
				} catch (error) {
					// The item still passes on: a ledger outage must not stop the answer the workflow exists for.
					if (this.continueOnFail()) {
						returnData.push({
							// n8n retries a node (Retry On Fail) only when the item carries a top-level `error`.
							json: {
								...items[itemIndex].json,
								error: errorMessage(error),
								[resultField]: { error: errorMessage(error) },
							},
							pairedItem,
						});
						continue;
					}
					throw nodeError(this.getNode(), error, itemIndex);
				}
				continue;
			}

			try {
				if (resource === 'usage' && operation === 'getAll') {
					for (const row of await getUsage.call(this, itemIndex)) {
						returnData.push({ json: row, pairedItem });
					}
				} else if (resource === 'breakeven' && operation === 'getStatus') {
					for (const status of await getStatus.call(this, itemIndex)) {
						returnData.push({ json: status, pairedItem });
					}
				} else if (resource === 'breakeven' && operation === 'calculate') {
					returnData.push({ json: await calculate.call(this, itemIndex), pairedItem });
				} else {
					throw new NodeOperationError(
						this.getNode(),
						`Operation "${operation}" of resource "${resource}" is not supported`,
						{ itemIndex },
					);
				}
			} catch (error) {
				if (this.continueOnFail()) {
					returnData.push({ json: { error: errorMessage(error) }, pairedItem });
					continue;
				}
				throw nodeError(this.getNode(), error, itemIndex);
			}
		}
		return [returnData];
	}
}
