// The README's operator queries, run with the project's Temporal CLI against the suite's dev server.
import { afterAll, beforeAll, describe, inject, it } from 'vitest';
import { expectReadmeOperatorQueriesWork } from '../support/operator-queries.js';
import { startTestStack, type TestStack } from '../support/stack.js';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(() => stack?.stop());

describe('README operator queries', () => {
  it('find what they say they find', () => expectReadmeOperatorQueriesWork(stack, inject('temporalAddress')));
});
