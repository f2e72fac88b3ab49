import type { Prisma } from '../generated/prisma/client.js';
import { erasedClosedReason, haltEnrollments, type HaltReason } from './conversation.js';
import {
  appointmentReplySignal,
  type AppointmentReplySignalInput,
} from '../workflows/appointment-reminder.messages.js';
import {
  optOutSignal,
  inboundReplySignal,
  undeliverableSignal,
  type UndeliverableSignalInput,
} from '../workflows/lead-follow-up.messages.js';

type Tx = Prisma.TransactionClient;
type SignalFor =
  | { signal: typeof optOutSignal.name; payload: { source: string } }
  | { signal: typeof inboundReplySignal.name; payload: { messageSid: string } }
  | { signal: typeof undeliverableSignal.name; payload: Omit<UndeliverableSignalInput, 'enrollmentId'> };

/**
 * Halts a later fact's signal may close the run as: a cancel, which nothing queued delivers (its caller retries the
 * cancellation), and a number found undeliverable, the weakest fact (a STOP or a reply after it says more).
 */
const overtakenHalts = new Set<string>(['cancelled', 'undeliverable']);

function haltOf(signal: SignalFor['signal']): HaltReason {
  if (signal === optOutSignal.name) return 'opted_out';
  return signal === undeliverableSignal.name ? 'undeliverable' : 'replied';
}

/**
 * Queues a signal for every running follow-up of this phone (an opt-out: and every scheduled appointment's run, whose
 * signal of the same name ends it), in the caller's transaction, so the change that
 * causes the signals and the signals themselves commit together; the relay delivers them to Temporal afterwards.
 * The enrollments are marked halted first, so the send gate refuses their steps before any signal arrives.
 */
export async function queueSignalsForPhone(
  tx: Tx,
  tenantId: string,
  phone: string,
  { signal, payload }: SignalFor,
  {
    startedBefore,
    haltedAs = haltOf(signal),
  }: { startedBefore?: Date | undefined; /** An erasure's opt-out halts as `erased`. */ haltedAs?: HaltReason } = {},
): Promise<string[]> {
  const halted = await haltEnrollments(tx, { tenantId, phone, startedBefore }, haltedAs);
  // The first fact stands: a run halted by a STOP, a reply or a booking whose signal is still on its way must close as
  // that, whichever arrives first, so this fact signals only the runs it halted, and those a later fact may overtake.
  // An erasure is final and signals every one.
  const running =
    haltedAs === erasedClosedReason
      ? halted
      : halted.filter((run) => run.haltedBy === haltedAs || overtakenHalts.has(run.haltedBy ?? ''));
  // An opt-out also ends the lead's scheduled appointments (their reminders stop at once, not at the next send).
  const appointments =
    signal === optOutSignal.name
      ? await tx.appointment.findMany({
          where: { tenantId, status: 'scheduled', lead: { phone } },
          select: { workflowId: true },
        })
      : [];
  // Each follow-up's signal names its enrollment: delivered late, it must not end the lead's next one.
  const targets = [
    ...running.map((run) => ({ workflowId: run.workflowId, payload: { ...payload, enrollmentId: run.id } })),
    ...[...new Set(appointments.map((run) => run.workflowId))].map((workflowId) => ({ workflowId, payload })),
  ];
  const queued = await Promise.all(
    targets.map((target) => tx.pendingSignal.create({ data: { tenantId, signal, ...target }, select: { id: true } })),
  );
  return queued.map((row) => row.id);
}

/** Queues a lead's answer for its appointment's reminder workflow, in the transaction that records the answer. */
export async function queueAppointmentReplySignal(
  tx: Tx,
  tenantId: string,
  workflowId: string,
  payload: AppointmentReplySignalInput,
): Promise<string> {
  const row = await tx.pendingSignal.create({
    data: { tenantId, workflowId, signal: appointmentReplySignal.name, payload: { ...payload } },
    select: { id: true },
  });
  return row.id;
}

export const signalNames = {
  optOut: optOutSignal.name,
  inboundReply: inboundReplySignal.name,
  undeliverable: undeliverableSignal.name,
} as const;
