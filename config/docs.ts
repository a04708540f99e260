import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { DEFAULT_CONFIG_PATH, getPath } from './load.js';
import { configSchema } from './schema.js';

/** Walk the schema: every leaf key with its description (from .describe()) and its default (from default.yaml). */
export function configKeys(): { path: string; description: string; default: unknown }[] {
  const defaults = parseYaml(readFileSync(DEFAULT_CONFIG_PATH, 'utf8'));
  const out: { path: string; description: string; default: unknown }[] = [];
  const walk = (schema: z.ZodType, path: string, inherited: string) => {
    const description = schema.description ?? inherited;
    if (schema instanceof z.ZodObject) {
      for (const [k, v] of Object.entries(schema.shape as Record<string, z.ZodType>)) walk(v, path ? `${path}.${k}` : k, '');
      return;
    }
    out.push({ path, description, default: getPath(defaults, path) });
  };
  walk(configSchema, '', '');
  return out;
}

export function renderConfigDocs(): string {
  const lines = ['| key | default | meaning |', '|---|---|---|'];
  for (const k of configKeys()) {
    const def = JSON.stringify(k.default) ?? '';
    const shown = def.length > 60 ? `${def.slice(0, 57)}…"` : def;
    lines.push(`| \`${k.path}\` | \`${shown.replace(/\|/g, '\\|')}\` | ${k.description.replace(/\|/g, '\\|')} |`);
  }
  return `${lines.join('\n')}\n`;
}
