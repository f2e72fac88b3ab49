// What the gates cost per send: the statements each runs, how long it takes and the CPU it costs this process (what a
// worker pays), on an embedded PostgreSQL of its own. The send gate's claim for sequence steps (opt-out, enrollment,
// caps across enrollments) and appointment messages; the capacity gate's reservation (kill switch, warm-up, budgets,
// throughput).
//   npm run bench:gate            (GATE_SENDS=2000 by default)
import { rmSync } from 'node:fs';
import path from 'node:path';
import { createSendGate, type GateSubject } from '../../activities/send-gate.js';
import { createCapacityGate } from '../../common/capacity/gate.js';
import { roomyCapacity } from '../../common/capacity/settings.js';
import { createDb } from '../../common/db.js';
import { Prisma, type Message } from '../../generated/prisma/client.js';
import { createOutboundMessage } from '../db/outbound-message.js';
import { applyMigrations } from '../db/schema-engine.js';
import { dataDir, migrationsDir } from '../stack/paths.js';
import { freePort } from '../../common/free-port.js';
import { startEmbeddedPostgres } from '../stack/postgres.js';

const sends = Number(process.env.GATE_SENDS ?? 2000);
const dir = path.join(dataDir, `gate-cost-${process.pid}`);
const database = await startEmbeddedPostgres({ dir, port: await freePort(), database: 'gate_cost' });
const statements = { count: 0 };
const db = createDb(database.url, {
  maxConnections: 4,
  onStatement: () => {
    statements.count += 1;
  },
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
      // Set, so each reservation takes all three counts: the number's warm-up day and both budgets.
      dailyBudget: new Prisma.Decimal(1_000_000),
      monthlyBudget: new Prisma.Decimal(1_000_000),
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
        waitsForChanges: true,
        startsAt: startsAt.toISOString(),
      },
    };
  }

  /** Runs `each` for every item, one after another: statements, latency and this process's CPU per call. */
  async function measure<T>(label: string, items: T[], each: (item: T) => Promise<void>): Promise<void> {
    const times: number[] = [];
    statements.count = 0;
    const cpuBefore = process.cpuUsage();
    for (const item of items) {
      const started = performance.now();
      await each(item);
      times.push(performance.now() - started);
    }
    const cpu = process.cpuUsage(cpuBefore);
    times.sort((a, b) => a - b);
    const fmt = (ms: number) => ms.toFixed(2);
    process.stdout.write(
      `${label}: ${items.length} calls, ${(statements.count / items.length).toFixed(1)} statements each (Prisma's and the direct ones, without BEGIN), p50 ${fmt(percentile(times, 50))} ms, p95 ${fmt(percentile(times, 95))} ms, p99 ${fmt(percentile(times, 99))} ms, ${fmt((cpu.user + cpu.system) / 1000 / items.length)} ms of this process's CPU each\n`,
    );
  }

  const prepare = async (kind: GateSubject['kind'], offset: number) => {
    const prepared = [];
    for (let i = 0; i < sends; i += 1) prepared.push(await pendingSend(offset + i, kind));
    return prepared;
  };
  for (const [kind, offset] of [
    ['step', 0],
    ['appointment', sends],
  ] as const) {
    await measure(`${kind} claims`, await prepare(kind, offset), async ({ row, subject }) => {
      const decision = await gate.claim(row, 1, subject);
      if (decision.kind !== 'claimed') throw new Error(`expected a claim, got ${JSON.stringify(decision)}`);
    });
  }
  const capacity = createCapacityGate({ db, settings: roomyCapacity });
  await measure('capacity reservations', await prepare('step', 2 * sends), async ({ row }) => {
    const decision = await capacity.reserve({
      messageId: row.id,
      tenantId: tenant.id,
      sender: '+15005550006',
      cost: capacity.price(row.body).cost,
      appointment: false,
      previous: [],
    });
    if (!decision.ok) throw new Error(`expected a reservation, got ${JSON.stringify(decision.wait)}`);
  });
} finally {
  await db.$disconnect();
  await database.stop();
  rmSync(dir, { recursive: true, force: true });
}
