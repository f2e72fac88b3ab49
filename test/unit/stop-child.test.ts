// stopChild, the one way scripts and tests stop a child process: SIGTERM, a grace, SIGKILL; the whole process group
// when asked.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { stopChild } from '../../scripts/stack/stop-child.js';

/** A Node child that says "ready" once its SIGTERM handling is in place (and, if asked, it has its own child). */
function nodeChild(script: string, options: { detached?: boolean } = {}) {
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'], ...options });
  let output = '';
  const ready = new Promise<string>((resolve) =>
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('ready')) resolve(output);
    }),
  );
  return { child, ready };
}

/** Whether a process still runs (Linux): a zombie has stopped, whoever is yet to reap it. */
const isRunning = (pid: number) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
};

const honoursSigterm = `process.on('SIGTERM', () => process.exit(0)); console.log('ready'); setInterval(() => {}, 1000);`;
const ignoresSigterm = `process.on('SIGTERM', () => {}); console.log('ready'); setInterval(() => {}, 1000);`;

/** Processes a failed test could leave behind. */
const strays: number[] = [];
afterAll(() => {
  for (const pid of strays.filter(isRunning)) process.kill(pid, 'SIGKILL');
});

describe('stopChild', () => {
  it('stops a child that honours SIGTERM with SIGTERM', async () => {
    const { child, ready } = nodeChild(honoursSigterm);
    await ready;
    await stopChild(child, { graceMs: 30_000 });
    expect(child.exitCode).toBe(0);
  });

  it('SIGKILLs a child still running when the grace is over', async () => {
    const { child, ready } = nodeChild(ignoresSigterm);
    await ready;
    await stopChild(child, { graceMs: 200 });
    expect(child.signalCode).toBe('SIGKILL');
  });

  it('SIGKILLs at once with no grace, and resolves for a child already gone', async () => {
    const { child, ready } = nodeChild(ignoresSigterm);
    await ready;
    await stopChild(child, { graceMs: 0 });
    expect(child.signalCode).toBe('SIGKILL');
    await stopChild(child, { graceMs: 0 });
  });

  it('with group, stops what the child started too', async () => {
    const grandchildScript = `setInterval(() => {}, 1000)`;
    const { child, ready } = nodeChild(
      `const grandchild = require('node:child_process').spawn(process.execPath, ['-e', ${JSON.stringify(grandchildScript)}], { stdio: 'ignore' });
       console.log('ready ' + grandchild.pid); setInterval(() => {}, 1000);`,
      { detached: true },
    );
    const grandchildPid = Number(/ready (\d+)/.exec(await ready)?.[1]);
    strays.push(grandchildPid);
    expect(isRunning(grandchildPid)).toBe(true);
    await stopChild(child, { graceMs: 30_000, group: true });
    await expect.poll(() => isRunning(grandchildPid)).toBe(false);
  });
});
