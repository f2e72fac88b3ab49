// Tenants and their API keys, for operators (keys are shown once, at creation; only their hashes are stored).
//   npm run admin -- tenant:create <name> <businessName> [region=US] [timeZone=America/New_York]
//   npm run admin -- key:create <tenantId> <keyName>
//   npm run admin -- key:list <tenantId>
//   npm run admin -- key:revoke <keyPrefix or key>
//   npm run admin -- key:rotate <keyPrefix or key> [graceHours=24]   new key now; the old one keeps working for the grace period
//   npm run admin -- enrollment:close <tenantId> <enrollmentId> <ticket…>   after its run was terminated: recorded as its run would
//   npm run admin -- sending pause|resume --tenant <tenantId>|--global [--reason <text>]   the kill switch, audited as admin-cli
//   npm run admin -- senders list | assign <number|MG…> --tenant <tenantId> [--reassign] | remove <number|MG…>
//     which tenant a sender (and so its inbound messages) belongs to, audited as admin-cli; the deployment's own
//     TWILIO_FROM_NUMBER / TWILIO_MESSAGING_SERVICE_SID (from this shell's environment) are shared and refused
import { parseArgs } from 'node:util';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { z } from 'zod';
import { isSupportedCountry } from 'libphonenumber-js';
import { createEnrollmentActivities } from '../activities/enrollments.js';
import { apiKeyPrefixLength, generateApiKey, hashApiKey } from '../api/auth.js';
import { messageValue } from '../api/params.js';
import { globalScope, pauseSending, resumeSending } from '../common/capacity/pauses.js';
import { configSchema, orExit, parseSettings, underCurrentNames } from '../common/config.js';
import { createDb } from '../common/db.js';
import { ianaTimeZone, notAnIanaTimeZone } from '../common/phone.js';
import { tenantTimeZone } from '../common/tenant-time-zone.js';
import { assignSender, listSenders, unassignSender } from '../common/senders.js';
import { temporalConnectionOptions } from '../common/temporal-connection.js';
import { ensureWeeklyReportSchedule } from '../worker/schedules.js';

const usage = `usage: npm run admin -- tenant:create <name> <businessName> [region] [timeZone]
                      | key:create <tenantId> <keyName> | key:list <tenantId> | key:revoke <keyPrefix or key> | key:rotate <keyPrefix or key> [graceHours]
                      | enrollment:close <tenantId> <enrollmentId> <ticket…>
                      | sending pause|resume --tenant <tenantId>|--global [--reason <text>]
                      | senders list | senders assign <number|MG…> --tenant <tenantId> [--reassign] | senders remove <number|MG…>`;
const settings = orExit(() =>
  parseSettings(
    configSchema.pick({
      DATABASE_URL: true,
      TWILIO_FROM_NUMBER: true,
      TWILIO_MESSAGING_SERVICE_SID: true,
      TEMPORAL_ADDRESS: true,
      TEMPORAL_NAMESPACE: true,
      TEMPORAL_TASK_QUEUE: true,
      TEMPORAL_TLS: true,
      TEMPORAL_TLS_CLIENT_CERT_PATH: true,
      TEMPORAL_TLS_CLIENT_KEY_PATH: true,
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: true,
      TEMPORAL_TLS_SERVER_NAME: true,
      TEMPORAL_API_KEY: true,
    }),
    underCurrentNames(process.env).env,
  ),
);
const { DATABASE_URL } = settings;
const db = createDb(DATABASE_URL, { maxConnections: 1 });
const [command, ...args] = process.argv.slice(2);
const out = (value: unknown) => process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
const fail = (message: string): never => {
  process.stderr.write(`${message}\n`);
  process.exit(2);
};

async function createKey(tenantId: string, name: string) {
  const key = generateApiKey();
  await db.apiKey.create({ data: { tenantId, name, prefix: key.prefix, hash: key.hash } });
  return { tenantId, name, prefix: key.prefix, key: key.key };
}

/** A key by its prefix, or by the whole key: the only way to name one whose prefix another key shares. */
async function keyByPrefix(given: string) {
  const whole = given.length > apiKeyPrefixLength;
  const keys = await db.apiKey.findMany({ where: whole ? { hash: hashApiKey(given) } : { prefix: given } });
  if (keys.length !== 1)
    fail(
      keys.length
        ? `prefix ${given} matches ${keys.length} keys (tenants ${keys.map((key) => key.tenantId).join(', ')}): give the whole key`
        : `no key ${whole ? 'is that key' : `with prefix ${given}`}`,
    );
  return keys[0] as (typeof keys)[number];
}

/** A tenant ID that names a tenant, or the command ends saying so (not with the database's error for a bad UUID). */
async function existingTenant(tenantId: string) {
  const tenant = z.uuid().safeParse(tenantId).success ? await db.tenant.findUnique({ where: { id: tenantId } }) : null;
  return tenant ?? fail(`no tenant ${tenantId}`);
}

/** The options after a subcommand; anything it does not know ends the command with the usage. */
function parseOptions<T extends NonNullable<Parameters<typeof parseArgs>[0]>['options']>(args: string[], options: T) {
  try {
    return parseArgs({ args, options });
  } catch (error) {
    return fail(`${error instanceof Error ? error.message : String(error)}\n${usage}`);
  }
}

/** A client of the deployment's Temporal for `use`, closed after it. */
async function withTemporal<T>(use: (client: Client) => Promise<T>): Promise<T> {
  const connection = await Connection.connect({ ...temporalConnectionOptions(settings), connectTimeout: '3s' });
  try {
    return await use(new Client({ connection, namespace: settings.TEMPORAL_NAMESPACE }));
  } finally {
    await connection.close();
  }
}

/**
 * A new tenant's weekly report schedule. The CLI works while Temporal is down: then the next worker start creates it
 * (worker/schedules.ts reconciles every tenant), and this says so on stderr.
 */
async function scheduleWeeklyReport(tenant: { id: string; defaultTimeZone: string }) {
  try {
    await withTemporal((client) => ensureWeeklyReportSchedule(client, settings.TEMPORAL_TASK_QUEUE, tenant));
  } catch (error) {
    process.stderr.write(
      `weekly report schedule not created now (${error instanceof Error ? error.message : String(error)}): the next worker start creates it\n`,
    );
  }
}

/**
 * Records how an enrollment whose run an operator terminated ended, as its run would have: the row and the lead
 * closed, its held messages closed, and `enrollment.closed` for the feed and the CRM. Only once its run has ended: a
 * running one records its own outcome, over this one.
 */
async function closeTerminatedEnrollment(tenantIdAsGiven: string, enrollmentId: string, ticket: string) {
  // The stored IDs from here on: the close's event names them, and the CRM matches them as strings.
  const tenantId = (await existingTenant(tenantIdAsGiven)).id;
  const enrollment = z.uuid().safeParse(enrollmentId).success
    ? await db.enrollment.findFirst({ where: { id: enrollmentId, tenantId } })
    : null;
  if (!enrollment) return fail(`no enrollment ${enrollmentId} of tenant ${tenantId}`);
  if (enrollment.status !== 'running') fail(`enrollment ${enrollmentId} is ${enrollment.status}: nothing to close`);
  if (!enrollment.runId) fail(`enrollment ${enrollmentId} has no run yet: the claim sweeper settles it`);
  // The workflow's latest run, not the row's: a reset's run, or a continued one that never got to record itself, is
  // the one that may still run. One Temporal no longer keeps has ended.
  const status = await withTemporal(async (client) => {
    const latest = await client.workflow.getHandle(enrollment.workflowId).describe();
    return latest.status.name;
  }).catch((error: unknown) =>
    error instanceof WorkflowNotFoundError
      ? 'NOT_FOUND'
      : fail(`Temporal cannot say whether its run has ended: ${String(error)}`),
  );
  if (status === 'RUNNING')
    fail(`its run is still running: cancel it with POST /v1/enrollments/${enrollmentId}/cancel, or terminate it first`);
  const reason = `terminated by an operator: ${ticket}`;
  await createEnrollmentActivities({ db }).recordEnrollmentOutcome({
    tenantId,
    leadId: enrollment.leadId,
    enrollmentId: enrollment.id,
    status: 'cancelled',
    reason,
  });
  out({ enrollmentId: enrollment.id, status: 'cancelled', reason });
}

/** The kill switch for one tenant or for all of them; either is named explicitly, so a typo never pauses everyone. */
async function switchSending(change: string, options: string[]) {
  const { values } = parseOptions(options, {
    tenant: { type: 'string' },
    global: { type: 'boolean' },
    reason: { type: 'string' },
  });
  if (change !== 'pause' && change !== 'resume') fail(usage);
  if (Boolean(values.tenant) === Boolean(values.global)) fail('name exactly one of --tenant <tenantId> and --global');
  // The stored ID, as the send gate looks the pause up by it (as text): `--tenant` may be given in capitals.
  const scope = values.tenant ? (await existingTenant(values.tenant)).id : globalScope;
  const request = { scope, actor: 'admin-cli', reason: values.reason ?? null };
  if (change === 'pause') {
    const pause = await pauseSending(db, request);
    out({ scope, paused: true, since: pause.pausedAt, by: pause.pausedBy, reason: pause.reason });
  } else {
    out({ scope, paused: false, wasPaused: await resumeSending(db, request) });
  }
}

/** Which tenant owns a sender, as the operator routes do it (common/senders.ts). */
async function changeSenders(action: string, options: string[]) {
  if (action === 'list' && !options.length) return out(await listSenders(db));
  const [value = '', ...rest] = options;
  const { values } = parseOptions(rest, { tenant: { type: 'string' }, reassign: { type: 'boolean' } });
  if (!value) return fail(usage);
  if (action === 'remove') {
    const removed = await unassignSender(db, { value, actor: 'admin-cli' });
    return removed ? out({ value, tenantId: removed.tenantId, unassigned: true }) : fail(`no tenant owns ${value}`);
  }
  if (action !== 'assign' || !values.tenant) return fail(usage);
  const sharedSenders = [settings.TWILIO_FROM_NUMBER, settings.TWILIO_MESSAGING_SERVICE_SID].filter(
    (sender): sender is string => Boolean(sender),
  );
  const result = await assignSender(db, {
    value,
    tenantId: values.tenant,
    reassign: values.reassign ?? false,
    actor: 'admin-cli',
    sharedSenders,
  });
  if (result.kind === 'invalid')
    return fail(`${value} is neither an E.164 number nor a Messaging Service SID (MG and 32 hex digits)`);
  if (result.kind === 'shared')
    return fail(`${value} is the deployment's default sender: every tenant without a sender shares it`);
  if (result.kind === 'unknown_tenant') return fail(`no tenant ${values.tenant}`);
  if (result.kind === 'taken')
    return fail(`${value} belongs to tenant ${result.ownerTenantId}: add --reassign to move it`);
  return out({ ...result.sender, previousTenantId: result.previousTenantId, changed: result.kind === 'assigned' });
}

try {
  if (command === 'senders' && args.length >= 1) {
    const [action = '', ...options] = args;
    await changeSenders(action, options);
  } else if (command === 'sending' && args.length >= 1) {
    const [change = '', ...options] = args;
    await switchSending(change, options);
  } else if (command === 'tenant:create' && args.length >= 2) {
    const [name = '', rawBusinessName = '', region = 'US', timeZone = 'America/New_York'] = args;
    // It goes into texts as written, as PATCH /v1/settings takes it.
    const named = messageValue(100).min(1).safeParse(rawBusinessName);
    const businessName = named.success ? named.data : fail(`businessName ${named.error.issues[0]?.message ?? ''}`);
    // Every national number the tenant's leads give is read in this region: one libphonenumber lacks reads none.
    if (!isSupportedCountry(region)) fail(`${region}: unknown ISO 3166 region code (the United Kingdom is GB)`);
    const iana = ianaTimeZone(timeZone) ?? fail(`${timeZone}: ${notAnIanaTimeZone}`);
    const defaultTimeZone =
      (await tenantTimeZone(db, iana)) ??
      fail(`unknown IANA time zone ${timeZone} (give a Region/City name the database knows)`);
    const tenant = await db.tenant.create({
      data: { name, businessName, defaultRegion: region, defaultTimeZone },
    });
    await scheduleWeeklyReport(tenant);
    out(await createKey(tenant.id, 'initial'));
  } else if (command === 'enrollment:close' && args.length >= 3) {
    const [tenantId = '', enrollmentId = '', ...ticket] = args;
    await closeTerminatedEnrollment(tenantId, enrollmentId, ticket.join(' '));
  } else if (command === 'key:create' && args.length === 2) {
    const [tenantId = '', name = ''] = args;
    out(await createKey((await existingTenant(tenantId)).id, name));
  } else if (command === 'key:list' && args.length === 1) {
    const { id: tenantId } = await existingTenant(args[0] ?? '');
    const keys = await db.apiKey.findMany({ where: { tenantId }, orderBy: { createdAt: 'asc' } });
    out(
      keys.map((key) => ({ name: key.name, prefix: key.prefix, createdAt: key.createdAt, revokedAt: key.revokedAt })),
    );
  } else if (command === 'key:revoke' && args.length === 1) {
    const key = await keyByPrefix(args[0] ?? '');
    await db.apiKey.update({ where: { id: key.id }, data: { revokedAt: new Date() } });
    out({ tenantId: key.tenantId, prefix: key.prefix, revoked: true });
  } else if (command === 'key:rotate' && args.length >= 1) {
    const key = await keyByPrefix(args[0] ?? '');
    const graceHours = Number(args[1] ?? 24);
    if (!Number.isFinite(graceHours) || graceHours < 0) fail('graceHours must be a number of hours, 0 or more');
    // A revoked key stays revoked, and one already stopping does not stop later: its grace must not bring it back.
    if (key.revokedAt)
      fail(`key ${key.prefix} is revoked or already rotated (it stops at ${key.revokedAt.toISOString()})`);
    const revokedAt = new Date(Date.now() + graceHours * 3_600_000);
    // Only while it is still unrevoked: a key:revoke landing meanwhile wins, and no new key is made.
    const { count } = await db.apiKey.updateMany({ where: { id: key.id, revokedAt: null }, data: { revokedAt } });
    if (count === 0) fail(`key ${key.prefix} was revoked meanwhile`);
    const replacement = await createKey(key.tenantId, key.name);
    out({ ...replacement, replaces: key.prefix, oldKeyStopsAt: revokedAt });
  } else {
    fail(usage);
  }
} finally {
  await db.$disconnect();
}
