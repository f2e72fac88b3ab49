import type { Client } from '@temporalio/client';

/** What a Temporal call that ran out of time throws (gRPC DEADLINE_EXCEEDED): it may have gone through all the same. */
const deadlineExceeded = () =>
  Object.assign(new Error('Deadline exceeded'), { code: 4, details: 'Deadline exceeded', metadata: {} });

/** A client whose workflow starts reach Temporal and are then answered as a start that ran out of time is. */
export function unansweredStarts(client: Client): Client {
  const bound = <T extends object>(target: T, property: string | symbol) => {
    const value = Reflect.get(target, property, target) as unknown;
    return typeof value === 'function' ? value.bind(target) : value;
  };
  const workflow = new Proxy(client.workflow, {
    get: (target, property) =>
      property === 'start'
        ? async (...args: Parameters<typeof target.start>) => {
            await target.start(...args);
            throw deadlineExceeded();
          }
        : bound(target, property),
  });
  return new Proxy(client, {
    get: (target, property) => (property === 'workflow' ? workflow : bound(target, property)),
  });
}
