import { isGrpcServiceError, ServiceError } from '@temporalio/client';
import { ApiError } from './errors.js';

const grpcDeadlineExceeded = 4;
const grpcUnavailable = 14;

function grpcError(error: unknown) {
  if (isGrpcServiceError(error)) return error;
  if (error instanceof ServiceError && isGrpcServiceError(error.cause)) return error.cause;
  return undefined;
}

const grpcCode = (error: unknown): number | undefined => grpcError(error)?.code;

/**
 * A call that went unanswered in time after it was sent: Temporal may have done it all the same. grpc-js names the
 * server's address (`remote_addr=`) in a deadline's details once the call has a connection; one that ran out of time
 * still waiting for a connection (Temporal down) never left this process, and changed nothing.
 */
export const mayHaveHappened = (error: unknown): boolean =>
  grpcCode(error) === grpcDeadlineExceeded && (grpcError(error)?.details ?? '').includes('remote_addr=');

/**
 * Only a call that never reached Temporal changed nothing there. One that timed out may have gone through, so the
 * caller is told to read what it changed, or retry with the same Idempotency-Key where the call takes one; any other
 * gRPC error is ours to fix (a 500).
 */
export function asTemporalUnavailable(error: unknown): ApiError | null {
  const code = grpcCode(error);
  if (code === grpcUnavailable || (code === grpcDeadlineExceeded && !mayHaveHappened(error)))
    return new ApiError(503, 'temporal_unavailable', 'Temporal is unavailable; nothing was changed, retry later');
  if (code === grpcDeadlineExceeded) {
    return new ApiError(
      503,
      'temporal_unavailable',
      'Temporal did not answer in time; the change may have happened: read it before trying again, or retry with ' +
        'the same Idempotency-Key where the call takes one',
    );
  }
  return null;
}
