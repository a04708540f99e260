#!/usr/bin/env node
// Runs the TypeScript sources through tsx in a checkout (no build step after `npm ci`);
// in the container image, where dev dependencies are absent, runs the compiled dist/.
import { existsSync } from 'node:fs';
import { register as registerHook } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// Before anything imports postgres: repairs its crash on a Postgres restart (see postgres-fix.mjs).
registerHook('./postgres-fix.mjs', import.meta.url);
const entry = process.env.PARCELWATCH_ENTRY ?? 'worker/main';
let useTsx = true;
try {
  const { register } = await import('tsx/esm/api');
  register();
} catch {
  useTsx = false;
}
const file = useTsx ? join(root, `${entry}.ts`) : join(root, 'dist', `${entry}.js`);
if (!existsSync(file)) {
  process.stderr.write(`parcelwatch: ${file} not found (run npm ci, or npm run build for dist/)\n`);
  process.exit(1);
}
await import(pathToFileURL(file).href);
