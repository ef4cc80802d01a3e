import type {
	IDataObject,
	IExecuteFunctions,
	IHookFunctions,
	IHttpRequestMethods,
	INode,
	IHttpRequestOptions,
	IN8nHttpFullResponse,
	JsonObject,
} from 'n8n-workflow';
import { NodeApiError, NodeOperationError } from 'n8n-workflow';

export const CREDENTIAL_TYPE = 'breakevenApi';

type Context = IExecuteFunctions | IHookFunctions;

export interface ApiResponse {
	statusCode: number;
	body: unknown;
}

export interface ApiRequest {
	method: IHttpRequestMethods;
	path: string;
	qs?: IDataObject;
	body?: IDataObject;
	itemIndex?: number;
	/** Non-2xx codes the caller handles itself (a DELETE that finds nothing, say) instead of failing. */
	acceptStatus?: number[];
}

/** The service root from the credential, checked here so a typo fails with the field's name, not a DNS error. */
export async function serviceBaseUrl(this: Context, itemIndex?: number): Promise<string> {
	const credentials = await this.getCredentials<{ baseUrl?: unknown }>(CREDENTIAL_TYPE, itemIndex);
	const raw = typeof credentials.baseUrl === 'string' ? credentials.baseUrl.trim() : '';
	let parsed: URL;
	try {
		parsed = new URL(raw);
	} catch {
		throw new NodeOperationError(
			this.getNode(),
			`Breakeven API credential: Base URL ${JSON.stringify(raw)} is not a URL`,
			{ itemIndex },
		);
	}
	if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
		throw new NodeOperationError(
			this.getNode(),
			`Breakeven API credential: Base URL must start with http:// or https:// (got ${parsed.protocol})`,
			{ itemIndex },
		);
	}
	return raw.replace(/\/+$/, '');
}

/** Errors already shaped for n8n pass through untouched; anything else is wrapped with the item it broke on. */
export function nodeError(
	node: INode,
	error: unknown,
	itemIndex?: number,
): NodeApiError | NodeOperationError {
	if (error instanceof NodeApiError || error instanceof NodeOperationError) return error;
	return new NodeOperationError(node, error instanceof Error ? error : String(error), {
		itemIndex,
	});
}

interface ServiceError {
	code?: unknown;
	message?: unknown;
	details?: unknown;
}

function serviceError(body: unknown): ServiceError | undefined {
	if (body && typeof body === 'object' && 'error' in body) {
		const error = (body as { error: unknown }).error;
		if (error && typeof error === 'object') return error as ServiceError;
	}
	return undefined;
}

/**
 * One call to the Breakeven API with the credential's key.
 *
 * Status codes are read here rather than left to n8n's generic error wrapping, so the message users see is the
 * service's own (`{"error": {"code", "message"}}`, naming the bad field) and never includes request headers.
 */
export async function breakevenApiRequest(
	this: Context,
	request: ApiRequest,
): Promise<ApiResponse> {
	const base = await serviceBaseUrl.call(this, request.itemIndex);
	const options: IHttpRequestOptions = {
		method: request.method,
		url: `${base}${request.path}`,
		json: true,
		returnFullResponse: true,
		ignoreHttpStatusErrors: true,
		headers: { Accept: 'application/json' },
	};
	if (request.qs) options.qs = request.qs;
	if (request.body) options.body = request.body;

	let response: IN8nHttpFullResponse;
	try {
		response = (await this.helpers.httpRequestWithAuthentication.call(
			this,
			CREDENTIAL_TYPE,
			options,
		)) as IN8nHttpFullResponse;
	} catch (error) {
		// Only the message travels on: the original error object holds the request, Authorization header included.
		const reason = error instanceof Error ? error.message : String(error);
		throw new NodeApiError(this.getNode(), { message: reason } as JsonObject, {
			message: `Breakeven API unreachable at ${base}: ${reason}`,
			itemIndex: request.itemIndex,
		});
	}

	const statusCode = response.statusCode;
	const body = response.body;
	if ((statusCode >= 200 && statusCode < 300) || request.acceptStatus?.includes(statusCode)) {
		return { statusCode, body };
	}
	const error = serviceError(body);
	const code = typeof error?.code === 'string' ? error.code : 'http_error';
	const message =
		typeof error?.message === 'string' && error.message
			? error.message
			: `HTTP ${statusCode} from ${request.method} ${request.path}`;
	throw new NodeApiError(
		this.getNode(),
		{ error: { code, message, details: error?.details ?? null } } as JsonObject,
		{
			message: `Breakeven API ${statusCode} (${code}): ${message}`,
			description: `${request.method} ${request.path}`,
			httpCode: String(statusCode),
			itemIndex: request.itemIndex,
		},
	);
}
