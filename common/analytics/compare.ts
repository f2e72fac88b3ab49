// Whether one variant's rate differs from another's: a pooled two-proportion z-test for the p-value and Newcombe's
// hybrid score interval (Wilson intervals combined; Newcombe 1998, method 10) for the 95% interval of the difference.
// Both are standard (e.g. R's prop.test without continuity correction gives the same p-value).
import normalCdf from '@stdlib/stats-base-dists-normal-cdf';
import normalQuantile from '@stdlib/stats-base-dists-normal-quantile';

export interface Proportion {
  /** Trials (messages sent). */
  n: number;
  /** Successes among them (replies, bookings). */
  x: number;
}

export type Verdict = 'significant' | 'not_significant' | 'too_small';

export interface RateComparison {
  /** rate(b) − rate(a); null when either has nothing sent. */
  difference: number | null;
  ci95: [number, number] | null;
  pValue: number | null;
  verdict: Verdict;
}

/**
 * The smallest sample the normal approximation is trusted on: each variant has at least 30 sent, and at least 5
 * expected successes and 5 expected failures at the pooled rate. Below it the answer is `too_small`.
 */
export const minimumSent = 30;
export const minimumExpected = 5;
const alpha = 0.05;
const z95 = normalQuantile(1 - alpha / 2, 0, 1);

const rate = ({ n, x }: Proportion) => x / n;

/** Wilson's score interval for one proportion. */
export function wilsonInterval({ n, x }: Proportion, z = z95): [number, number] {
  const p = x / n;
  const z2 = z * z;
  const centre = p + z2 / (2 * n);
  const spread = z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  const scale = 1 + z2 / n;
  return [(centre - spread) / scale, (centre + spread) / scale];
}

/** Newcombe's interval for rate(b) − rate(a). */
export function newcombeInterval(a: Proportion, b: Proportion, z = z95): [number, number] {
  const [pa, pb] = [rate(a), rate(b)];
  const [la, ua] = wilsonInterval(a, z);
  const [lb, ub] = wilsonInterval(b, z);
  const difference = pb - pa;
  return [difference - Math.hypot(pb - lb, ua - pa), difference + Math.hypot(ub - pb, pa - la)];
}

/** Two-sided p-value of the pooled two-proportion z-test. */
export function twoProportionPValue(a: Proportion, b: Proportion): number {
  const pooled = (a.x + b.x) / (a.n + b.n);
  const standardError = Math.sqrt(pooled * (1 - pooled) * (1 / a.n + 1 / b.n));
  if (standardError === 0) return 1;
  const z = (rate(b) - rate(a)) / standardError;
  return 2 * (1 - normalCdf(Math.abs(z), 0, 1));
}

export function isLargeEnough(a: Proportion, b: Proportion): boolean {
  const pooled = (a.x + b.x) / (a.n + b.n);
  return [a, b].every(
    ({ n }) => n >= minimumSent && n * pooled >= minimumExpected && n * (1 - pooled) >= minimumExpected,
  );
}

export function compareRates(a: Proportion, b: Proportion): RateComparison {
  const difference = a.n > 0 && b.n > 0 ? rate(b) - rate(a) : null;
  if (difference === null || !isLargeEnough(a, b))
    return { difference, ci95: null, pValue: null, verdict: 'too_small' };
  const pValue = twoProportionPValue(a, b);
  return {
    difference,
    ci95: newcombeInterval(a, b),
    pValue,
    verdict: pValue < alpha ? 'significant' : 'not_significant',
  };
}
