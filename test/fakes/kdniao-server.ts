import { md5Hex, ReplyQueue, reply, send, startServer, type FakeReply, type RecordedRequest, type RunningServer } from './kuaidi100-server.js';

/** Kdniao EbusinessOrderHandle.aspx fake: verifies EBusinessID, RequestType, DataType and DataSign. */
export interface KdniaoFake extends RunningServer {
  requests: RecordedRequest[];
  script(num: string, ...replies: (FakeReply | Record<string, unknown>)[]): void;
  /** Numbers subscribed (RequestType 1008). */
  subscribed: Set<string>;
  /** Refuse the subscription of `num` with this Reason. */
  refuseSubscribe(num: string, reason: string): void;
  /** Require CustomerName = these last-4 phone digits for `num` (SF). */
  requirePhone(num: string, last4: string): void;
}

function asReply(r: FakeReply | Record<string, unknown>): FakeReply {
  const keys = Object.keys(r);
  const isReply = keys.length > 0 && keys.every((k) => ['status', 'json', 'raw', 'headers', 'delayMs', 'reset'].includes(k));
  return isReply ? (r as FakeReply) : { json: r };
}

export async function startKdniaoFake(opts: { eBusinessId: string; appKey: string }): Promise<KdniaoFake> {
  const requests: RecordedRequest[] = [];
  const scripts = new ReplyQueue<FakeReply>();
  const phones = new Map<string, string>();
  const subscribed = new Set<string>();
  const refusals = new Map<string, string>();
  const fail = (Reason: string, extra: Record<string, unknown> = {}) => reply.json({ EBusinessID: opts.eBusinessId, Success: false, Reason, ...extra });
  const server = await startServer(async (req, body, res) => {
    const rec: RecordedRequest = { at: Date.now(), method: req.method ?? '', path: req.url ?? '', headers: req.headers, body, numbers: [] };
    requests.push(rec);
    if (req.method !== 'POST' || req.url !== '/Ebusiness/EbusinessOrderHandle.aspx') return send(res, reply.status(404, 'not found'));
    const form = new URLSearchParams(body);
    const requestData = form.get('RequestData') ?? '';
    if (form.get('EBusinessID') !== opts.eBusinessId) return send(res, fail('EBusinessID不存在或未授权'));
    // DataSign = base64(lower-case hex md5(RequestData + AppKey)); the form decoding undid the urlencode.
    const expected = Buffer.from(md5Hex(requestData + opts.appKey), 'utf8').toString('base64');
    if (form.get('DataSign') !== expected) return send(res, fail('数据签名验证失败'));
    if (form.get('DataType') !== '2') return send(res, fail('DataType参数错误'));
    const requestType = form.get('RequestType') ?? '';
    if (!['1002', '8001', '1008'].includes(requestType)) return send(res, fail('RequestType参数错误'));
    let data: Record<string, unknown>;
    try {
      data = JSON.parse(requestData) as Record<string, unknown>;
    } catch {
      return send(res, fail('RequestData格式错误'));
    }
    const num = typeof data.LogisticCode === 'string' ? data.LogisticCode : '';
    rec.numbers.push(num);
    if (!num || typeof data.ShipperCode !== 'string' || !data.ShipperCode) return send(res, fail('ShipperCode或LogisticCode不能为空'));
    if (requestType === '1008') {
      // 物流跟踪 subscription: the pushes would go to the back-office callback URL.
      const refusal = refusals.get(num);
      if (refusal) return send(res, fail(refusal));
      subscribed.add(num);
      return send(res, reply.json({ EBusinessID: opts.eBusinessId, UpdateTime: '2021-12-16 08:00:00', Success: true, Reason: '' }));
    }
    const want = phones.get(num);
    if (want !== undefined && data.CustomerName !== want) {
      return send(res, fail('CustomerName手机号后四位不正确', { ShipperCode: data.ShipperCode, LogisticCode: num }));
    }
    const scripted = scripts.next(num);
    if (scripted) return send(res, scripted);
    // Default: the documented no-trace reply.
    return send(res, reply.json({ EBusinessID: opts.eBusinessId, Traces: [], OrderCode: '', ShipperCode: data.ShipperCode, LogisticCode: num, Success: true, Reason: null }));
  });
  return {
    ...server,
    requests,
    script: (num, ...replies) => scripts.push(num, replies.map(asReply)),
    subscribed,
    refuseSubscribe: (num, reason) => void refusals.set(num, reason),
    requirePhone: (num, last4) => void phones.set(num, last4),
  };
}
