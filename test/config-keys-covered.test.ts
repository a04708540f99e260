import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONFIG_COVERAGE, UNPROVEN } from './config-coverage.js';

/*
 * Issue 13 guard: every config key documented in the README (the generated block between the config-docs
 * markers) names a test that proves it takes effect (test/config-coverage.ts), so a key cannot be added
 * untested. The check is mechanical (the file exists and names the key's leaf); that the named test
 * really sets the key off its default and asserts the effect is the reviewer's part.
 */

const root = new URL('../', import.meta.url);
const readme = readFileSync(new URL('README.md', root), 'utf8');
const block = readme.split('<!-- config-docs:start -->')[1]?.split('<!-- config-docs:end -->')[0] ?? '';
const documented = [...block.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]!);
const leaf = (key: string) => key.split('.').at(-1)!;

describe('config keys covered by a test', () => {
  it('the README config block lists keys', () => {
    expect(documented.length).toBeGreaterThan(100);
  });

  it('every documented key names its proving test (or is listed as unproven, with the reason)', () => {
    const missing = documented.filter((k) => !(k in CONFIG_COVERAGE) && !(k in UNPROVEN));
    expect(missing, 'add each to test/config-coverage.ts with a test that fails if the key is ignored').toEqual([]);
  });

  it('the map names only documented keys, each once', () => {
    const known = new Set(documented);
    expect(Object.keys(CONFIG_COVERAGE).filter((k) => !known.has(k))).toEqual([]);
    expect(Object.keys(UNPROVEN).filter((k) => !known.has(k))).toEqual([]);
    expect(Object.keys(UNPROVEN).filter((k) => k in CONFIG_COVERAGE)).toEqual([]);
    for (const [k, why] of Object.entries(UNPROVEN)) expect(why.length, k).toBeGreaterThan(10);
  });

  it('each proving file exists and names the key (its leaf)', () => {
    const bad: string[] = [];
    for (const [key, file] of Object.entries(CONFIG_COVERAGE)) {
      const url = new URL(file, root);
      if (!/\.test\.ts$/.test(file) || !existsSync(url)) {
        bad.push(`${key}: ${file} is not a test file`);
        continue;
      }
      const name = leaf(key).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      if (!new RegExp(`\\b${name}\\b`).test(readFileSync(url, 'utf8'))) bad.push(`${key}: ${file} never names ${leaf(key)}`);
    }
    expect(bad).toEqual([]);
  });
});
