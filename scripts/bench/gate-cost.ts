// What the send gate costs per send: the statements its transaction runs and how long it takes, on an embedded
// PostgreSQL of its own. Sequence steps (opt-out, enrollment, caps across enrollments) and appointment messages.
//   npm run bench:gate            (GATE_SENDS=2000 by default)
import { rmSync } from 'node:fs';
import path from 'node:path';
import { PrismaPg } from '@prisma/adapter-pg';
import { createSendGate, type GateSubject } from '../../activities/send-gate.js';
import { PrismaClient, type Message } from '../../generated/prisma/client.js';
import { createOutboundMessage } from '../db/outbound-message.js';
import { applyMigrations } from '../db/schema-engine.js';
import { dataDir, migrationsDir } from '../stack/paths.js';
import { freePort } from '../../common/free-port.js';
import { startEmbeddedPostgres } from '../stack/postgres.js';

const sends = Number(process.env.GATE_SENDS ?? 2000);
const dir = path.join(dataDir, `gate-cost-${process.pid}`);
const database = await startEmbeddedPostgres({ dir, port: await freePort(), database: 'gate_cost' });
const statements = { count: 0 };
const db = new PrismaClient({
  adapter: new PrismaPg({ connectionString: database.url, max: 4 }),
  log: [{ emit: 'event', level: 'query' }],
});
db.$on('query', () => {
  statements.count += 1;
});

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;

try {
  await applyMigrations({ databaseUrl: database.url, migrationsDir });
  const gate = createSendGate({ db });
  const tenant = await db.tenant.create({
    data: {
      name: 'gate-cost',
      businessName: 'Acme',
      windowStart: '00:00',
      windowEnd: '24:00',
      minGapSeconds: 0,
      maxPerDay: 1000,
    },
  });
  const sequence = await db.sequenceDefinition.create({
    data: { tenantId: tenant.id, name: 's', version: 1, steps: [] },
  });

  /** One lead with some history (three sent messages today), and the pending row of the send under test. */
  async function pendingSend(i: number, kind: GateSubject['kind']): Promise<{ row: Message; subject: GateSubject }> {
    const lead = await db.lead.create({
      data: { tenantId: tenant.id, phone: `+1555${String(i).padStart(7, '0')}`, timeZone: 'America/New_York' },
    });
    const enrollment = await db.enrollment.create({
      data: { tenantId: tenant.id, leadId: lead.id, sequenceId: sequence.id, workflowId: `wf-${i}` },
    });
    for (let sent = 0; sent < 3; sent += 1) {
      await createOutboundMessage(db, lead, {
        enrollmentId: enrollment.id,
        body: 'x',
        status: 'delivered',
        sentAt: new Date(Date.now() - (sent + 1) * 60_000),
      });
    }
    if (kind === 'step') {
      const row = await createOutboundMessage(db, lead, {
        enrollmentId: enrollment.id,
        body: 'step',
        status: 'pending',
      });
      return { row, subject: { kind: 'step', enrollmentId: enrollment.id } };
    }
    const startsAt = new Date(Date.now() + 86_400_000);
    const appointment = await db.appointment.create({
      data: {
        id: crypto.randomUUID(),
        tenantId: tenant.id,
        leadId: lead.id,
        startsAt,
        timeZone: 'America/New_York',
        durationMinutes: 30,
        reminderOffsetsSeconds: [3600],
        workflowId: `appt-${i}`,
      },
    });
    const row = await createOutboundMessage(db, lead, {
      appointmentId: appointment.id,
      body: 'reminder',
      status: 'pending',
    });
    return {
      row,
      subject: {
        kind: 'appointment',
        appointmentId: appointment.id,
        message: 'reminder',
        startsAt: startsAt.toISOString(),
      },
    };
  }

  for (const kind of ['step', 'appointment'] as const) {
    const prepared = [];
    for (let i = 0; i < sends; i += 1) prepared.push(await pendingSend(kind === 'step' ? i : sends + i, kind));
    const times: number[] = [];
    statements.count = 0;
    for (const { row, subject } of prepared) {
      const started = performance.now();
      const decision = await gate.claim(row, 1, subject);
      times.push(performance.now() - started);
      if (decision.kind !== 'claimed') throw new Error(`expected a claim, got ${JSON.stringify(decision)}`);
    }
    times.sort((a, b) => a - b);
    const fmt = (ms: number) => ms.toFixed(2);
    process.stdout.write(
      `${kind}: ${sends} claims, ${(statements.count / sends).toFixed(1)} statements each (as Prisma logs them), p50 ${fmt(percentile(times, 50))} ms, p95 ${fmt(percentile(times, 95))} ms, p99 ${fmt(percentile(times, 99))} ms\n`,
    );
  }
} finally {
  await db.$disconnect();
  await database.stop();
  rmSync(dir, { recursive: true, force: true });
}
