// A request racing another, staged: the database as a route sees it, with another request's writes landing right
// after one of the route's reads and before the route acts on what it read.
import type { Db } from '../../common/db.js';

type Table = 'lead' | 'tenantSender' | 'webhookEndpoint' | 'webhookDelivery';

/** `db`, with `meanwhile` run after each `method` call on `table` (its answer read), before the answer is handed back. */
export function afterEachCall(db: Db, table: Table, method: string, meanwhile: () => PromiseLike<unknown>): Db {
  return new Proxy(db, {
    get: (target, property) =>
      property === table
        ? new Proxy(target[table], {
            get: (rows, name) => {
              const original: unknown = Reflect.get(rows, name, rows);
              if (name !== method || typeof original !== 'function') return original;
              return async (...args: unknown[]) => {
                const read: unknown = await Reflect.apply(original, rows, args);
                await meanwhile();
                return read;
              };
            },
          })
        : Reflect.get(target, property, target),
  });
}
