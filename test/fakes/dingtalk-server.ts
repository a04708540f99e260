import { createHmac } from 'node:crypto';
import { reply, send, startServer, type RunningServer } from './kuaidi100-server.js';

/** One message the fake robot received, and what it answered. */
export interface DingtalkDelivery {
  accessToken: string | null;
  timestamp: number | null;
  body: any;
  errcode: number;
}

export interface DingtalkFake extends RunningServer {
  deliveries: DingtalkDelivery[];
  accepted(): DingtalkDelivery[];
  rejected(): DingtalkDelivery[];
}

/** DingTalk's tolerance between the signed timestamp and its own clock: one hour. */
const MAX_SKEW_MS = 3_600_000;

/**
 * A DingTalk custom robot in signed mode, as DingTalk checks it: POST /robot/send?access_token=…&timestamp=…&sign=…
 * where sign = base64(HmacSHA256(secret, timestamp + "\n" + secret)) and the timestamp must be within an
 * hour of the robot's own wall clock. Anything else is answered like DingTalk does: HTTP 200 with
 * {"errcode":310000,"errmsg":"sign not match, …"}; a good message gets {"errcode":0,"errmsg":"ok"}.
 */
export async function startDingtalkFake(opts: { accessToken: string; secret: string }): Promise<DingtalkFake> {
  const deliveries: DingtalkDelivery[] = [];
  const server = await startServer(async (req, body, res) => {
    const url = new URL(req.url ?? '/', 'http://robot');
    if (req.method !== 'POST' || url.pathname !== '/robot/send') return send(res, reply.status(404, 'not found'));
    const accessToken = url.searchParams.get('access_token');
    const ts = Number(url.searchParams.get('timestamp'));
    const sign = url.searchParams.get('sign') ?? '';
    let json: unknown = null;
    try {
      json = JSON.parse(body);
    } catch {
      json = null;
    }
    const d: DingtalkDelivery = { accessToken, timestamp: Number.isFinite(ts) ? ts : null, body: json, errcode: 0 };
    deliveries.push(d);
    if (accessToken !== opts.accessToken) {
      d.errcode = 300001;
      return send(res, reply.json({ errcode: 300001, errmsg: 'token is not exist' }));
    }
    const want = createHmac('sha256', opts.secret).update(`${ts}\n${opts.secret}`, 'utf8').digest('base64');
    if (!Number.isFinite(ts) || Math.abs(Date.now() - ts) > MAX_SKEW_MS || sign !== want) {
      d.errcode = 310000;
      return send(res, reply.json({ errcode: 310000, errmsg: 'sign not match, more: [https://ding-doc.dingtalk.com/doc#/serverapi2/qf2nxq]' }));
    }
    if (!json || typeof json !== 'object' || (json as { msgtype?: unknown }).msgtype !== 'markdown') {
      d.errcode = 40035;
      return send(res, reply.json({ errcode: 40035, errmsg: '缺少参数 json' }));
    }
    return send(res, reply.json({ errcode: 0, errmsg: 'ok' }));
  });
  return {
    ...server,
    deliveries,
    accepted: () => deliveries.filter((d) => d.errcode === 0),
    rejected: () => deliveries.filter((d) => d.errcode !== 0),
  };
}
