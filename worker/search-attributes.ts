import { isGrpcServiceError, type Connection } from '@temporalio/client';
import proto from '@temporalio/proto';
import { searchAttributeKeys } from '../workflows/search-attributes.js';

// A CommonJS package: Node's ESM loader sees only its default export.
const { IndexedValueType } = proto.temporal.api.enums.v1;
const grpcUnimplemented = 12;

/**
 * Registers the project's search attributes on whatever server the connection reaches (dev server, test server,
 * self-hosted cluster); ones already there are left alone, so running it on every start is safe.
 */
export async function registerSearchAttributes(connection: Connection, namespace: string): Promise<string[]> {
  const known = new Set(await listCustomSearchAttributes(connection, namespace));
  const missing = searchAttributeKeys.filter((key) => !known.has(key.name));
  if (missing.length === 0) return [];
  await connection.operatorService.addSearchAttributes({
    namespace,
    searchAttributes: Object.fromEntries(
      missing.map((key) => [key.name, IndexedValueType[`INDEXED_VALUE_TYPE_${key.type}`]]),
    ),
  });
  return missing.map((key) => key.name);
}

async function listCustomSearchAttributes(connection: Connection, namespace: string): Promise<string[]> {
  try {
    const existing = await connection.operatorService.listSearchAttributes({ namespace });
    return Object.keys(existing.customAttributes ?? {});
  } catch (error) {
    // Temporal's Java test server can add search attributes but not list them.
    if (isGrpcServiceError(error) && error.code === grpcUnimplemented) return [];
    throw error;
  }
}
