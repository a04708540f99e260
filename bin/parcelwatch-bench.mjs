#!/usr/bin/env node
// `npm run bench`: the same loader as the CLI, pointed at the benchmark entry.
process.env.PARCELWATCH_ENTRY = 'bench/run';
await import('./parcelwatch.mjs');
