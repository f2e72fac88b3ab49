import { isGrpcServiceError, ServiceError, WorkflowUpdateRPCTimeoutOrCancelledError } from '@temporalio/client';
import { ApiError } from './errors.js';

const grpcDeadlineExceeded = 4;
const grpcUnavailable = 14;

function grpcCode(error: unknown): number | undefined {
  if (isGrpcServiceError(error)) return error.code;
  // The client's own error for an update call past its deadline (or cancelled): the update may have been accepted.
  if (error instanceof WorkflowUpdateRPCTimeoutOrCancelledError) return grpcDeadlineExceeded;
  if (error instanceof ServiceError && isGrpcServiceError(error.cause)) return error.cause.code;
  return undefined;
}

/**
 * A call that went unanswered in time: Temporal may have done it all the same. Even one whose last attempt never got
 * a connection may have landed: the client's retries are new calls, and only the last one's status is reported.
 */
export const mayHaveHappened = (error: unknown): boolean => grpcCode(error) === grpcDeadlineExceeded;

/**
 * Only a call that never reached Temporal changed nothing there. One that timed out may have gone through, so the
 * caller is told to read what it changed, or retry with the same Idempotency-Key where the call takes one; any other
 * gRPC error is ours to fix (a 500).
 */
export function asTemporalUnavailable(error: unknown): ApiError | null {
  const code = grpcCode(error);
  if (code === grpcUnavailable)
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
