import { Prisma } from '../generated/prisma/client.js';

/** A unique constraint refused the write: someone else inserted the same key first (the caller decides what that means). */
export const isUniqueViolation = (error: unknown): error is Prisma.PrismaClientKnownRequestError =>
  error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002';

/** PostgreSQL's SQLSTATE for an error it raised, as Prisma's driver adapter passes it on. */
function sqlStateOf(error: unknown): string | undefined {
  if (!(error instanceof Prisma.PrismaClientKnownRequestError)) return undefined;
  // The adapter gives the errors it knows a kind of their own, keeping PostgreSQL's code as `originalCode`.
  const cause = (error.meta?.driverAdapterError as { cause?: { code?: unknown; originalCode?: unknown } } | undefined)
    ?.cause;
  const code = cause?.originalCode ?? cause?.code;
  return typeof code === 'string' ? code : undefined;
}

/** PostgreSQL refused the data itself (class 22: a NUL byte in text, a value out of range): the same write always fails. */
export const isDataException = (error: unknown): boolean => sqlStateOf(error)?.startsWith('22') ?? false;
