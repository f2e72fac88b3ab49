// The start command as a user runs it: the whole stack up, a sleeping enrollment, Ctrl-C, and a restart later.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb } from '../../common/db.js';
import { projectRoot } from '../../scripts/stack/paths.js';
import { freePort } from '../../common/free-port.js';

const dataDir = path.join(projectRoot, '.data', `e2e-${process.pid}`);
const ports = { api: 0, temporal: 0, ui: 0, postgres: 0 };
let apiUrl = '';
let env: NodeJS.ProcessEnv = {};

beforeAll(async () => {
  [ports.api, ports.temporal, ports.ui, ports.postgres] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  apiUrl = `http://127.0.0.1:${ports.api}`;
  env = {
    ...process.env,
    DATA_DIR: dataDir,
    API_PORT: String(ports.api),
    DEV_TEMPORAL_PORT: String(ports.temporal),
    DEV_TEMPORAL_UI_PORT: String(ports.ui),
    EMBEDDED_POSTGRES_PORT: String(ports.postgres),
    LOG_LEVEL: 'warn',
    DATABASE_URL: '',
    TEMPORAL_ADDRESS: '',
    TEMPORAL_UI_URL: '',
  };
});
let stack: ChildProcess | undefined;

async function startStack(): Promise<{ output: () => string }> {
  // Its own process group, like a command run from a terminal, so a stop below is a real Ctrl-C.
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
    cwd: projectRoot,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  stack = child;
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`stack not ready in 120 s:\n${output}`)), 120_000);
    child.stdout?.on('data', () => {
      if (output.includes('[start] ready.')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`start exited with ${code}:\n${output}`)));
  });
  return { output: () => output };
}

async function stopStack(): Promise<number | null> {
  const child = stack;
  if (!child || child.exitCode !== null) return child?.exitCode ?? null;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  // What Ctrl-C does: SIGINT to the terminal's whole foreground process group.
  process.kill(-(child.pid ?? 0), 'SIGINT');
  return exited;
}

afterAll(async () => {
  await stopStack();
  rmSync(dataDir, { recursive: true, force: true });
});

async function api(pathname: string, key: string, body?: unknown, method = body ? 'POST' : 'GET') {
  const response = await fetch(`${apiUrl}${pathname}`, {
    method,
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('npm start', () => {
  it('brings the stack up, and a workflow sleeping across a stop and restart finishes after the restart', async () => {
    const first = await startStack();
    expect(first.output()).toContain(`Temporal UI:  http://127.0.0.1:${ports.ui}`);
    expect((await fetch(`http://127.0.0.1:${ports.ui}/`)).status).toBe(200);
    const health = await fetch(`${apiUrl}/health`);
    expect(await health.json()).toMatchObject({ status: 'ok', sms: { mode: 'outbox' } });

    const { apiKey } = JSON.parse(readFileSync(path.join(dataDir, 'dev-api-key'), 'utf8')) as { apiKey: string };
    expect(first.output()).toContain(apiKey);
    // Whatever the hour the test runs at, the message must not wait for tomorrow's sending window.
    expect((await api('/v1/settings', apiKey, { windowStart: '00:00', windowEnd: '24:00' }, 'PATCH')).status).toBe(200);
    const lead = await api('/v1/leads', apiKey, { phone: '07700 900123', firstName: 'Ada' });
    const sequence = await api('/v1/sequences', apiKey, {
      name: 'restart',
      steps: [{ delaySeconds: 6, template: 'Hi {{firstName}}' }],
    });
    const enrollment = await api('/v1/enrollments', apiKey, { leadId: lead.body.id, sequenceId: sequence.body.id });
    expect(enrollment.status).toBe(202);
    const enrolledAt = Date.now();

    expect(await stopStack()).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, enrolledAt + 8000 - Date.now())));

    await startStack();
    await expect
      .poll(async () => (await api(`/v1/enrollments/${String(enrollment.body.id)}`, apiKey)).body.status, {
        timeout: 30_000,
        interval: 500,
      })
      .toBe('completed');
    const after = await api(`/v1/enrollments/${String(enrollment.body.id)}`, apiKey);
    expect(after.body).toMatchObject({ progress: { messagesSent: 1, waitingFor: 'nothing' }, live: null });
    const db = createDb(`postgresql://postgres:postgres@127.0.0.1:${ports.postgres}/leadfollowup`, {
      maxConnections: 1,
    });
    const messages = await db.message.findMany({ where: { enrollmentId: String(enrollment.body.id) } });
    await db.$disconnect();
    expect(messages).toEqual([
      expect.objectContaining({ status: 'simulated', toPhone: '+447700900123', body: 'Hi Ada' }),
    ]);
    expect(await stopStack()).toBe(0);
  }, 300_000);
});
