import type { INodeProperties } from 'n8n-workflow';

const showFor = (resource: string, operation: string) => ({
	show: { resource: [resource], operation: [operation] },
});

export const resourceProperty: INodeProperties = {
	displayName: 'Resource',
	name: 'resource',
	type: 'options',
	noDataExpression: true,
	options: [
		{ name: 'Break-Even', value: 'breakeven' },
		{ name: 'Usage', value: 'usage' },
	],
	default: 'usage',
};

export const usageOperations: INodeProperties = {
	displayName: 'Operation',
	name: 'operation',
	type: 'options',
	noDataExpression: true,
	displayOptions: { show: { resource: ['usage'] } },
	options: [
		{
			name: 'Get Many',
			value: 'getAll',
			description: 'Get token and cost totals by day, model or workflow',
			action: 'Get usage',
		},
		{
			name: 'Log',
			value: 'log',
			description: "Record the LLM usage of each incoming item's chat completion in the ledger",
			action: 'Log LLM usage',
		},
	],
	default: 'log',
};

export const breakevenOperations: INodeProperties = {
	displayName: 'Operation',
	name: 'operation',
	type: 'options',
	noDataExpression: true,
	displayOptions: { show: { resource: ['breakeven'] } },
	options: [
		{
			name: 'Calculate',
			value: 'calculate',
			description:
				'Work out the break-even for prices, a workload and a self-hosting plan you give',
			action: 'Calculate a break even',
		},
		{
			name: 'Get Status',
			value: 'getStatus',
			description: "Get a model's live break-even status from the ledger",
			action: 'Get break even status',
		},
	],
	default: 'getStatus',
};

const logFields: INodeProperties[] = [
	{
		displayName: 'Response Field',
		name: 'responseField',
		type: 'string',
		default: '',
		placeholder: 'e.g. data',
		description:
			'Dot path to the OpenAI-compatible chat completion on the item. Leave empty when the item is the completion itself, as the HTTP Request node outputs it.',
		displayOptions: showFor('usage', 'log'),
	},
	{
		displayName: 'Overrides',
		name: 'overrides',
		type: 'collection',
		placeholder: 'Add Override',
		default: {},
		description: 'Values that replace what is read from the item or the workflow',
		displayOptions: showFor('usage', 'log'),
		options: [
			{
				displayName: 'Cached Tokens',
				name: 'cachedTokens',
				type: 'number',
				typeOptions: { minValue: 0 },
				default: 0,
				description:
					'Input tokens served from cache. Default: usage.prompt_tokens_details.cached_tokens.',
			},
			{
				displayName: 'Completion Tokens',
				name: 'completionTokens',
				type: 'number',
				typeOptions: { minValue: 0 },
				default: 0,
				description: 'Default: usage.completion_tokens',
			},
			{
				displayName: 'Execution ID',
				name: 'executionId',
				type: 'string',
				default: '',
				description: 'Default: the ID of this execution',
			},
			{
				displayName: 'Latency (Ms)',
				name: 'latencyMs',
				type: 'number',
				typeOptions: { minValue: 0 },
				default: 0,
				description: 'Default: usage.total_time converted to milliseconds, when present',
			},
			{
				displayName: 'Metadata',
				name: 'metadata',
				type: 'json',
				default: '{}',
				description:
					'A JSON object of at most 4 KB stored with the run. Never put prompt or completion text here.',
			},
			{
				displayName: 'Model',
				name: 'model',
				type: 'string',
				default: '',
				placeholder: 'e.g. llama-3.3-70b-versatile',
				description: 'Default: the model field of the completion',
			},
			{
				displayName: 'Node',
				name: 'node',
				type: 'string',
				default: '',
				description:
					'Name of the node that called the model. Default: the node connected to this one.',
			},
			{
				displayName: 'Occurred At',
				name: 'occurredAt',
				type: 'dateTime',
				default: '',
				description:
					'When the call happened, with a UTC offset. Default: when the service receives it.',
			},
			{
				displayName: 'Prompt Tokens',
				name: 'promptTokens',
				type: 'number',
				typeOptions: { minValue: 0 },
				default: 0,
				description: 'All input tokens, cached ones included. Default: usage.prompt_tokens.',
			},
			{
				displayName: 'Provider',
				name: 'provider',
				type: 'string',
				default: '',
				placeholder: 'e.g. groq',
				description: 'Provider whose prices apply. Default: the service default, groq.',
			},
			{
				displayName: 'Run ID',
				name: 'runId',
				type: 'string',
				default: '',
				description:
					"Idempotency key: logging the same ID twice records one run. Default: Groq's request ID (x_groq), else the completion ID, else the execution ID, node name and item index.",
			},
			{
				displayName: 'Status',
				name: 'status',
				type: 'options',
				options: [
					{ name: 'Error', value: 'error' },
					{ name: 'Success', value: 'success' },
				],
				default: 'success',
				description: 'Whether the model call succeeded',
			},
			{
				displayName: 'Workflow ID',
				name: 'workflowId',
				type: 'string',
				default: '',
				description: 'Default: the ID of this workflow',
			},
			{
				displayName: 'Workflow Name',
				name: 'workflowName',
				type: 'string',
				default: '',
				description: 'Default: the name of this workflow',
			},
		],
	},
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		displayOptions: showFor('usage', 'log'),
		options: [
			{
				displayName: 'Result Field',
				name: 'resultField',
				type: 'string',
				default: 'breakeven',
				description: "Field of the output item that receives the ledger's answer (or the error)",
			},
		],
	},
];

const getAllFields: INodeProperties[] = [
	{
		displayName: 'Group By',
		name: 'groupBy',
		type: 'options',
		options: [
			{
				name: 'Day',
				value: 'day',
				description: 'One row per day in the range, days without runs included',
			},
			{ name: 'Model', value: 'model' },
			{ name: 'Workflow', value: 'workflow' },
		],
		default: 'day',
		displayOptions: showFor('usage', 'getAll'),
	},
	{
		displayName: 'Output',
		name: 'output',
		type: 'options',
		options: [
			{ name: 'One Item per Row', value: 'rows' },
			{ name: 'Rows and Totals in One Item', value: 'report' },
		],
		default: 'rows',
		displayOptions: showFor('usage', 'getAll'),
	},
	{
		displayName: 'Filters',
		name: 'filters',
		type: 'collection',
		placeholder: 'Add Filter',
		default: {},
		displayOptions: showFor('usage', 'getAll'),
		options: [
			{
				displayName: 'End Date',
				name: 'end',
				type: 'dateTime',
				default: '',
				description: 'Last day included (in the service time zone). Default: today.',
			},
			{
				displayName: 'Model',
				name: 'model',
				type: 'string',
				default: '',
			},
			{
				displayName: 'Provider',
				name: 'provider',
				type: 'string',
				default: '',
			},
			{
				displayName: 'Start Date',
				name: 'start',
				type: 'dateTime',
				default: '',
				description: 'First day included. Default: 29 days before the end date.',
			},
			{
				displayName: 'Workflow ID',
				name: 'workflowId',
				type: 'string',
				default: '',
			},
		],
	},
];

const getStatusFields: INodeProperties[] = [
	{
		displayName: 'Model',
		name: 'model',
		type: 'string',
		default: '',
		placeholder: 'e.g. llama-3.3-70b-versatile',
		description:
			'Model whose logged runs are measured. Leave empty for one item per model with logged runs.',
		displayOptions: showFor('breakeven', 'getStatus'),
	},
	{
		displayName: 'Provider',
		name: 'provider',
		type: 'string',
		default: 'groq',
		description: 'Provider of the model, whose prices apply',
		displayOptions: showFor('breakeven', 'getStatus'),
	},
	{
		displayName: 'Plan',
		name: 'plan',
		type: 'string',
		default: '',
		description:
			"Self-hosting plan from the service's catalogue. Default: the service's configured plan.",
		displayOptions: showFor('breakeven', 'getStatus'),
	},
];

const calculateFields: INodeProperties[] = [
	{
		displayName: 'API Prices',
		name: 'apiPrices',
		type: 'options',
		options: [
			{
				name: 'From Catalogue',
				value: 'catalogue',
				description: "Provider and model from the service's price list",
			},
			{ name: 'Custom', value: 'custom', description: 'Per-million-token prices you enter' },
		],
		default: 'catalogue',
		displayOptions: showFor('breakeven', 'calculate'),
	},
	{
		displayName: 'Provider',
		name: 'provider',
		type: 'string',
		default: 'groq',
		displayOptions: {
			show: { resource: ['breakeven'], operation: ['calculate'], apiPrices: ['catalogue'] },
		},
	},
	{
		displayName: 'Model',
		name: 'model',
		type: 'string',
		required: true,
		default: '',
		placeholder: 'e.g. llama-3.3-70b-versatile',
		displayOptions: {
			show: { resource: ['breakeven'], operation: ['calculate'], apiPrices: ['catalogue'] },
		},
	},
	{
		displayName: 'Input Price per Million Tokens',
		name: 'inputPerM',
		type: 'number',
		typeOptions: { minValue: 0, numberPrecision: 4 },
		required: true,
		default: 0,
		description: 'USD per million input tokens',
		displayOptions: {
			show: { resource: ['breakeven'], operation: ['calculate'], apiPrices: ['custom'] },
		},
	},
	{
		displayName: 'Output Price per Million Tokens',
		name: 'outputPerM',
		type: 'number',
		typeOptions: { minValue: 0, numberPrecision: 4 },
		required: true,
		default: 0,
		description: 'USD per million output tokens',
		displayOptions: {
			show: { resource: ['breakeven'], operation: ['calculate'], apiPrices: ['custom'] },
		},
	},
	{
		displayName: 'Price Options',
		name: 'priceOptions',
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		displayOptions: {
			show: { resource: ['breakeven'], operation: ['calculate'], apiPrices: ['custom'] },
		},
		options: [
			{
				displayName: 'Batch Discount',
				name: 'batchDiscount',
				type: 'number',
				typeOptions: { minValue: 0, maxValue: 1, numberPrecision: 2 },
				default: 0,
				description: 'Fraction taken off every price, from 0 to 1',
			},
			{
				displayName: 'Cached Input Price per Million Tokens',
				name: 'cachedInputPerM',
				type: 'number',
				typeOptions: { minValue: 0, numberPrecision: 4 },
				default: 0,
				description: 'USD per million cached input tokens. Default: the input price.',
			},
		],
	},
	{
		displayName: 'Prompt Tokens',
		name: 'promptTokens',
		type: 'number',
		typeOptions: { minValue: 0 },
		required: true,
		default: 0,
		description: 'Mean input tokens per prompt, cached ones included',
		displayOptions: showFor('breakeven', 'calculate'),
	},
	{
		displayName: 'Completion Tokens',
		name: 'completionTokens',
		type: 'number',
		typeOptions: { minValue: 0 },
		required: true,
		default: 0,
		description: 'Mean output tokens per prompt',
		displayOptions: showFor('breakeven', 'calculate'),
	},
	{
		displayName: 'Workload Options',
		name: 'workloadOptions',
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		displayOptions: showFor('breakeven', 'calculate'),
		options: [
			{
				displayName: 'Cached Tokens',
				name: 'cachedTokens',
				type: 'number',
				typeOptions: { minValue: 0 },
				default: 0,
				description: 'Mean cached input tokens per prompt',
			},
			{
				displayName: 'Peak to Average',
				name: 'peakToAverage',
				type: 'number',
				typeOptions: { minValue: 1, numberPrecision: 2 },
				default: 1,
				description: 'Ratio of peak to average traffic; capacity is sized for the peak',
			},
		],
	},
	{
		displayName: 'Self-Hosting',
		name: 'selfHosting',
		type: 'options',
		options: [
			{ name: 'Catalogue Plan', value: 'plan', description: "A plan from the service's catalogue" },
			{ name: 'Custom', value: 'custom', description: 'GPU price and capacity you enter' },
		],
		default: 'plan',
		displayOptions: showFor('breakeven', 'calculate'),
	},
	{
		displayName: 'Plan',
		name: 'plan',
		type: 'string',
		required: true,
		default: '',
		displayOptions: {
			show: { resource: ['breakeven'], operation: ['calculate'], selfHosting: ['plan'] },
		},
	},
	{
		displayName: 'GPU Hourly Price',
		name: 'gpuHourly',
		type: 'number',
		typeOptions: { minValue: 0, numberPrecision: 4 },
		required: true,
		default: 0,
		description: 'USD per GPU-hour, always on',
		displayOptions: {
			show: { resource: ['breakeven'], operation: ['calculate'], selfHosting: ['custom'] },
		},
	},
	{
		displayName: 'Plan Options',
		name: 'planOptions',
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		displayOptions: {
			show: { resource: ['breakeven'], operation: ['calculate'], selfHosting: ['custom'] },
		},
		options: [
			{
				displayName: 'GPUs per Replica',
				name: 'gpusPerReplica',
				type: 'number',
				typeOptions: { minValue: 1 },
				default: 1,
			},
			{
				displayName: 'Max Utilization',
				name: 'maxUtilization',
				type: 'number',
				typeOptions: { minValue: 0, maxValue: 1, numberPrecision: 2 },
				default: 0.8,
				description: 'Fraction of capacity a replica may be loaded to',
			},
			{
				displayName: 'Operations Cost per Day',
				name: 'opsPerDay',
				type: 'number',
				typeOptions: { minValue: 0, numberPrecision: 2 },
				default: 0,
				description: 'Fixed USD per day on top of the GPUs',
			},
			{
				displayName: 'Requests per Second',
				name: 'requestsPerSecond',
				type: 'number',
				typeOptions: { minValue: 0, numberPrecision: 3 },
				default: 0,
				description:
					"One replica's sustained rate at this workload. Without it capacity is not checked.",
			},
		],
	},
];

export const breakevenProperties: INodeProperties[] = [
	resourceProperty,
	usageOperations,
	breakevenOperations,
	...logFields,
	...getAllFields,
	...getStatusFields,
	...calculateFields,
];
