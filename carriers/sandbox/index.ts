import type { Config } from '../../config/schema.js';
import type { TrackingProvider } from '../carrier.js';

/**
 * TEMPORARY STUB created by the carriers-adapters work so carriers/index.ts typechecks before the
 * sandbox simulation lands. The sandbox engineer replaces this file; keep the export signature.
 */
export function createSandboxProvider(_config: Config): TrackingProvider {
  return {
    name: 'sandbox',
    maxBatch: 50,
    track: async (requests) => requests.map((r) => ({ kind: 'not_found' as const, trackingNo: r.trackingNo, message: 'sandbox stub' })),
  };
}
