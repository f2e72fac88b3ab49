import { randomUUID } from 'node:crypto';
import type { WorkflowHandle } from '@temporalio/client';
import type { appointmentReminder } from '../../workflows/appointment-reminder.js';
import { appointmentReminderWorkflowId, appointmentReminderWorkflowType, cancelUpdate, rescheduleUpdate, statusQuery } from '../../workflows/appointment-reminder.types.js';
import { scenarioLeadName, type Scenario, type ScenarioContext } from './lead-follow-up-scenarios.js';

/** An appointment `startsInSeconds` away with reminders at the given offsets: real time, so everything is short. */
async function book(context: ScenarioContext, startsInSeconds: number, reminderOffsetsSeconds: number[]): Promise<WorkflowHandle<typeof appointmentReminder>> {
  const { db, client, taskQueue } = context;
  const tenant = await db.tenant.create({ data: { name: `history-${randomUUID()}`, businessName: 'Acme Dental' } });
  const lead = await db.lead.create({ data: { tenantId: tenant.id, phone: `+1555${String(Math.floor(Math.random() * 1e7)).padStart(7, '0')}`, firstName: scenarioLeadName, timeZone: 'Europe/London' } });
  const appointmentId = randomUUID();
  return client.workflow.start<typeof appointmentReminder>(appointmentReminderWorkflowType, {
    taskQueue,
    workflowId: appointmentReminderWorkflowId(tenant.id, appointmentId),
    args: [
      {
        tenantId: tenant.id,
        leadId: lead.id,
        appointmentId,
        startsAt: new Date(Date.now() + startsInSeconds * 1000).toISOString(),
        timeZone: 'Europe/London',
        durationMinutes: 30,
        location: 'Surgery 2',
        notes: null,
        reminderOffsetsSeconds,
        bookedFrom: null,
      },
    ],
  });
}

const untilConfirmed = async (handle: WorkflowHandle<typeof appointmentReminder>) => {
  for (let tries = 0; (await handle.query(statusQuery)).confirmation === 'pending'; tries += 1) {
    if (tries > 100) throw new Error(`${handle.workflowId} sent no confirmation`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
};

export const appointmentReminderScenarios: Scenario[] = [
  {
    name: 'completed',
    async run(context) {
      const handle = await book(context, 4, [2]);
      await handle.result();
      return handle.workflowId;
    },
  },
  {
    name: 'rescheduled',
    async run(context) {
      const handle = await book(context, 3600, [1800]);
      await untilConfirmed(handle);
      await handle.executeUpdate(rescheduleUpdate, { args: [{ startsAt: new Date(Date.now() + 4000).toISOString() }] });
      await handle.result();
      return handle.workflowId;
    },
  },
  {
    name: 'cancelled',
    async run(context) {
      const handle = await book(context, 3600, [1800]);
      await untilConfirmed(handle);
      await handle.executeUpdate(cancelUpdate, { args: [{ notify: true, reason: 'lead called' }] });
      await handle.result().catch(() => undefined);
      return handle.workflowId;
    },
  },
  {
    name: 'sleeping',
    async run(context) {
      const handle = await book(context, 86_400 * 2, [86_400, 3600]);
      await untilConfirmed(handle);
      return handle.workflowId;
    },
  },
];
