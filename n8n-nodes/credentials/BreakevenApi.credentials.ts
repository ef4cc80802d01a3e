import type {
	IAuthenticateGeneric,
	Icon,
	ICredentialTestRequest,
	ICredentialType,
	INodeProperties,
} from 'n8n-workflow';

export class BreakevenApi implements ICredentialType {
	name = 'breakevenApi';

	displayName = 'Breakeven API';

	icon: Icon = { light: 'file:../icons/breakeven.svg', dark: 'file:../icons/breakeven.dark.svg' };

	// The package README (rendered on its npm page) documents the credential.
	documentationUrl = 'https://www.npmjs.com/package/n8n-nodes-breakeven#credentials';

	properties: INodeProperties[] = [
		{
			displayName: 'Base URL',
			name: 'baseUrl',
			type: 'string',
			default: 'http://localhost:8000',
			placeholder: 'https://breakeven.example.com',
			description: 'Root URL of the Breakeven service, without /v1',
			required: true,
		},
		{
			displayName: 'API Key',
			name: 'apiKey',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			description:
				'A key from BREAKEVEN_API_KEYS. A key from BREAKEVEN_INGEST_KEYS only allows Usage > Log and fails this test with 403.',
			required: true,
		},
	];

	authenticate: IAuthenticateGeneric = {
		type: 'generic',
		properties: {
			headers: {
				Authorization: '=Bearer {{$credentials.apiKey}}',
			},
		},
	};

	// Listing webhooks needs a valid full-access key and reads nothing large: a cheap, honest check.
	test: ICredentialTestRequest = {
		request: {
			baseURL: '={{$credentials.baseUrl}}',
			url: '/v1/webhooks',
			method: 'GET',
		},
	};
}
