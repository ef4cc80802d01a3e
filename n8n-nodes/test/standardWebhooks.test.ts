import { randomBytes } from 'crypto';
import { describe, expect, it } from 'vitest';

import {
	pickHeaders,
	sign,
	TIMESTAMP_TOLERANCE_SECONDS,
	verify,
} from '../nodes/BreakevenTrigger/standardWebhooks';

const newSecret = () => `whsec_${randomBytes(24).toString('base64')}`;
const NOW = 1_800_000_000;
const BODY = Buffer.from(
	'{"type":"breakeven.reached","timestamp":"2027-01-15T08:00:00Z","data":{"model":"m"}}',
);

function delivery(secret: string, body: Buffer | string = BODY, sentAt = NOW, id = 'msg_2xYz') {
	return { id, timestamp: String(sentAt), signature: sign(secret, id, sentAt, body) };
}

describe('verify', () => {
	it('accepts a delivery signed with the subscription secret', () => {
		const secret = newSecret();
		expect(verify(secret, delivery(secret), BODY, NOW)).toEqual({
			valid: true,
			webhookId: 'msg_2xYz',
			timestamp: NOW,
		});
	});

	it('matches the Standard Webhooks reference signature (the Python library the service signs with)', () => {
		const headers = {
			id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
			timestamp: '1614265330',
			signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
		};
		const body = '{"test": 2432232314}';
		expect(verify('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', headers, body, 1614265330).valid).toBe(
			true,
		);
		expect(sign('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', headers.id, 1614265330, body)).toBe(
			headers.signature,
		);
	});

	it('rejects a body changed by one byte', () => {
		const secret = newSecret();
		const tampered = Buffer.from(BODY);
		tampered[tampered.length - 3] = 'n'.charCodeAt(0);
		expect(verify(secret, delivery(secret), tampered, NOW)).toEqual({
			valid: false,
			reason: 'no matching signature',
		});
	});

	it('rejects the same JSON re-serialised, which is why the raw body must be used', () => {
		const secret = newSecret();
		const reserialised = JSON.stringify(JSON.parse(BODY.toString()), null, 1);
		expect(verify(secret, delivery(secret), reserialised, NOW).valid).toBe(false);
	});

	it('rejects a signature made with another secret', () => {
		expect(verify(newSecret(), delivery(newSecret()), BODY, NOW)).toEqual({
			valid: false,
			reason: 'no matching signature',
		});
	});

	it('rejects a signature moved to another message id or timestamp', () => {
		const secret = newSecret();
		const signed = delivery(secret);
		expect(verify(secret, { ...signed, id: 'msg_other' }, BODY, NOW).valid).toBe(false);
		expect(verify(secret, { ...signed, timestamp: String(NOW - 1) }, BODY, NOW).valid).toBe(false);
	});

	it('accepts timestamps up to five minutes old or ahead, and no further', () => {
		const secret = newSecret();
		const at = (sentAt: number) => verify(secret, delivery(secret, BODY, sentAt), BODY, NOW);
		expect(TIMESTAMP_TOLERANCE_SECONDS).toBe(300);
		expect(at(NOW - 300).valid).toBe(true);
		expect(at(NOW + 300).valid).toBe(true);
		expect(at(NOW - 301)).toEqual({ valid: false, reason: 'webhook-timestamp is too old' });
		expect(at(NOW + 301)).toEqual({
			valid: false,
			reason: 'webhook-timestamp is too far in the future',
		});
	});

	it('rejects a stale capture replayed later even though its signature is genuine', () => {
		const secret = newSecret();
		const captured = delivery(secret, BODY, NOW);
		expect(verify(secret, captured, BODY, NOW + 3600)).toEqual({
			valid: false,
			reason: 'webhook-timestamp is too old',
		});
	});

	it('accepts a header carrying two signatures while the sender rotates its secret', () => {
		const oldSecret = newSecret();
		const rotated = newSecret();
		const header = `${delivery(oldSecret).signature} ${delivery(rotated).signature}`;
		const headers = { id: 'msg_2xYz', timestamp: String(NOW), signature: header };
		expect(verify(oldSecret, headers, BODY, NOW).valid).toBe(true);
		expect(verify(rotated, headers, BODY, NOW).valid).toBe(true);
		expect(verify(newSecret(), headers, BODY, NOW).valid).toBe(false);
	});

	it('accepts any of several secrets held during a rotation on the receiving side', () => {
		const current = newSecret();
		const previous = newSecret();
		expect(verify([current, previous], delivery(previous), BODY, NOW).valid).toBe(true);
		expect(verify([current, previous], delivery(newSecret()), BODY, NOW).valid).toBe(false);
	});

	it('ignores signatures of other versions and garbage entries', () => {
		const secret = newSecret();
		const genuine = delivery(secret).signature.slice('v1,'.length);
		const headers = (signature: string) => ({ id: 'msg_2xYz', timestamp: String(NOW), signature });
		expect(verify(secret, headers(`v2,${genuine}`), BODY, NOW).valid).toBe(false);
		expect(verify(secret, headers(`${genuine}`), BODY, NOW).valid).toBe(false);
		expect(verify(secret, headers(`v1,${genuine.slice(0, 20)}`), BODY, NOW).valid).toBe(false);
		expect(verify(secret, headers(`v1a,${genuine} junk v1,${genuine}`), BODY, NOW).valid).toBe(
			true,
		);
	});

	it('names the missing or malformed header', () => {
		const secret = newSecret();
		const signed = delivery(secret);
		expect(verify(secret, { ...signed, id: undefined }, BODY, NOW)).toEqual({
			valid: false,
			reason: 'missing webhook-id header',
		});
		expect(verify(secret, { ...signed, timestamp: '' }, BODY, NOW)).toEqual({
			valid: false,
			reason: 'missing webhook-timestamp header',
		});
		expect(verify(secret, { ...signed, signature: undefined }, BODY, NOW)).toEqual({
			valid: false,
			reason: 'missing webhook-signature header',
		});
		expect(verify(secret, { ...signed, timestamp: '1.8e9' }, BODY, NOW)).toEqual({
			valid: false,
			reason: 'webhook-timestamp is not whole seconds since the epoch',
		});
	});

	it('fails closed on a malformed stored secret instead of throwing', () => {
		const secret = newSecret();
		expect(verify('whsec_not base64!', delivery(secret), BODY, NOW).valid).toBe(false);
		expect(verify([], delivery(secret), BODY, NOW).valid).toBe(false);
	});

	it('uses the current clock by default', () => {
		const secret = newSecret();
		const sentAt = Math.floor(Date.now() / 1000);
		expect(verify(secret, delivery(secret, BODY, sentAt), BODY).valid).toBe(true);
		expect(verify(secret, delivery(secret, BODY, sentAt - 600), BODY).valid).toBe(false);
	});
});

describe('pickHeaders', () => {
	it("reads Node's lower-cased header map, taking the first of repeated headers", () => {
		expect(
			pickHeaders({
				'webhook-id': 'msg_1',
				'webhook-timestamp': ['1800000000', '1'],
				'webhook-signature': 'v1,abc',
				'content-type': 'application/json',
			}),
		).toEqual({ id: 'msg_1', timestamp: '1800000000', signature: 'v1,abc' });
	});
});
