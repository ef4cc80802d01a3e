import type { IDataObject } from 'n8n-workflow';

/**
 * A chat completion shaped like Groq's OpenAI-compatible answer, as the HTTP Request node puts it on an item:
 * `usage` with Groq's timing fields, `x_groq.id`, and `prompt_tokens_details` only when some input was cached.
 */
export function groqCompletion(tokens: {
	promptTokens: number;
	completionTokens: number;
	cachedTokens?: number;
	requestId?: string;
}): IDataObject {
	const usage: IDataObject = {
		queue_time: 0.0213,
		prompt_tokens: tokens.promptTokens,
		prompt_time: 0.0871,
		completion_tokens: tokens.completionTokens,
		completion_time: 0.3249,
		total_tokens: tokens.promptTokens + tokens.completionTokens,
		total_time: 0.412,
	};
	if (tokens.cachedTokens !== undefined)
		usage.prompt_tokens_details = { cached_tokens: tokens.cachedTokens };
	return {
		id: 'chatcmpl-7f1c2a9e',
		object: 'chat.completion',
		created: 1764150000,
		model: 'llama-3.3-70b-versatile',
		choices: [
			{
				index: 0,
				message: { role: 'assistant', content: 'The capital of France is Paris.' },
				logprobs: null,
				finish_reason: 'stop',
			},
		],
		usage,
		usage_breakdown: null,
		system_fingerprint: 'fp_3f3b593e33',
		x_groq: { id: tokens.requestId ?? 'req_01jq8m3xkfe8zv6w1rj4n7k2pd' },
		service_tier: 'on_demand',
	};
}
