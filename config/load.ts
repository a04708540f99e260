import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { configSchema, ENV_OVERRIDES, SECRET_PATHS, type Config, type LateShipmentPolicy, type Platform } from './schema.js';

export const DEFAULT_CONFIG_PATH = join(dirname(fileURLToPath(import.meta.url)), 'default.yaml');

/** Thrown for any invalid config; `issues` are `[key.path] message` lines. Exit code 2. */
export class ConfigError extends Error {
  readonly exitCode = 2;
  constructor(readonly issues: string[]) {
    super(`invalid config:\n${issues.map((i) => `  ${i}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export interface LoadOptions {
  /** Override file (deep-merged over default.yaml); defaults to env PARCELWATCH_CONFIG. */
  file?: string;
  /** Extra overrides merged last (tests). */
  overrides?: DeepPartial<Config> | Record<string, unknown>;
  /** Environment to read; defaults to process.env. Pass {} to ignore the environment. */
  env?: NodeJS.ProcessEnv;
}

export type DeepPartial<T> = T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Objects merge key by key; arrays and scalars replace. */
export function deepMerge(base: unknown, over: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(over)) return over === undefined ? base : over;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = deepMerge(base[k], v);
  return out;
}

function readYaml(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError([`[${what}] cannot read ${path}: ${(err as Error).message}`]);
  }
  try {
    return parseYaml(text) ?? {};
  } catch (err) {
    throw new ConfigError([`[${what}] ${path} is not valid YAML: ${(err as Error).message}`]);
  }
}

function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let cur = obj;
  for (const k of keys.slice(0, -1)) {
    if (!isPlainObject(cur[k])) cur[k] = {};
    cur = cur[k] as Record<string, unknown>;
  }
  cur[keys.at(-1)!] = value;
}

export function getPath(obj: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((o, k) => (isPlainObject(o) ? o[k] : undefined), obj);
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.map(String).join('.') || '(root)';
}

/** Load, merge and validate. Throws ConfigError naming every bad key. */
export function loadConfig(opts: LoadOptions = {}): Config {
  const env = opts.env ?? process.env;
  let raw = readYaml(DEFAULT_CONFIG_PATH, 'default.yaml');
  const file = opts.file ?? env.PARCELWATCH_CONFIG;
  if (file) {
    const over = readYaml(file, 'PARCELWATCH_CONFIG');
    if (!isPlainObject(over)) throw new ConfigError([`[PARCELWATCH_CONFIG] ${file} must hold a YAML mapping`]);
    raw = deepMerge(raw, over);
  }
  const issues: string[] = [];
  const merged = structuredClone(raw) as Record<string, unknown>;
  for (const [name, { path, type }] of Object.entries(ENV_OVERRIDES)) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    if (type === 'int') {
      const n = Number(value);
      if (!Number.isInteger(n)) issues.push(`[${path}] env ${name}=${JSON.stringify(value)} is not an integer`);
      else setPath(merged, path, n);
    } else setPath(merged, path, value);
  }
  const final = opts.overrides ? (deepMerge(merged, opts.overrides) as Record<string, unknown>) : merged;
  const parsed = configSchema.safeParse(final);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) issues.push(`[${formatPath([...issue.path, key])}] unknown key`);
      } else {
        issues.push(`[${formatPath(issue.path)}] ${issue.message}`);
      }
    }
    throw new ConfigError(issues);
  }
  issues.push(...crossChecks(parsed.data));
  if (issues.length) throw new ConfigError(issues);
  return parsed.data;
}

/** Rules that relate several keys. */
function crossChecks(c: Config): string[] {
  const out: string[] = [];
  const policies: [string, LateShipmentPolicy][] = [['rules.lateShipment.default', c.rules.lateShipment.default]];
  for (const p of Object.keys(c.rules.lateShipment.platforms) as Platform[]) {
    policies.push([`rules.lateShipment.platforms.${p}`, lateShipmentPolicyFor(c, p)]);
  }
  for (const [path, p] of policies) {
    if (!(p.warnAtHours < p.criticalAtHours)) out.push(`[${path}.criticalAtHours] must be greater than warnAtHours (${p.warnAtHours})`);
    if (!(p.criticalAtHours < p.shipWithinHours)) out.push(`[${path}.shipWithinHours] must be greater than criticalAtHours (${p.criticalAtHours})`);
  }
  const pairs: [string, number, number][] = [
    ['rules.fakeShipment.criticalAfterHours', c.rules.fakeShipment.noScanAfterHours, c.rules.fakeShipment.criticalAfterHours],
    ['rules.undelivered.criticalAfterHours', c.rules.undelivered.afterCollectedHours, c.rules.undelivered.criticalAfterHours],
    ['rules.stalled.criticalAfterHours', c.rules.stalled.noEventHours, c.rules.stalled.criticalAfterHours],
  ];
  for (const [path, lo, hi] of pairs) if (!(hi > lo)) out.push(`[${path}] must be greater than ${lo}`);
  const providers = c.providers as unknown as Record<string, { enabled: boolean }>;
  if (!('default' in c.providers.routes)) out.push('[providers.routes.default] is required');
  for (const [carrier, provider] of Object.entries(c.providers.routes)) {
    if (!providers[provider]?.enabled) out.push(`[providers.routes.${carrier}] routes to ${provider}, which is not enabled (providers.${provider}.enabled)`);
  }
  const k = c.providers.kuaidi100;
  if (k.enabled && (!k.customer || !k.key)) out.push('[providers.kuaidi100] enabled but customer/key (env KUAIDI100_KEY) missing');
  if (k.minPollIntervalMinutes < 30) out.push('[providers.kuaidi100.minPollIntervalMinutes] must be at least 30 (Kuaidi100 locks numbers queried more often)');
  const kd = c.providers.kdniao;
  if (kd.enabled && (!kd.eBusinessId || !kd.appKey)) out.push('[providers.kdniao] enabled but eBusinessId/appKey (env KDNIAO_APP_KEY) missing');
  if (c.providers.seventeenTrack.enabled && !c.providers.seventeenTrack.token) out.push('[providers.seventeenTrack.token] required when enabled (env SEVENTEENTRACK_TOKEN)');
  // Pushes are authenticated by their signature only: without the salt none could be verified.
  if (k.enabled && k.mode !== 'poll') {
    if (!k.salt) out.push(`[providers.kuaidi100.salt] required for mode ${k.mode} (env KUAIDI100_SALT): pushes are verified with it`);
    if (!/^https?:\/\//.test(k.callbackUrl)) out.push(`[providers.kuaidi100.callbackUrl] must be an http(s) URL for mode ${k.mode}`);
  }
  for (const [path, ch] of [
    ['outreach.channels.webhook', c.outreach.channels.webhook],
    ['outreach.channels.wecom', c.outreach.channels.wecom],
    ['outreach.channels.dingtalk', c.outreach.channels.dingtalk],
    ['chases.channels.webhook', c.chases.channels.webhook],
  ] as const) {
    if (ch.enabled && !/^https?:\/\//.test(ch.url)) out.push(`[${path}.url] must be an http(s) URL when the channel is enabled`);
  }
  out.push(...channelCredentialChecks(c), ...apiExposureChecks(c));
  if (c.outreach.assignment.mode !== 'pool' && c.outreach.assignment.agents.length === 0) {
    out.push(`[outreach.assignment.agents] must list at least one agent for mode ${c.outreach.assignment.mode}`);
  }
  return out;
}

/**
 * An enabled channel without what it needs would start, then fail every delivery (or, for robots, post
 * nowhere): refuse it at load, naming the key, like a provider without credentials.
 */
function channelCredentialChecks(c: Config): string[] {
  const out: string[] = [];
  for (const [path, ch] of [
    ['outreach.channels.webhook', c.outreach.channels.webhook],
    ['chases.channels.webhook', c.chases.channels.webhook],
  ] as const) {
    const env = path.startsWith('outreach') ? 'OUTREACH_WEBHOOK_SECRET' : 'CUSTOMER_WEBHOOK_SECRET';
    if (ch.enabled && !ch.secret) out.push(`[${path}.secret] required when the channel is enabled (env ${env}): bodies are signed with it`);
  }
  const robotParam = (url: string, name: string) => {
    try {
      return new URL(url).searchParams.get(name) ?? '';
    } catch {
      return '';
    }
  };
  const { wecom, dingtalk } = c.outreach.channels;
  if (wecom.enabled && !robotParam(wecom.url, 'key')) {
    out.push('[outreach.channels.wecom.url] must carry the robot key (…/cgi-bin/webhook/send?key=…; env WECOM_ROBOT_URL)');
  }
  if (dingtalk.enabled && !robotParam(dingtalk.url, 'access_token')) {
    out.push('[outreach.channels.dingtalk.url] must carry the robot access_token (…/robot/send?access_token=…; env DINGTALK_ROBOT_URL)');
  }
  const sms = c.chases.channels.sms;
  if (sms.enabled) {
    const missing = [
      ['accessKeyId', sms.accessKeyId, 'env ALIYUN_ACCESS_KEY_ID'],
      ['accessKeySecret', sms.accessKeySecret, 'env ALIYUN_ACCESS_KEY_SECRET'],
      ['signName', sms.signName, 'the approved SMS signature'],
      ['templateCodes.hubMoved', sms.templateCodes.hubMoved, 'approved template code'],
      ['templateCodes.outForDelivery', sms.templateCodes.outForDelivery, 'approved template code'],
      ...(c.chases.sendDelivered ? [['templateCodes.delivered', sms.templateCodes.delivered, 'approved template code (chases.sendDelivered is on)']] : []),
    ].filter(([, v]) => !v);
    for (const [key, , why] of missing) out.push(`[chases.channels.sms.${key}] required when SMS is enabled (${why})`);
    if (!/^https?:\/\//.test(sms.endpoint)) out.push('[chases.channels.sms.endpoint] must be an http(s) URL when SMS is enabled');
  }
  return out;
}

/** Whether an address only accepts connections from this machine. */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h);
}

/**
 * The API serves customer phone numbers and registers chases that send SMS: open to the network it must
 * have a token. No token is generated behind the operator's back (it would land in logs and differ per
 * replica); start refuses instead, naming the two ways out.
 */
function apiExposureChecks(c: Config): string[] {
  const { host, apiToken } = c.http;
  if (apiToken && apiToken.length < 16) return ['[http.apiToken] must be at least 16 characters (e.g. openssl rand -hex 32)'];
  if (!apiToken && !isLoopbackHost(host)) {
    return [`[http.apiToken] required when http.host (${host}) is not loopback: set env PARCELWATCH_API_TOKEN (e.g. openssl rand -hex 32), or bind http.host to 127.0.0.1`];
  }
  return [];
}

/** The late-shipment policy of a platform: the default with that platform's overrides. */
export function lateShipmentPolicyFor(c: Config, platform: Platform): LateShipmentPolicy {
  return { ...c.rules.lateShipment.default, ...(c.rules.lateShipment.platforms[platform] ?? {}) } as LateShipmentPolicy;
}

/** A deep copy with every secret replaced by "***" (empty secrets stay empty so ops see what is unset). */
export function redactConfig(c: Config): Config {
  const copy = structuredClone(c) as unknown as Record<string, unknown>;
  for (const path of SECRET_PATHS) {
    const v = getPath(copy, path);
    if (typeof v === 'string' && v !== '') setPath(copy, path, path.endsWith('url') ? redactUrl(v) : '***');
  }
  return copy as unknown as Config;
}

function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    for (const key of [...u.searchParams.keys()]) u.searchParams.set(key, '***');
    return u.toString();
  } catch {
    return '***';
  }
}
