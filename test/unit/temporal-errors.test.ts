// Whether a Temporal call that failed may have happened all the same: what a client may tell its caller, and whether
// an enrollment's claim is kept for the run that may have started.
import { describe, expect, it } from 'vitest';
import { asTemporalUnavailable, mayHaveHappened } from '../../api/temporal-errors.js';

const grpc = (code: number, details: string) => Object.assign(new Error(details), { code, details, metadata: {} });

describe('mayHaveHappened', () => {
  it('a deadline after the call was sent (grpc-js names the server it went to): yes', () => {
    expect(mayHaveHappened(grpc(4, 'Deadline exceeded after 10.001s,LB pick: 0.000s,remote_addr=10.0.0.5:7233'))).toBe(
      true,
    );
  });

  it('a deadline while still waiting for a connection, as grpc-js words it with Temporal down: no', () => {
    const waiting = grpc(4, 'Deadline exceeded after 0.001s,waiting for metadata filters');
    expect(mayHaveHappened(waiting)).toBe(false);
    expect(
      mayHaveHappened(grpc(4, 'Deadline exceeded after 10.000s,name resolution: 0.002s,Waiting for LB pick')),
    ).toBe(false);
    expect(asTemporalUnavailable(waiting)?.message).toMatch(/nothing was changed/);
  });

  it('unavailable, or not a gRPC error at all: no', () => {
    expect(mayHaveHappened(grpc(14, 'No connection established'))).toBe(false);
    expect(mayHaveHappened(new Error('remote_addr=x'))).toBe(false);
  });
});
