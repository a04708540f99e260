import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configKeys, renderConfigDocs } from './docs.js';

describe('config reference', () => {
  it('documents every key with a description and a default', () => {
    for (const k of configKeys()) {
      expect(k.description, k.path).not.toBe('');
      expect(k.default, k.path).not.toBeUndefined();
    }
  });

  it('README carries the current generated reference', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const block = readme.split('<!-- config-docs:start -->')[1]!.split('<!-- config-docs:end -->')[0]!.trim();
    expect(block).toBe(renderConfigDocs().trim());
  });
});
