/**
 * Typed fakes of the n8n execution contexts the nodes use.
 *
 * n8n does not publish its own node test harness, so each fake implements the exact subset of the real interface
 * the nodes call (checked by `Pick<...>` against n8n-workflow's types) and performs HTTP for real, letting nock
 * stand in for the Breakeven service on the wire.
 */
import type {
	IDataObject,
	IExecuteFunctions,
	IHookFunctions,
	IHttpRequestOptions,
	IN8nHttpFullResponse,
	INode,
	INodeExecutionData,
	IWebhookFunctions,
	IWorkflowMetadata,
	Logger,
	NodeTypeAndVersion,
} from 'n8n-workflow';

export const CREDENTIALS = { baseUrl: 'http://breakeven.test', apiKey: 'bk_fake_key_for_tests' };

/** A parameter value, or a function of the item index standing in for an n8n expression. */
export type ParamValue = unknown | ((itemIndex: number) => unknown);

export class RecordingLogger implements Pick<Logger, 'error' | 'warn' | 'info' | 'debug'> {
	readonly lines: string[] = [];

	error(message: string) {
		this.lines.push(`error: ${message}`);
	}
	warn(message: string) {
		this.lines.push(`warn: ${message}`);
	}
	info(message: string) {
		this.lines.push(`info: ${message}`);
	}
	debug(message: string) {
		this.lines.push(`debug: ${message}`);
	}
}

interface FakeOptions {
	params?: Record<string, ParamValue>;
	credentials?: IDataObject;
	nodeName?: string;
	nodeType?: string;
	workflow?: IWorkflowMetadata;
	executionId?: string;
}

function buildUrl(options: IHttpRequestOptions): string {
	const url = new URL(options.url);
	for (const [key, value] of Object.entries(options.qs ?? {})) {
		if (value !== undefined && value !== null) url.searchParams.set(key, String(value));
	}
	return url.toString();
}

/**
 * What `helpers.httpRequestWithAuthentication` does for this package's credential: add the Bearer header the
 * credential's `authenticate` block declares, send JSON, and honour `returnFullResponse` and
 * `ignoreHttpStatusErrors` the way n8n's request helper does.
 */
async function authenticatedRequest(
	credentials: IDataObject,
	credentialType: string,
	options: IHttpRequestOptions,
): Promise<unknown> {
	if (credentialType !== 'breakevenApi')
		throw new Error(`unexpected credential type ${credentialType}`);
	const headers: Record<string, string> = {
		...(options.headers as Record<string, string> | undefined),
		Authorization: `Bearer ${String(credentials.apiKey)}`,
	};
	let body: string | undefined;
	if (options.body !== undefined) {
		headers['Content-Type'] = 'application/json';
		body = JSON.stringify(options.body);
	}
	const response = await fetch(buildUrl(options), {
		method: options.method ?? 'GET',
		headers,
		body,
	});
	const text = await response.text();
	let parsed: unknown = text;
	if (text !== '' && (response.headers.get('content-type') ?? '').includes('json'))
		parsed = JSON.parse(text);
	if (!options.ignoreHttpStatusErrors && !response.ok) {
		throw new Error(`Request failed with status code ${response.status}`);
	}
	if (!options.returnFullResponse) return parsed;
	const full: IN8nHttpFullResponse = {
		body: parsed as IN8nHttpFullResponse['body'],
		headers: Object.fromEntries(response.headers.entries()),
		statusCode: response.status,
		statusMessage: response.statusText,
	};
	return full;
}

abstract class FakeBase {
	readonly logger = new RecordingLogger();
	readonly staticData: IDataObject = {};
	protected readonly params: Record<string, ParamValue>;
	protected readonly credentials: IDataObject;
	protected readonly node: INode;
	protected readonly workflow: IWorkflowMetadata;
	protected readonly executionId: string;

	constructor(options: FakeOptions) {
		this.params = options.params ?? {};
		this.credentials = options.credentials ?? { ...CREDENTIALS };
		this.node = {
			id: 'node-1',
			name: options.nodeName ?? 'Breakeven',
			type: options.nodeType ?? 'n8n-nodes-breakeven.breakeven',
			typeVersion: 1,
			position: [0, 0],
			parameters: {},
		};
		this.workflow = options.workflow ?? { id: 'wf-1', name: 'Groq chat', active: true };
		this.executionId = options.executionId ?? 'exec-42';
	}

	protected param(
		name: string,
		itemIndex: number,
		fallback: unknown,
		hasFallback: boolean,
	): unknown {
		const configured = this.params[name];
		const value =
			typeof configured === 'function'
				? (configured as (i: number) => unknown)(itemIndex)
				: configured;
		if (value !== undefined) return value;
		// n8n fills unset parameters with their declared defaults; the fakes require the test to give them.
		if (hasFallback) return fallback;
		throw new Error(`test did not set parameter "${name}"`);
	}

	getNode(): INode {
		return this.node;
	}

	getWorkflow(): IWorkflowMetadata {
		return this.workflow;
	}

	async getCredentials<T extends object = IDataObject>(type: string): Promise<T> {
		if (type !== 'breakevenApi') throw new Error(`unexpected credential type ${type}`);
		return this.credentials as T;
	}

	getWorkflowStaticData(type: string): IDataObject {
		if (type !== 'node') throw new Error(`unexpected static data type ${type}`);
		return this.staticData;
	}

	protected request(credentialType: string, options: IHttpRequestOptions): Promise<unknown> {
		return authenticatedRequest(this.credentials, credentialType, options);
	}
}

type ExecuteSubset = Pick<
	IExecuteFunctions,
	| 'getInputData'
	| 'getNode'
	| 'getWorkflow'
	| 'getExecutionId'
	| 'continueOnFail'
	| 'getParentNodes'
>;

export class FakeExecuteFunctions extends FakeBase implements ExecuteSubset {
	private readonly items: INodeExecutionData[];
	private readonly failSoftly: boolean;
	private readonly parents: string[];

	readonly helpers: Pick<IExecuteFunctions['helpers'], 'httpRequestWithAuthentication'>;

	constructor(
		options: FakeOptions & { items: IDataObject[]; continueOnFail?: boolean; parents?: string[] },
	) {
		super(options);
		this.items = options.items.map((json) => ({ json }));
		this.failSoftly = options.continueOnFail ?? false;
		this.parents = options.parents ?? ['Groq Chat'];
		const request = this.request.bind(this);
		this.helpers = {
			async httpRequestWithAuthentication(
				credentialType: string,
				requestOptions: IHttpRequestOptions,
			) {
				return await request(credentialType, requestOptions);
			},
		};
	}

	getInputData(): INodeExecutionData[] {
		return this.items;
	}

	getNodeParameter(name: string, itemIndex: number, fallback?: unknown): unknown {
		return this.param(name, itemIndex, fallback, arguments.length > 2);
	}

	getExecutionId(): string {
		return this.executionId;
	}

	continueOnFail(): boolean {
		return this.failSoftly;
	}

	getParentNodes(nodeName: string, options?: { depth?: number }): NodeTypeAndVersion[] {
		if (nodeName !== this.node.name || options?.depth !== 1) {
			throw new Error('the node should ask for its direct parents only');
		}
		return this.parents.map((name) => ({
			name,
			type: 'n8n-nodes-base.httpRequest',
			typeVersion: 4.2,
			disabled: false,
		}));
	}

	/** The fake as the node sees it; only the members above are ever touched. */
	asContext(): IExecuteFunctions {
		return this as unknown as IExecuteFunctions;
	}
}

export class FakeHookFunctions
	extends FakeBase
	implements
		Pick<IHookFunctions, 'getNode' | 'getWorkflow' | 'getWorkflowStaticData' | 'getNodeWebhookUrl'>
{
	readonly helpers: Pick<IHookFunctions['helpers'], 'httpRequestWithAuthentication'>;
	webhookUrl: string;

	constructor(options: FakeOptions & { webhookUrl: string; staticData?: IDataObject }) {
		super({
			nodeName: 'Breakeven Trigger',
			nodeType: 'n8n-nodes-breakeven.breakevenTrigger',
			...options,
		});
		this.webhookUrl = options.webhookUrl;
		Object.assign(this.staticData, options.staticData ?? {});
		const request = this.request.bind(this);
		this.helpers = {
			async httpRequestWithAuthentication(
				credentialType: string,
				requestOptions: IHttpRequestOptions,
			) {
				return await request(credentialType, requestOptions);
			},
		};
	}

	getNodeParameter(name: string, fallback?: unknown): unknown {
		return this.param(name, 0, fallback, arguments.length > 1);
	}

	getNodeWebhookUrl = (name: string): string | undefined =>
		name === 'default' ? this.webhookUrl : undefined;

	asContext(): IHookFunctions {
		return this as unknown as IHookFunctions;
	}
}

/** Records what the trigger writes to the HTTP response, like the slice of express.Response it uses. */
export class FakeResponse {
	statusCode = 200;
	body: unknown = undefined;

	status(code: number): this {
		this.statusCode = code;
		return this;
	}

	json(body: unknown): this {
		this.body = body;
		return this;
	}
}

export class FakeWebhookFunctions
	extends FakeBase
	implements Pick<IWebhookFunctions, 'getNode' | 'getWorkflowStaticData' | 'getHeaderData'>
{
	readonly response = new FakeResponse();
	readonly helpers: Pick<IWebhookFunctions['helpers'], 'returnJsonArray'>;
	private readonly headers: Record<string, string>;
	private readonly rawBody: Buffer | undefined;
	/** What n8n's body parser produced; the trigger must not rely on it for verification. */
	private readonly parsedBody: IDataObject;

	constructor(
		options: FakeOptions & {
			headers: Record<string, string>;
			rawBody: Buffer | undefined;
			parsedBody?: IDataObject;
			staticData?: IDataObject;
		},
	) {
		super({
			nodeName: 'Breakeven Trigger',
			nodeType: 'n8n-nodes-breakeven.breakevenTrigger',
			...options,
		});
		this.headers = Object.fromEntries(
			Object.entries(options.headers).map(([k, v]) => [k.toLowerCase(), v]),
		);
		this.rawBody = options.rawBody;
		this.parsedBody = options.parsedBody ?? {};
		Object.assign(this.staticData, options.staticData ?? {});
		this.helpers = {
			returnJsonArray(data: IDataObject | IDataObject[]): INodeExecutionData[] {
				return (Array.isArray(data) ? data : [data]).map((json) => ({ json }));
			},
		};
	}

	getHeaderData() {
		return this.headers;
	}

	getBodyData(): IDataObject {
		return this.parsedBody;
	}

	getRequestObject(): { rawBody?: Buffer } {
		return { rawBody: this.rawBody };
	}

	getResponseObject(): FakeResponse {
		return this.response;
	}

	asContext(): IWebhookFunctions {
		return this as unknown as IWebhookFunctions;
	}
}
