import { createRequire } from 'node:module';
import type { Reporter, TestModule } from 'vitest/node';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

/** Ends the run with a plain "vitest: N passed, N failed" line that CI logs can be searched for. */
const summaryLine: Reporter = {
	onTestRunEnd(testModules: ReadonlyArray<TestModule>) {
		const counts = { passed: 0, failed: 0, skipped: 0 };
		for (const testModule of testModules) {
			for (const test of testModule.children.allTests()) {
				const state = test.result().state;
				if (state === 'passed' || state === 'failed' || state === 'skipped') counts[state] += 1;
			}
		}
		process.stdout.write(
			`vitest: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped\n`,
		);
	},
};

export default defineConfig({
	resolve: {
		// n8n-workflow's ESM build uses extension-less imports that Node cannot load; n8n itself loads the
		// CommonJS build, so the tests do too.
		alias: { 'n8n-workflow': require.resolve('n8n-workflow') },
	},
	test: {
		include: ['test/**/*.test.ts'],
		reporters: ['default', summaryLine],
	},
});
