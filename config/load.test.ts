import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, lateShipmentPolicyFor, loadConfig, redactConfig } from './load.js';

function overrideFile(yaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'pwcfg-'));
  const file = join(dir, 'override.yaml');
  writeFileSync(file, yaml);
  return file;
}

function issuesOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).exitCode).toBe(2);
    return (err as ConfigError).issues;
  }
  throw new Error('expected a ConfigError');
}

describe('config', () => {
  it('loads the defaults', () => {
    const c = loadConfig({ env: {} });
    expect(c.timezone).toBe('Asia/Shanghai');
    expect(c.rules.lateShipment.default.shipWithinHours).toBe(72);
    expect(lateShipmentPolicyFor(c, 'jd').shipWithinHours).toBe(48);
    expect(lateShipmentPolicyFor(c, 'jd').penaltyCapYuan).toBe(30);
  });

  it('deep-merges the override file and lets the environment win', () => {
    const file = overrideFile('rules:\n  stalled:\n    noEventHours: 36\nredis:\n  prefix: shop-a\n');
    const c = loadConfig({ env: { PARCELWATCH_CONFIG: file, REDIS_URL: 'redis://10.0.0.1:6379/3', PORT: '9090' } });
    expect(c.rules.stalled.noEventHours).toBe(36);
    expect(c.rules.stalled.criticalAfterHours).toBe(96);
    expect(c.redis.prefix).toBe('shop-a');
    expect(c.redis.url).toBe('redis://10.0.0.1:6379/3');
    expect(c.http.port).toBe(9090);
  });

  it('names an unknown key with its path', () => {
    const issues = issuesOf(() => loadConfig({ env: {}, overrides: { rules: { stalled: { noEventHour: 3 } } } }));
    expect(issues).toContain('[rules.stalled.noEventHour] unknown key');
  });

  it('names a wrong type, a negative threshold, a bad cron and a bad time zone', () => {
    const issues = issuesOf(() =>
      loadConfig({
        env: {},
        overrides: {
          timezone: 'Asia/Atlantis',
          rules: { undelivered: { afterCollectedHours: -1 }, pickupOverdue: { hours: 'soon' } },
          jobs: { planPolls: { schedule: 'every five minutes' } },
        },
      }),
    );
    const text = issues.join('\n');
    expect(text).toMatch(/\[timezone\] is not a valid IANA time zone/);
    expect(text).toMatch(/\[rules\.undelivered\.afterCollectedHours\]/);
    expect(text).toMatch(/\[rules\.pickupOverdue\.hours\]/);
    expect(text).toMatch(/\[jobs\.planPolls\.schedule\] is not a valid cron expression/);
  });

  it('catches an unknown template placeholder at load time', () => {
    const issues = issuesOf(() => loadConfig({ env: {}, overrides: { outreach: { scripts: { late_shipment: '您好 {customerNmae}' } } } }));
    expect(issues.join('\n')).toMatch(/\[outreach\.scripts\.late_shipment\] unknown placeholder \{customerNmae\}/);
  });

  it('checks keys that relate to each other', () => {
    const issues = issuesOf(() => loadConfig({ env: {}, overrides: { rules: { lateShipment: { default: { warnAtHours: 65 } } } } }));
    expect(issues.join('\n')).toMatch(/\[rules\.lateShipment\.default\.criticalAtHours\] must be greater than warnAtHours/);
    const routed = issuesOf(() => loadConfig({ env: {}, overrides: { providers: { routes: { SF: 'kuaidi100' } } } }));
    expect(routed.join('\n')).toMatch(/\[providers\.routes\.SF\] routes to kuaidi100, which is not enabled/);
  });

  it('rejects a non-integer PORT from the environment', () => {
    const issues = issuesOf(() => loadConfig({ env: { PORT: 'eighty' } }));
    expect(issues).toContain('[http.port] env PORT="eighty" is not an integer');
  });

  it('redacts secrets', () => {
    const c = loadConfig({ env: { KUAIDI100_KEY: 'abc123', DATABASE_URL: 'postgres://u:pw@db/x' } });
    const r = redactConfig(c);
    expect(r.providers.kuaidi100.key).toBe('***');
    expect(r.database.url).not.toContain('pw@');
    expect(c.providers.kuaidi100.key).toBe('abc123');
  });

  it('push mode for Kuaidi100 needs the salt and the callback URL; the salt comes from the environment', () => {
    const file = overrideFile('providers:\n  kuaidi100:\n    enabled: true\n    customer: c\n    key: k\n    mode: push\n');
    const issues = issuesOf(() => loadConfig({ env: { PARCELWATCH_CONFIG: file } }));
    expect(issues.some((i) => i.startsWith('[providers.kuaidi100.salt]'))).toBe(true);
    expect(issues.some((i) => i.startsWith('[providers.kuaidi100.callbackUrl]'))).toBe(true);
    const ok = overrideFile('providers:\n  kuaidi100:\n    enabled: true\n    customer: c\n    key: k\n    mode: both\n    callbackUrl: https://shop.example/hooks/kuaidi100\n');
    const c = loadConfig({ env: { PARCELWATCH_CONFIG: ok, KUAIDI100_SALT: 's4lt', PARCELWATCH_HOOK_SECRET: 'h00k' } });
    expect(c.providers.kuaidi100.salt).toBe('s4lt');
    expect(c.push.hookSecret).toBe('h00k');
    expect(redactConfig(c).providers.kuaidi100.salt).toBe('***');
    expect(issuesOf(() => loadConfig({ env: {}, overrides: { providers: { kdniao: { mode: 'sometimes' as never } } } })).some((i) => i.includes('providers.kdniao.mode'))).toBe(true);
  });
});
