import { describe, expect, it } from 'vitest';
import { errorSummary } from '../../common/error-summary.js';

describe('errorSummary', () => {
  it("keeps an error's message and bounds it at 500 characters", () => {
    expect(errorSummary(new Error('connection refused'))).toBe('connection refused');
    expect(errorSummary(new Error('x'.repeat(2000)))).toHaveLength(500);
  });

  it('states a thrown non-error as text, bounded the same way', () => {
    expect(errorSummary('timed out')).toBe('timed out');
    expect(errorSummary('y'.repeat(600))).toHaveLength(500);
  });
});
