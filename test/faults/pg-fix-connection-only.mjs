// Loader hook for the driver tests: bin/postgres-fix.mjs's repairs of src/connection.js only, so a test can
// show what the repairs of src/index.js (the pool, reserve, begin) add on a driver that no longer crashes.
import { repair } from '../../bin/postgres-fix.mjs';

export async function load(url, context, nextLoad) {
  const result = await nextLoad(url, context);
  if (!/\/node_modules\/postgres\/src\/connection\.js$/.test(url) || result.source == null) return result;
  return { ...result, source: repair(String(result.source), 'connection.js') };
}
