import type { Client } from '@temporalio/client';

/**
 * What a Temporal call that ran out of time after it was sent throws (gRPC DEADLINE_EXCEEDED, grpc-js naming the server
 * it was sent to): it may have gone through all the same.
 */
const deadlineExceeded = () =>
  Object.assign(new Error('Deadline exceeded'), {
    code: 4,
    details: 'Deadline exceeded after 10.001s,LB pick: 0.000s,remote_addr=127.0.0.1:7233',
    metadata: {},
  });

const bound = <T extends object>(target: T, property: string | symbol) => {
  const value = Reflect.get(target, property, target) as unknown;
  return typeof value === 'function' ? value.bind(target) : value;
};

/**
 * A client whose workflow starts reach Temporal and are then answered as a start that ran out of time is; with
 * `undescribable`, asking about a workflow runs out of time too (Temporal slow to answer anything).
 */
export function unansweredStarts(client: Client, { undescribable = false } = {}): Client {
  const unanswered = <T extends object>(target: T) =>
    new Proxy(target, {
      get: (handle, property) =>
        property === 'describe' ? () => Promise.reject(deadlineExceeded()) : bound(handle, property),
    });
  const workflow = new Proxy(client.workflow, {
    get: (target, property) => {
      if (property === 'start')
        return async (...args: Parameters<typeof target.start>) => {
          await target.start(...args);
          throw deadlineExceeded();
        };
      if (property === 'getHandle' && undescribable)
        return (...args: Parameters<typeof target.getHandle>) => unanswered(target.getHandle(...args));
      return bound(target, property);
    },
  });
  return new Proxy(client, {
    get: (target, property) => (property === 'workflow' ? workflow : bound(target, property)),
  });
}
