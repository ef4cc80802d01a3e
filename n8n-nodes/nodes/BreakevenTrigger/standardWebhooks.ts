import { createHmac, timingSafeEqual } from 'crypto';

/** Standard Webhooks' recommended window: wider lets an old capture be replayed, narrower trips on clock skew. */
export const TIMESTAMP_TOLERANCE_SECONDS = 5 * 60;

const SECRET_PREFIX = 'whsec_';
const HMAC_SHA256_BYTES = 32;

export interface StandardWebhookHeaders {
	id?: string;
	timestamp?: string;
	signature?: string;
}

export type VerificationResult =
	| { valid: true; webhookId: string; timestamp: number }
	| { valid: false; reason: string };

function encodedKey(secret: string): string | undefined {
	const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
	return encoded.length > 0 && /^[A-Za-z0-9+/]+={0,2}$/.test(encoded) ? encoded : undefined;
}

/** The key bytes of a `whsec_<base64>` secret, the form the service hands out (a bare base64 key also works). */
export function secretKey(secret: string): Buffer {
	const encoded = encodedKey(secret);
	if (encoded === undefined) throw new Error('webhook secret is not "whsec_" followed by base64');
	return Buffer.from(encoded, 'base64');
}

/** The `v1,<base64>` signature the service sends: HMAC-SHA256 over `id.timestamp.body`. */
export function sign(
	secret: string,
	webhookId: string,
	timestamp: number,
	body: Buffer | string,
): string {
	const digest = createHmac('sha256', secretKey(secret))
		.update(`${webhookId}.${timestamp}.`)
		.update(typeof body === 'string' ? Buffer.from(body, 'utf8') : body)
		.digest('base64');
	return `v1,${digest}`;
}

function headerValue(value: string | string[] | undefined): string | undefined {
	return Array.isArray(value) ? value[0] : value;
}

/** Picks the three Standard Webhooks headers out of Node's lower-cased header map. */
export function pickHeaders(
	headers: Record<string, string | string[] | undefined>,
): StandardWebhookHeaders {
	return {
		id: headerValue(headers['webhook-id']),
		timestamp: headerValue(headers['webhook-timestamp']),
		signature: headerValue(headers['webhook-signature']),
	};
}

/**
 * Checks a delivery against one secret or several (during a rotation any may match).
 *
 * `body` must be the bytes as received: parsing and re-serialising JSON changes key order and spacing and
 * breaks a valid signature. `nowSeconds` is injectable so tests can pin the clock.
 */
export function verify(
	secrets: string | readonly string[],
	headers: StandardWebhookHeaders,
	body: Buffer | string,
	nowSeconds: number = Math.floor(Date.now() / 1000),
	toleranceSeconds: number = TIMESTAMP_TOLERANCE_SECONDS,
): VerificationResult {
	const { id, timestamp, signature } = headers;
	if (!id) return { valid: false, reason: 'missing webhook-id header' };
	if (!timestamp) return { valid: false, reason: 'missing webhook-timestamp header' };
	if (!signature) return { valid: false, reason: 'missing webhook-signature header' };
	if (!/^\d{1,12}$/.test(timestamp)) {
		return { valid: false, reason: 'webhook-timestamp is not whole seconds since the epoch' };
	}
	const sentAt = Number(timestamp);
	if (nowSeconds - sentAt > toleranceSeconds) {
		return { valid: false, reason: 'webhook-timestamp is too old' };
	}
	if (sentAt - nowSeconds > toleranceSeconds) {
		return { valid: false, reason: 'webhook-timestamp is too far in the future' };
	}

	const payload = Buffer.concat([
		Buffer.from(`${id}.${timestamp}.`, 'utf8'),
		typeof body === 'string' ? Buffer.from(body, 'utf8') : body,
	]);
	const secretList: readonly string[] = typeof secrets === 'string' ? [secrets] : secrets;
	if (secretList.length === 0 || secretList.some((secret) => encodedKey(secret) === undefined)) {
		return { valid: false, reason: 'the stored secret is not "whsec_" followed by base64' };
	}
	const expected = secretList.map((secret) =>
		createHmac('sha256', secretKey(secret)).update(payload).digest(),
	);

	// The header may carry several space-separated signatures (the sender rotating its secret, or future
	// versions): one v1 signature that matches any of our secrets is enough.
	let matched = false;
	for (const part of signature.split(' ')) {
		const comma = part.indexOf(',');
		if (comma < 0 || part.slice(0, comma) !== 'v1') continue;
		const candidate = Buffer.from(part.slice(comma + 1), 'base64');
		if (candidate.length !== HMAC_SHA256_BYTES) continue;
		for (const digest of expected) {
			// No early exit: every candidate is compared in constant time so timing says nothing about which matched.
			if (timingSafeEqual(candidate, digest)) matched = true;
		}
	}
	if (!matched) return { valid: false, reason: 'no matching signature' };
	return { valid: true, webhookId: id, timestamp: sentAt };
}
