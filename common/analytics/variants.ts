// A/B variants of a sequence step: which one an enrollment gets is a pure function of (enrollment, step), so a retried
// send, a replayed workflow or a reset run always picks the one the first attempt picked.
import { createHash } from 'node:crypto';

export const variantLabels = ['A', 'B', 'C', 'D'] as const;
export type VariantLabel = (typeof variantLabels)[number];

export interface StepVariant {
  template: string;
  /** A positive integer: the variant's share is its weight over the step's total. */
  weight: number;
}

export interface ChosenVariant {
  label: VariantLabel;
  template: string;
}

/** The step's variants with their labels, in the order the step lists them. */
export const labelledVariants = (variants: readonly StepVariant[]) =>
  variants.map((variant, index) => ({ ...variant, label: variantLabels[index] ?? variantLabels[0] }));

/**
 * Picks by weight from a SHA-256 of "<enrollmentId>:<step>": uniform over the enrollments, the same on every call.
 * 48 bits of the hash against totals of a few thousand at most leave no bias worth measuring.
 */
export function chooseVariant(enrollmentId: string, step: number, variants: readonly StepVariant[]): ChosenVariant {
  const total = variants.reduce((sum, variant) => sum + variant.weight, 0);
  if (variants.length === 0 || total <= 0) throw new Error('a step with variants needs at least one positive weight');
  let point = createHash('sha256').update(`${enrollmentId}:${step}`).digest().readUIntBE(0, 6) % total;
  const labelled = labelledVariants(variants);
  for (const variant of labelled) {
    if (point < variant.weight) return { label: variant.label, template: variant.template };
    point -= variant.weight;
  }
  const last = labelled[labelled.length - 1] as (typeof labelled)[number];
  return { label: last.label, template: last.template };
}

/** What a stored step says about variants: its list when it has two or more, else none. */
export function variantsOfStep(step: unknown): StepVariant[] | null {
  if (typeof step !== 'object' || step === null || !('variants' in step)) return null;
  const { variants } = step as { variants?: unknown };
  return Array.isArray(variants) && variants.length >= 2 ? (variants as StepVariant[]) : null;
}
