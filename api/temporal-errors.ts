import { isGrpcServiceError, ServiceError } from '@temporalio/client';
import { ApiError } from './errors.js';

/** A call that never reached Temporal, or got no answer, changes nothing there: the caller may safely retry. */
export function asTemporalUnavailable(error: unknown): ApiError | null {
  if (!isGrpcServiceError(error) && !(error instanceof ServiceError)) return null;
  return new ApiError(503, 'temporal_unavailable', 'Temporal is unavailable; nothing was changed, retry later');
}
