import { systemClock } from '../domain/clock.js';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Sql } from '../db/client.js';

/**
 * Daemons that schedule or work jobs keep a row in daemon_heartbeats fresh, so `run-once --now` far from
 * wall time can tell that a live daemon would undo (or be undone by) its state. A row rather than an
 * advisory lock: it survives connection poolers (pgbouncer transaction mode drops session locks), needs
 * no connection held for the process lifetime, and ops can read it (`select * from daemon_heartbeats`).
 * seen_at is the database's now(), so only one clock is compared; a crashed daemon's row just goes stale.
 */
export interface Heartbeat {
  instanceId: string;
  stop(): Promise<void>;
}

export async function startHeartbeat(sql: Sql, opts: { role: string; intervalSeconds: number; log: Logger }): Promise<Heartbeat> {
  const instanceId = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const beat = () => sql`
    insert into daemon_heartbeats (instance_id, role, host, pid, started_at, seen_at)
    values (${instanceId}, ${opts.role}, ${hostname()}, ${process.pid}, now(), now())
    on conflict (instance_id) do update set seen_at = now()`;
  // A beat that fails (Postgres blipping) must not stop the daemon: the next interval retries.
  const tryBeat = () => beat().catch((err: Error) => opts.log.warn({ err: { message: err.message } }, 'heartbeat not recorded; next interval retries'));
  await tryBeat();
  const timer = setInterval(() => void tryBeat(), opts.intervalSeconds * 1000);
  timer.unref();
  return {
    instanceId,
    async stop() {
      clearInterval(timer);
      await sql`delete from daemon_heartbeats where instance_id = ${instanceId}`.catch(() => {});
    },
  };
}

export interface LiveDaemon {
  instanceId: string;
  role: string;
  host: string;
  pid: number;
  secondsAgo: number;
}

/** Daemons seen within three heartbeat intervals (one missed beat is not death); week-old rows are dropped. */
export async function liveDaemons(sql: Sql, intervalSeconds: number): Promise<LiveDaemon[]> {
  await sql`delete from daemon_heartbeats where seen_at < now() - interval '7 days'`;
  const rows = await sql`
    select instance_id, role, host, pid, extract(epoch from now() - seen_at)::float8 as ago
    from daemon_heartbeats where seen_at > now() - make_interval(secs => ${intervalSeconds * 3}) order by seen_at desc`;
  return rows.map((r) => ({ instanceId: r.instance_id, role: r.role, host: r.host, pid: r.pid, secondsAgo: Math.round(r.ago) }));
}

/**
 * Why a replay at `at` must not run now, or null. Only an instant further than `maxSkewMinutes` from wall
 * time, either way, is refused: in the future it writes state the daemon's next real cycle undoes (resolved
 * exceptions, cancelled tasks); in the past it resolves what the daemon opened, which then reopens.
 */
export async function replayRefusal(sql: Sql, at: Date, cfg: { maxSkewMinutes: number; heartbeatSeconds: number }, wallMs = systemClock.now().getTime()): Promise<string | null> {
  const skewMinutes = (at.getTime() - wallMs) / 60_000;
  if (Math.abs(skewMinutes) <= cfg.maxSkewMinutes) return null;
  const live = await liveDaemons(sql, cfg.heartbeatSeconds);
  if (!live.length) return null;
  const who = live.map((d) => `${d.role} ${d.host} pid ${d.pid} (seen ${d.secondsAgo}s ago)`).join('; ');
  const dir = skewMinutes > 0 ? 'ahead of' : 'behind';
  return (
    `run-once --now ${at.toISOString()} is ${Math.round(Math.abs(skewMinutes))} min ${dir} wall time (replay.maxSkewMinutes ${cfg.maxSkewMinutes}) ` +
    `and a daemon runs against this database: ${who}. Its next cycle would undo this one. Replay on a copy of the database, stop the daemon, or pass --force.`
  );
}
