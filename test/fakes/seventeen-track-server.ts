import { ReplyQueue, reply, send, startServer, type FakeReply, type RecordedRequest, type RunningServer } from './kuaidi100-server.js';

/** What gettrackinfo says about one number. */
export type SeventeenItem = { trackInfo: Record<string, unknown>; carrier?: number } | { error: { code: number; message: string } };

export interface SeventeenTrackFake extends RunningServer {
  requests: RecordedRequest[];
  registered: Set<string>;
  /** Item-level answers of gettrackinfo for a registered number (last one sticks). */
  script(num: string, ...items: SeventeenItem[]): void;
  /** Whole-call answers for the next calls of an endpoint (consumed, e.g. 429, garbage, delay). */
  scriptCall(endpoint: 'register' | 'gettrackinfo', ...replies: FakeReply[]): void;
  /** Make register refuse this number with `code`. */
  rejectRegister(num: string, code: number, message: string): void;
  /** Forget a registration (the next gettrackinfo answers -18019902). */
  forget(num: string): void;
  /** The carrier auto-detection assigns `num` when register names none (default 3011; 0 = not recognised). */
  autoDetect(num: string, carrier: number): void;
  /**
   * Every call (register or gettrackinfo) holding `num` answers `reply` for the whole call, the others as usual:
   * a provider that fails a batch for one number in it. `null` clears it.
   */
  failHolding(num: string, reply: FakeReply | null): void;
}

export async function startSeventeenTrackFake(opts: { token: string; maxBatch?: number }): Promise<SeventeenTrackFake> {
  const requests: RecordedRequest[] = [];
  const registered = new Set<string>();
  const items = new ReplyQueue<SeventeenItem>();
  const calls = { register: [] as FakeReply[], gettrackinfo: [] as FakeReply[] };
  const registerRejects = new Map<string, { code: number; message: string }>();
  const detected = new Map<string, number>();
  const maxBatch = opts.maxBatch ?? 40;
  const failing = new Map<string, FakeReply>();

  const server = await startServer(async (req, body, res) => {
    const rec: RecordedRequest = { at: Date.now(), method: req.method ?? '', path: req.url ?? '', headers: req.headers, body, numbers: [] };
    requests.push(rec);
    const m = /^\/track\/v2\.2\/(register|gettrackinfo)$/.exec(req.url ?? '');
    if (req.method !== 'POST' || !m) return send(res, reply.status(404, 'not found'));
    const endpoint = m[1] as 'register' | 'gettrackinfo';
    if (req.headers['17token'] !== opts.token) return send(res, reply.json({ code: -18010002, data: { errors: [{ code: -18010002, message: 'invalid key' }] } }, 401));
    if (!String(req.headers['content-type']).startsWith('application/json')) {
      return send(res, reply.json({ code: -18010012, data: { errors: [{ code: -18010012, message: 'invalid format' }] } }));
    }
    let list: unknown;
    try {
      list = JSON.parse(body);
    } catch {
      return send(res, reply.json({ code: -18010012, data: { errors: [{ code: -18010012, message: 'invalid JSON' }] } }));
    }
    if (!Array.isArray(list) || list.some((x) => typeof x !== 'object' || x === null || typeof (x as { number?: unknown }).number !== 'string')) {
      return send(res, reply.json({ code: -18010012, data: { errors: [{ code: -18010012, message: 'invalid data' }] } }));
    }
    if (list.length > maxBatch) return send(res, reply.json({ code: -18010014, data: { errors: [{ code: -18010014, message: 'too many numbers' }] } }));
    const entries = list as { number: string; carrier?: number }[];
    rec.numbers.push(...entries.map((e) => e.number));
    const poison = entries.find((e) => failing.has(e.number));
    if (poison) return send(res, failing.get(poison.number)!);
    const scripted = calls[endpoint].shift();
    if (scripted) return send(res, scripted);

    const accepted: unknown[] = [];
    const rejected: unknown[] = [];
    for (const e of entries) {
      if (endpoint === 'register') {
        const refuse = registerRejects.get(e.number);
        if (refuse) rejected.push({ number: e.number, error: refuse });
        else if (registered.has(e.number)) {
          rejected.push({ number: e.number, error: { code: -18019901, message: `The tracking number '${e.number}' has been registered, don't need to repeat registration.` } });
        } else {
          registered.add(e.number);
          accepted.push({ origin: 1, number: e.number, carrier: e.carrier ?? detected.get(e.number) ?? 3011 });
        }
        continue;
      }
      if (!registered.has(e.number)) {
        rejected.push({ number: e.number, error: { code: -18019902, message: `The tracking number '${e.number}' does not register, please register first.` } });
        continue;
      }
      const it = items.next(e.number) ?? { error: { code: -18019909, message: 'No tracking information at this time.' } };
      if ('error' in it) rejected.push({ number: e.number, error: it.error });
      else accepted.push({ number: e.number, carrier: it.carrier ?? 3011, param: null, tag: null, track_info: it.trackInfo });
    }
    return send(res, reply.json({ code: 0, data: { accepted, rejected } }));
  });
  return {
    ...server,
    requests,
    registered,
    script: (num, ...its) => items.push(num, its),
    scriptCall: (endpoint, ...replies) => void calls[endpoint].push(...replies),
    rejectRegister: (num, code, message) => void registerRejects.set(num, { code, message }),
    forget: (num) => void registered.delete(num),
    autoDetect: (num, carrier) => void detected.set(num, carrier),
    failHolding: (num, r) => void (r ? failing.set(num, r) : failing.delete(num)),
  };
}
