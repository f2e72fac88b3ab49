// The one way scripts and tests stop a child process: ask it (SIGTERM), give it time to finish what it is doing, then
// SIGKILL; resolve once it has exited.
import type { ChildProcess } from 'node:child_process';

export interface StopChildOptions {
  /** How long the child may take after SIGTERM before SIGKILL; 0 sends SIGKILL at once. */
  graceMs: number;
  /** Signal the child's whole process group, not only the child (a child spawned `detached` leads its own group). */
  group?: boolean;
}

export function stopChild(child: ChildProcess, { graceMs, group = false }: StopChildOptions): Promise<void> {
  // Node sets these before it emits 'exit', in the same tick: no exit can slip between this check and the listener.
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const send = (signal: NodeJS.Signals) => {
    if (!group || child.pid === undefined) return void child.kill(signal);
    try {
      process.kill(-child.pid, signal);
    } catch {
      // No such group (the child was not spawned detached, or its group has gone): the child itself then.
      child.kill(signal);
    }
  };
  if (graceMs === 0) {
    send('SIGKILL');
    return exited;
  }
  send('SIGTERM');
  const escalate = setTimeout(() => send('SIGKILL'), graceMs);
  return exited.finally(() => clearTimeout(escalate));
}
