/** Postgres advisory lock ids, all in one place so two features never share one by accident. */
export const DatabaseLock = {
  Migrate: 7_001_001,
  DetectSweep: 7_001_002,
  OutreachSync: 7_001_003,
} as const;
