import { Writable } from 'node:stream';
import { createLogger } from '../../worker/logger.js';

/** A logger at `level` whose JSON lines land in `lines` (assert on what the daemon said). */
export function captureLog(level = 'info') {
  const lines: Record<string, unknown>[] = [];
  const dest = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { lines, log: createLogger(level, { pretty: false, destination: dest }) };
}
