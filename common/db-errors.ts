import { Prisma } from '../generated/prisma/client.js';

/** A unique constraint refused the write: someone else inserted the same key first (the caller decides what that means). */
export const isUniqueViolation = (error: unknown): error is Prisma.PrismaClientKnownRequestError =>
  error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002';
