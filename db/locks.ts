/** Postgres advisory lock ids, all in one place so two features never share one by accident. */
export const DatabaseLock = {
  Migrate: 7_001_001,
  DetectSweep: 7_001_002,
  OutreachSync: 7_001_003,
  /** Two-key form (this, shipment id): a detection sweep's claim on one parcel (db/queries/exceptions.ts). */
  DetectClaim: 7_001_004,
} as const;
