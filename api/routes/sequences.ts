import { Router } from 'express';
import { z } from 'zod';
import type { Db } from '../../common/db.js';
import { variantLabels } from '../../common/analytics/variants.js';
import {
  controlCharactersMessage,
  hasControlCharacters,
  invalidLinkMessage,
  invalidLinkPlaceholders,
  longestBody,
  longestFilledIn,
  placeholderMistakes,
  templatePlaceholders,
  tooLongFilledInMessage,
} from '../../common/templates.js';
import type { SequenceDefinition } from '../../generated/prisma/client.js';
import type { SequenceStep } from '../../workflows/lead-follow-up.messages.js';
import { tenantOf } from '../auth.js';
import { notFound, parseBody } from '../errors.js';
import { idParam } from '../params.js';
import { refuseBookingLinkWithoutUrl } from '../unsendable-sequence.js';

const templateSchema = z
  .string()
  .trim()
  .min(1)
  .max(longestBody)
  .superRefine((template, ctx) => {
    const mistakes = placeholderMistakes(template, templatePlaceholders);
    if (mistakes) ctx.addIssue({ code: 'custom', message: mistakes });
    const invalidLinks = invalidLinkPlaceholders(template);
    if (invalidLinks.length) ctx.addIssue({ code: 'custom', message: invalidLinkMessage(invalidLinks) });
    if (hasControlCharacters(template)) ctx.addIssue({ code: 'custom', message: controlCharactersMessage });
    if (longestFilledIn(template) > longestBody)
      ctx.addIssue({ code: 'custom', message: tooLongFilledInMessage(template) });
  });

/** A/B variants, labelled A to D in this order; each is checked like a template. */
const variantsSchema = z
  .array(z.strictObject({ template: templateSchema, weight: z.number().int().min(1).max(1000) }))
  .min(2, 'a step with variants has 2 to 4 of them')
  .max(variantLabels.length, 'a step with variants has 2 to 4 of them');

/**
 * A step has a template or variants. A step with variants also stores the first one as its template: the workflow
 * passes the template to the send activity, which sends the enrollment's variant instead (common/analytics/variants.ts).
 */
const stepSchema = z
  .strictObject({
    delaySeconds: z
      .number()
      .int()
      .min(0)
      .max(30 * 24 * 3600),
    template: templateSchema.optional(),
    variants: variantsSchema.optional(),
  })
  .superRefine((step, ctx) => {
    // A step read back carries both, its template the first variant's: saved again as it is, it means the variants.
    const readBack = step.template !== undefined && step.template === step.variants?.[0]?.template;
    if ((step.template === undefined) === (step.variants === undefined) && !readBack)
      ctx.addIssue({ code: 'custom', message: 'give either template or variants', path: ['template'] });
  })
  .transform(({ delaySeconds, template, variants }) =>
    variants
      ? { delaySeconds, template: variants[0]?.template ?? '', variants }
      : { delaySeconds, template: template ?? '' },
  );
export const createSequenceSchema = z.strictObject({
  name: z.string().trim().min(1).max(100),
  steps: z.array(stepSchema).min(1).max(50),
});

const sequenceView = (sequence: SequenceDefinition) => ({
  id: sequence.id,
  name: sequence.name,
  version: sequence.version,
  steps: sequence.steps as unknown as SequenceStep[],
  createdAt: sequence.createdAt.toISOString(),
});

export function sequencesRouter({ db }: { db: Db }): Router {
  const router = Router();

  /** Definitions are immutable: saving a name that exists adds its next version; running enrollments keep theirs. */
  router.post('/sequences', async (req, res) => {
    const tenantId = tenantOf(req);
    const body = parseBody(createSequenceSchema, req.body);
    refuseBookingLinkWithoutUrl(body.steps, await db.tenant.findUniqueOrThrow({ where: { id: tenantId } }), 'steps');
    const sequence = await db.$transaction(async (tx) => {
      // Saves of one name take turns on a lock held until commit, so each reads the version the previous one wrote:
      // concurrent saves get consecutive versions in one pass, where retrying on the unique (tenant, name, version)
      // violation would need as many rounds as there are writers.
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`sequence-name:${tenantId}:${body.name}`}, 0))`;
      const latest = await tx.sequenceDefinition.findFirst({
        where: { tenantId, name: body.name },
        orderBy: { version: 'desc' },
      });
      return tx.sequenceDefinition.create({
        data: { tenantId, name: body.name, version: (latest?.version ?? 0) + 1, steps: body.steps },
      });
    });
    res.status(201).location(`/v1/sequences/${sequence.id}`).json(sequenceView(sequence));
  });

  router.get('/sequences/:sequenceId', async (req, res) => {
    const sequence = await db.sequenceDefinition.findFirst({
      where: { id: idParam(req.params.sequenceId, 'Sequence'), tenantId: tenantOf(req) },
    });
    if (!sequence) throw notFound('Sequence');
    res.json(sequenceView(sequence));
  });

  return router;
}
