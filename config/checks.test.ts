import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ConfigError, isLoopbackHost, loadConfig } from './load.js';

function issues(overrides: Record<string, unknown>, env: Record<string, string> = {}): string[] {
  try {
    loadConfig({ env, overrides });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues;
  }
  return [];
}

const SMS_OK = {
  enabled: true,
  accessKeyId: 'LTAIid',
  accessKeySecret: 'secret',
  signName: '店铺',
  templateCodes: { hubMoved: 'SMS_1', outForDelivery: 'SMS_2', delivered: 'SMS_3' },
};

describe('channel credentials', () => {
  it('an enabled SMS channel names every missing credential', () => {
    expect(issues({ chases: { channels: { sms: { enabled: true } } } })).toEqual([
      '[chases.channels.sms.accessKeyId] required when SMS is enabled (env ALIYUN_ACCESS_KEY_ID)',
      '[chases.channels.sms.accessKeySecret] required when SMS is enabled (env ALIYUN_ACCESS_KEY_SECRET)',
      '[chases.channels.sms.signName] required when SMS is enabled (the approved SMS signature)',
      '[chases.channels.sms.templateCodes.hubMoved] required when SMS is enabled (approved template code)',
      '[chases.channels.sms.templateCodes.outForDelivery] required when SMS is enabled (approved template code)',
      '[chases.channels.sms.templateCodes.delivered] required when SMS is enabled (approved template code (chases.sendDelivered is on))',
    ]);
    expect(issues({ chases: { channels: { sms: SMS_OK } } })).toEqual([]);
    // Credentials from the environment count; the delivered template is only needed when delivered messages are sent.
    const { accessKeyId: _a, accessKeySecret: _b, ...rest } = SMS_OK;
    expect(issues({ chases: { sendDelivered: false, channels: { sms: { ...rest, templateCodes: { hubMoved: 'A', outForDelivery: 'B', delivered: '' } } } } }, {
      ALIYUN_ACCESS_KEY_ID: 'id',
      ALIYUN_ACCESS_KEY_SECRET: 'sec',
    })).toEqual([]);
  });

  it('robot URLs must carry their key, webhooks their signing secret', () => {
    expect(
      issues({
        outreach: {
          channels: {
            wecom: { enabled: true, url: 'https://qyapi.weixin.qq.com/cgi-bin/webhook/send' },
            dingtalk: { enabled: true, url: 'https://oapi.dingtalk.com/robot/send?access_token=' },
            webhook: { enabled: true, url: 'https://shop.example/hook' },
          },
        },
        chases: { channels: { webhook: { enabled: true, url: 'https://shop.example/customer' } } },
      }),
    ).toEqual([
      '[outreach.channels.webhook.secret] required when the channel is enabled (env OUTREACH_WEBHOOK_SECRET): bodies are signed with it',
      '[chases.channels.webhook.secret] required when the channel is enabled (env CUSTOMER_WEBHOOK_SECRET): bodies are signed with it',
      '[outreach.channels.wecom.url] must carry the robot key (…/cgi-bin/webhook/send?key=…; env WECOM_ROBOT_URL)',
      '[outreach.channels.dingtalk.url] must carry the robot access_token (…/robot/send?access_token=…; env DINGTALK_ROBOT_URL)',
    ]);
    expect(
      issues(
        { outreach: { channels: { wecom: { enabled: true }, dingtalk: { enabled: true } } } },
        { WECOM_ROBOT_URL: 'https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k1', DINGTALK_ROBOT_URL: 'https://oapi.dingtalk.com/robot/send?access_token=t1' },
      ),
    ).toEqual([]);
  });
});

describe('API exposure', () => {
  it('the defaults bind loopback with no token', () => {
    const c = loadConfig({ env: {} });
    expect(c.http.host).toBe('127.0.0.1');
    expect(c.http.apiToken).toBe('');
  });

  it('a non-loopback bind needs a token of 16+ characters', () => {
    const msg = /^\[http\.apiToken\] required when http\.host \(0\.0\.0\.0\) is not loopback: set env PARCELWATCH_API_TOKEN/;
    expect(issues({}, { PARCELWATCH_HTTP_HOST: '0.0.0.0' })).toEqual([expect.stringMatching(msg)]);
    expect(issues({ http: { host: '10.0.0.5' } })).toEqual([expect.stringMatching(/\[http\.apiToken\] required when http\.host \(10\.0\.0\.5\)/)]);
    expect(issues({}, { PARCELWATCH_HTTP_HOST: '0.0.0.0', PARCELWATCH_API_TOKEN: 'short' })).toEqual([
      '[http.apiToken] must be at least 16 characters (e.g. openssl rand -hex 32)',
    ]);
    expect(issues({}, { PARCELWATCH_HTTP_HOST: '0.0.0.0', PARCELWATCH_API_TOKEN: 'a'.repeat(32) })).toEqual([]);
  });

  it('knows loopback addresses', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]', 'LOCALHOST']) expect(isLoopbackHost(h), h).toBe(true);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.1', 'example.com', '127.0.0.1.evil.com']) expect(isLoopbackHost(h), h).toBe(false);
  });
});

describe('docker-compose.yml', () => {
  const compose = parseYaml(readFileSync(new URL('../docker-compose.yml', import.meta.url), 'utf8')) as any;
  const app = compose.services.parcelwatch.environment as Record<string, string>;

  it('takes the database password and the API token from the environment, required, never fixed', () => {
    expect(compose.services.postgres.environment.POSTGRES_PASSWORD).toMatch(/^\$\{POSTGRES_PASSWORD:\?.+\}$/);
    expect(app.DATABASE_URL).toContain('${POSTGRES_PASSWORD:?');
    expect(app.PARCELWATCH_API_TOKEN).toMatch(/^\$\{PARCELWATCH_API_TOKEN:\?.+\}$/);
  });

  it('its environment makes a valid config only with a token', () => {
    // What compose hands the container, with the variables filled in as `docker compose up` would.
    const filled = (token: string) =>
      Object.fromEntries(Object.entries(app).map(([k, v]) => [k, String(v).replace(/\$\{(\w+):\?[^}]*\}/g, (_, name: string) => (name === 'PARCELWATCH_API_TOKEN' ? token : 'pw'))]));
    expect(() => loadConfig({ env: filled('f'.repeat(64)) })).not.toThrow();
    expect(loadConfig({ env: filled('f'.repeat(64)) }).http.host).toBe('0.0.0.0');
    expect(issues({}, filled(''))).toEqual([expect.stringMatching(/^\[http\.apiToken\] required/)]);
  });
});
