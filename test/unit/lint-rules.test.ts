// The workflow sandbox rule in eslint.config.js, proven on a fixture that breaks it: a rule that matched nothing
// would let `npm run lint` pass while workflow code imported I/O.
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const fixture = 'test/fixtures/lint/workflows/does-io.ts';

describe('the workflow sandbox lint rule', () => {
  it('refuses Node built-ins, I/O packages and value imports from common/ in workflow code, and allows a type import', async () => {
    // The fixture sits in the tree's ignore list so `npm run lint` stays green; here it is linted on purpose.
    const eslint = new ESLint({ cwd: root, ignore: false });
    const [result] = await eslint.lintFiles([fixture]);
    const refused = (result?.messages ?? []).filter(
      (message) => message.ruleId === '@typescript-eslint/no-restricted-imports',
    );
    expect(refused.map((message) => message.line)).toEqual([2, 3, 4, 5]);
    expect(refused.map((message) => message.message)).toEqual([
      expect.stringContaining('no Node built-ins'),
      expect.stringContaining('no Node built-ins'),
      expect.stringContaining('may not do I/O'),
      expect.stringContaining('imports only types'),
    ]);
  }, 60_000);
});
