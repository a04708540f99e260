import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config/load.js';
import { pickTarget } from '../ingest/push.js';
import { hookFor } from './hooks.js';

describe('hookFor', () => {
  it('answers /hooks/<provider> without a hook secret, and only /hooks/<provider>/<secret> with one', () => {
    const open = loadConfig({ env: {} });
    expect(hookFor('/hooks/kuaidi100', open)?.provider).toBe('kuaidi100');
    expect(hookFor('/hooks/17track', open)?.provider).toBe('seventeenTrack');
    expect(hookFor('/hooks/kdniao/', open)?.provider).toBe('kdniao');
    expect(hookFor('/hooks/kuaidi100/s3cret', open)).toBeNull();
    expect(hookFor('/hooks/aftership', open)).toBeNull();
    const secret = loadConfig({ env: { PARCELWATCH_HOOK_SECRET: 's3cret' } });
    expect(hookFor('/hooks/kuaidi100', secret)).toBeNull();
    expect(hookFor('/hooks/kuaidi100/wrong', secret)).toBeNull();
    expect(hookFor('/hooks/kuaidi100/s3cret', secret)?.provider).toBe('kuaidi100');
  });
});

describe('pickTarget', () => {
  const a = { id: 1, carrier: 'ZTO', trackingNo: 'N1' };
  const b = { id: 2, carrier: 'YTO', trackingNo: 'N1' };
  it('prefers the carrier the push names, then the corrected one, then the one routed to this provider', () => {
    expect(pickTarget([a, b], { carrier: 'YTO', correctedCarrier: null }, () => false)).toBe(b);
    expect(pickTarget([a, b], { carrier: 'SF', correctedCarrier: 'ZTO' }, () => false)).toBe(a);
    expect(pickTarget([a, b], { carrier: null, correctedCarrier: null }, (c) => c === 'YTO')).toBe(b);
    expect(pickTarget([a, b], { carrier: null, correctedCarrier: null }, () => false)).toBe(a);
    expect(pickTarget([], { carrier: 'YTO', correctedCarrier: null }, () => true)).toBeNull();
  });
});
