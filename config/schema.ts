import { validate as validateCron } from 'node-cron';
import { z } from 'zod';

/**
 * The one config schema. Every key is required here and documented with `.describe()`;
 * the defaults live in config/default.yaml (with a comment per key), and the README's config
 * reference is generated from both (`parcelwatch config docs`).
 * Objects are strict: an unknown key is an error naming its path.
 */

const nonNeg = () => z.number().nonnegative();
const pos = () => z.number().positive();
const posInt = () => z.number().int().positive();

export const cronExpr = () =>
  z.string().refine((v) => validateCron(v), { message: 'is not a valid cron expression' });

export const timeZone = () =>
  z.string().refine(
    (tz) => {
      try {
        new Intl.DateTimeFormat('en-US', { timeZone: tz });
        return true;
      } catch {
        return false;
      }
    },
    { message: 'is not a valid IANA time zone' },
  );

const hhmm = () => z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM (24 h)');

/** A message template; `{name}` placeholders must be among `allowed` (checked at config load, not at send time). */
export function template(allowed: readonly string[]) {
  return z.string().superRefine((text, ctx) => {
    for (const m of text.matchAll(/\{(\w+)\}/g)) {
      if (!allowed.includes(m[1]!)) {
        ctx.addIssue({
          code: 'custom',
          message: `unknown placeholder {${m[1]}}; allowed: ${allowed.map((a) => `{${a}}`).join(' ')}`,
        });
      }
    }
  });
}

export const PLATFORMS = ['taobao', 'tmall', 'jd', 'pdd', 'douyin', 'other'] as const;
export type Platform = (typeof PLATFORMS)[number];

export const EXCEPTION_TYPES = [
  'late_shipment',
  'fake_shipment_risk',
  'undelivered_3d',
  'tracking_stalled',
  'carrier_problem',
  'delivery_overdue',
  'pickup_overdue',
  'route_overdue',
] as const;
export type ExceptionType = (typeof EXCEPTION_TYPES)[number];

export const SEVERITIES = ['info', 'warning', 'critical', 'breach'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** Placeholders every agent script may use (filled from the order, shipment and exception). */
export const SCRIPT_PLACEHOLDERS = [
  'customerName',
  'orderId',
  'platform',
  'carrierName',
  'trackingNo',
  'lastEvent',
  'lastHub',
  'lastEventAt',
  'paidAt',
  'deadline',
  'hoursLeft',
  'hoursOverdue',
  'ageHours',
  'penaltyYuan',
  'normalTransitDays',
  'normalArrival',
  'compensationYuan',
  'perDayLateYuan',
  'shipDate',
  'reason',
] as const;

/** Placeholders customer messages may use. */
export const CUSTOMER_PLACEHOLDERS = [
  'customerName',
  'orderId',
  'carrierName',
  'trackingNo',
  'hub',
  'time',
  'status',
  'normalArrival',
] as const;

const lateShipmentPolicy = z.strictObject({
  shipWithinHours: pos().describe('Hours after payment by which the carrier must have collected (72 h on Taobao/Tmall).'),
  warnAtHours: pos().describe('Order age (hours since payment) at which a warning opens.'),
  criticalAtHours: pos().describe('Order age at which the exception escalates to critical.'),
  penaltyRate: z.number().min(0).max(1).describe('Share of the order amount paid to the buyer on a breach (0.05 = 5 %).'),
  penaltyCapYuan: nonNeg().describe('Cap of the buyer compensation in yuan.'),
  penaltyPoints: nonNeg().describe('Shop points deducted on a breach.'),
});
export type LateShipmentPolicy = z.infer<typeof lateShipmentPolicy>;

const providerCommon = {
  enabled: z.boolean().describe('Whether this provider may be used.'),
  baseUrl: z.url().describe('Base URL; the real API path is appended.'),
  qps: pos().describe('Requests per second allowed by the provider, held across all worker processes at the point of sending (a shared window in Redis; each process also has its own gate, and the poll queue limiter paces job starts).'),
  concurrency: posInt().describe(
    'Poll jobs processed at once for this provider, per process. Poll jobs are I/O-bound: keep it at least qps × the provider\'s answer time (in seconds), else the daemon rather than the provider\'s limit caps the rate; qps is enforced by the limiter whatever this is. Capped at what qps lets through in 1 s plus timeoutMs (more would only wait).',
  ),
  timeoutMs: posInt().describe('HTTP timeout per request.'),
  minPollIntervalMinutes: pos().describe('Never query one number more often than this (per-number floor).'),
};

/** How a provider's tracking reaches us (see README "Push ingestion"). */
export const INGEST_MODES = ['poll', 'push', 'both'] as const;
export type IngestMode = (typeof INGEST_MODES)[number];
const ingestMode = () =>
  z
    .enum(INGEST_MODES)
    .describe(
      'poll: query only. push: subscribe and receive pushes; poll only as the fallback (no push for push.fallbackAfterHours, collection near the ship deadline, failed subscription). both: subscribe and keep polling on the normal schedule.',
    );

const channelWebhook = z.strictObject({
  enabled: z.boolean().describe('Deliver to this channel.'),
  url: z.string().describe('Endpoint URL (empty when disabled).'),
  secret: z.string().describe('HMAC-SHA256 signing secret (secret; env overrides).'),
  timeoutMs: posInt().describe('HTTP timeout per delivery.'),
});

const robotChannel = z.strictObject({
  enabled: z.boolean().describe('Deliver to this group robot.'),
  url: z.string().describe('Robot webhook URL (contains the robot key; treated as a secret).'),
  secret: z.string().describe('DingTalk: the signing secret for signed-URL mode (empty = keyword/IP mode). WeCom: unused.'),
  timeoutMs: posInt().describe('HTTP timeout per delivery.'),
  showPhone: z
    .boolean()
    .describe('Show customer phone numbers in full in this group chat; false masks them (138****1234), since everyone in the group reads them.'),
});

export const configSchema = z.strictObject({
  timezone: timeZone().describe('Business time zone: schedules, quiet hours and carriers\' local timestamps.'),
  log: z.strictObject({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).describe('pino log level.'),
  }),
  database: z.strictObject({
    url: z.string().min(1).describe('Postgres URL (env DATABASE_URL).'),
    poolSize: posInt().describe('Max connections per process in the shared pool (API, scheduler, notifications, run-once, and any queue without a pool of its own).'),
    statementTimeoutMs: posInt().describe('Server-side statement_timeout of the daemon\'s connections (ms): a stuck statement fails and its job is retried. Not applied to migrations and imports.'),
    pools: z
      .strictObject({
        polls: posInt().describe('Connections of the poll workers\' own pool (poll-<provider> queues), so sweeps can never take the connections polling needs.'),
        sweeps: posInt().describe('Connections of the sweep pool (schedules, detection and outreach queues); also bounds how many sweep batches run at once.'),
      })
      .describe('Worker pools besides the shared one; only processes that run workers open them.'),
  }),
  redis: z.strictObject({
    url: z.string().min(1).describe('Redis URL, db index honoured (env REDIS_URL).'),
    prefix: z.string().min(1).regex(/^[\w.-]+$/, 'only letters, digits, _ . -').describe('BullMQ key prefix, so deployments can share one Redis.'),
  }),
  http: z.strictObject({
    port: z.number().int().min(0).max(65535).describe('HTTP port (env PORT).'),
    host: z.string().min(1).describe('Listen address (env PARCELWATCH_HTTP_HOST). Anything but loopback requires apiToken.'),
    apiToken: z
      .string()
      .describe('Bearer token required on /api/* (env PARCELWATCH_API_TOKEN). Required unless host is loopback; at least 16 characters when set.'),
    bodyLimitBytes: posInt().describe('Largest accepted request body; larger answers 413.'),
    maxOrdersPerRequest: posInt().describe('Most orders in one POST /api/orders.'),
  }),
  shutdown: z.strictObject({
    graceMs: posInt().describe('How long in-flight jobs may run on SIGTERM before the process exits 1.'),
  }),
  queues: z.strictObject({
    keepCompletedSeconds: posInt().describe('Completed jobs are kept this long; must cover the longest schedule period (slot dedupe window).'),
    keepFailedSeconds: posInt().describe('Failed jobs are kept this long for inspection.'),
    concurrency: z.strictObject({
      schedules: posInt().describe('Jobs at once per process on the schedules queue (plan-polls, sweeps).'),
      detection: posInt().describe('Jobs at once per process on the detection queue.'),
      outreach: posInt().describe('Jobs at once per process on the outreach queue (task sync).'),
      deliveries: posInt().describe('Agent deliveries at once per process, on their own queue: a slow agent endpoint holds these slots only, never a sweep\'s (no transaction is held across the call).'),
      notifications: posInt().describe('Jobs at once per process on the notifications queue (chasers, customer messages).'),
    }),
  }),
  jobs: z.strictObject({
    planPolls: z.strictObject({
      schedule: cronExpr().describe('When due shipments are enqueued for polling.'),
      pageSize: posInt().describe('Shipments read and enqueued per page.'),
    }),
    detectExceptions: z.strictObject({
      schedule: cronExpr().describe('Time-based detection sweep.'),
      batchSize: posInt().describe('Shipments evaluated per batch.'),
      concurrency: posInt().describe('Batches in flight at once in one sweep (each holds a database connection).'),
    }),
    syncOutreach: z.strictObject({
      schedule: cronExpr().describe('Create, update and cancel outreach tasks from open exceptions; escalate overdue tasks.'),
      batchSize: posInt().describe('Orders synced per transaction (one set-based write per kind of change).'),
      concurrency: posInt().describe('Pages in flight at once in one sync (each holds a database connection); pages never share an order.'),
    }),
    sendNotifications: z.strictObject({
      schedule: cronExpr().describe('Release held customer messages (quiet hours ended) and end expired chases.'),
    }),
    refreshNorms: z.strictObject({
      schedule: cronExpr().describe('Turn newly delivered parcels into transit samples and recompute the norms of the routes they touched.'),
      batchSize: posInt().describe('Delivered parcels sampled per statement.'),
    }),
  }),
  providers: z.strictObject({
    routes: z
      .record(z.string(), z.enum(['sandbox', 'kuaidi100', 'kdniao', 'seventeenTrack']))
      .describe('Carrier → provider: keys are canonical codes or any spelling of carriers/data/carriers.json (`parcelwatch carriers list`); key `default` for the rest.'),
    detection: z.strictObject({
      order: z
        .array(z.enum(['kuaidi100', 'kdniao', 'seventeenTrack']))
        .describe('Providers asked, in this order, which carrier a tracking number belongs to when the order named none we know (only enabled ones are asked).'),
      retryMinutes: pos().describe('When no provider recognises a number, ask again after this long (new number ranges are learnt by the providers); each miss re-raises the ops alert.'),
    }),
    retry: z.strictObject({
      attempts: posInt().describe('Attempts per poll job on transient failures.'),
      backoffMs: posInt().describe('First retry delay; doubles each attempt, with jitter.'),
    }),
    circuitBreaker: z.strictObject({
      failureThreshold: posInt().describe('Consecutive transient failures that open the breaker.'),
      openSeconds: posInt().describe('How long an open breaker rejects calls before a trial call.'),
    }),
    sandbox: z.strictObject({
      // No baseUrl: the sandbox answers in-process (a documented key that did nothing was removed).
      enabled: providerCommon.enabled,
      qps: providerCommon.qps,
      concurrency: providerCommon.concurrency,
      timeoutMs: providerCommon.timeoutMs,
      minPollIntervalMinutes: providerCommon.minPollIntervalMinutes,
      seed: z.number().int().describe('Seed of the deterministic simulation.'),
      pushSecret: z
        .string()
        .describe('Signing secret of the sandbox\'s pushes to POST /hooks/sandbox (HMAC-SHA256); empty = that hook answers 404. `parcelwatch demo` sets a random one when empty.'),
      rates: z.strictObject({
        lateCollection: z.number().min(0).max(1).describe('Share of parcels collected late (after 48–90 h).'),
        neverCollected: z.number().min(0).max(1).describe('Share of parcels never scanned (fake-shipment risk).'),
        stall: z.number().min(0).max(1).describe('Share of parcels whose tracking stalls in transit.'),
        problem: z.number().min(0).max(1).describe('Share with a carrier problem (问题件/拒签/退回).'),
        lockerUncollected: z.number().min(0).max(1).describe('Share left in a locker/station and not picked up.'),
      }),
    }),
    kuaidi100: z.strictObject({
      ...providerCommon,
      customer: z.string().describe('Kuaidi100 customer (授权码).'),
      key: z.string().describe('Kuaidi100 key (secret; env KUAIDI100_KEY).'),
      autonumberUrl: z.url().describe('Base URL of the carrier detection (智能判断) API; /autonumber/auto is appended.'),
      resultv2: z.enum(['0', '1', '4', '8']).describe('resultv2 level requested (4 = advanced status codes per event).'),
      maxQueriesPer24h: posInt().max(48).describe('Hard cap per number per rolling 24 h; more than 48 locks the number for a day.'),
      mode: ingestMode(),
      salt: z.string().describe('Push signing salt sent with each subscription; pushes must carry sign = MD5(param + salt) (secret; env KUAIDI100_SALT).'),
      callbackUrl: z.string().describe('Where Kuaidi100 pushes (this daemon\'s /hooks/kuaidi100[/<hookSecret>] as reachable from the internet).'),
    }),
    kdniao: z.strictObject({
      ...providerCommon,
      eBusinessId: z.string().describe('Kdniao EBusinessID.'),
      appKey: z.string().describe('Kdniao AppKey (secret; env KDNIAO_APP_KEY).'),
      requestType: z.enum(['1002', '8001']).describe('1002 instant query (daily quota) or 8001 in-transit monitoring.'),
      dailyQuota: posInt().describe('Calls per day allowed for 1002 (500 on the current plan); ignored for 8001.'),
      mode: ingestMode(),
    }),
    seventeenTrack: z.strictObject({
      ...providerCommon,
      token: z.string().describe('17TRACK API key sent as the 17token header (secret; env SEVENTEENTRACK_TOKEN).'),
      batchSize: posInt().max(40).describe('Numbers per request (at most 40).'),
      mode: ingestMode(),
    }),
  }),
  push: z.strictObject({
    hookSecret: z
      .string()
      .regex(/^[\w-]*$/, 'only letters, digits, _ and -')
      .describe('Optional secret path segment: when set, hooks answer only at /hooks/<provider>/<hookSecret> (env PARCELWATCH_HOOK_SECRET).'),
    bodyLimitBytes: posInt().describe('Largest accepted push body; larger answers 413 and stores nothing.'),
    fallbackAfterHours: pos().describe('A subscribed shipment with no push for this long (since the last push or the subscription) is polled again.'),
    abortResubscribeMinutes: pos().describe('After Kuaidi100 reports status abort, subscribe again (once) after this long.'),
    maxSubscriptionsPerMonth: posInt().describe('Subscriptions of one number per calendar month (Kuaidi100 refuses more than 4).'),
    subscribe: z.strictObject({
      schedule: cronExpr().describe('When shipments waiting for a subscription are handed to the subscribe queues.'),
      pageSize: posInt().describe('Subscriptions claimed per page.'),
      qps: z
        .strictObject({
          kuaidi100: pos().describe('Kuaidi100 subscription requests per second (the push service allows about 20).'),
          kdniao: pos().describe('Kdniao subscription requests per second.'),
          seventeenTrack: pos().describe('17TRACK register requests per second (40 numbers each; shares the 3 req/s account limit with polling).'),
        })
        .describe('Rate of subscription requests per provider: the BullMQ limiter of the subscribe-<provider> queue, and a rate gate where the requests are sent (shared across worker processes).'),
      retryMinutes: pos().describe('A subscription that failed for a transient reason (timeout, 5xx, 500) is retried after this long.'),
    }),
  }),
  polling: z.strictObject({
    notCollectedMinutes: pos().describe('Poll interval before the first carrier scan.'),
    nearDeadlineMinutes: pos().describe('Poll interval for uncollected orders within `nearDeadlineHours` of the ship deadline.'),
    nearDeadlineHours: pos().describe('Window before the ship deadline in which polling tightens.'),
    inTransitMinutes: pos().describe('Poll interval while in transit.'),
    outForDeliveryMinutes: pos().describe('Poll interval while out for delivery or at a pickup point.'),
    chasedMinutes: pos().describe('Poll interval for parcels a customer chased.'),
    problemMinutes: pos().describe('Poll interval while the carrier reports a problem.'),
    errorBackoffMinutes: pos().describe('Poll interval after a poll error (malformed reply, auth error).'),
    stopAfterDays: pos().describe('Stop polling a shipment with no carrier event for this many days after marked shipped.'),
  }),
  rules: z.strictObject({
    lateShipment: z.strictObject({
      default: lateShipmentPolicy.describe('The marketplace late-shipment policy.'),
      platforms: z
        .partialRecord(z.enum(PLATFORMS), lateShipmentPolicy.partial())
        .describe('Per-platform overrides of the default policy.'),
    }),
    fakeShipment: z.strictObject({
      noScanAfterHours: pos().describe('Marked shipped with no carrier scan after this many hours → fake_shipment_risk (warning).'),
      criticalAfterHours: pos().describe('…critical after this many hours.'),
    }),
    undelivered: z.strictObject({
      afterCollectedHours: pos().describe('Collected this long ago and not delivered → undelivered_3d.'),
      criticalAfterHours: pos().describe('…critical after this many hours since collection.'),
    }),
    stalled: z.strictObject({
      noEventHours: pos().describe('In transit with no new carrier event for this long → tracking_stalled.'),
      criticalAfterHours: pos().describe('…critical after this many hours without an event.'),
    }),
    deliveryOverdue: z.strictObject({
      hours: pos().describe('Out for delivery and not signed after this long → delivery_overdue.'),
    }),
    pickupOverdue: z.strictObject({
      hours: pos().describe('In a locker/station and not picked up after this long → pickup_overdue.'),
    }),
    routeOverdue: z.strictObject({
      factor: pos().describe("In transit longer than the applicable norm's p90 × this → route_overdue (warning)."),
      criticalFactor: pos().describe('…critical beyond p90 × this.'),
    }),
  }),
  norms: z.strictObject({
    minSamples: posInt().describe('Delivered parcels a learned norm needs before it is used; below it the next level applies (route → carrier → global; an imported seed stands in at its level).'),
    windowDays: pos().describe('Only parcels delivered within this many days count towards a recomputed norm.'),
    arrivalText: template(['days']).describe('{normalArrival}: how "normally arrives" is said, from the p50 in whole days (usual practice, never a promise).'),
  }),
  outreach: z.strictObject({
    slaMinutes: z.strictObject({
      breach: pos().describe('Due time for a task whose worst exception is a breach.'),
      critical: pos().describe('Due time for critical.'),
      warning: pos().describe('Due time for warning.'),
      info: pos().describe('Due time for info.'),
    }),
    typeWeight: z
      .strictObject(Object.fromEntries(EXCEPTION_TYPES.map((t) => [t, nonNeg().describe(`Priority weight of ${t}.`)])) as Record<
        ExceptionType,
        z.ZodNumber
      >)
      .describe('Priority added per exception type; severity adds 100/200/300 for warning/critical/breach.'),
    normalTransitDays: pos().describe('What agents say a parcel normally takes ("通常 N 天内送达") when no transit norm applies; never an exact date.'),
    compensation: z.strictObject({
      perDayLateYuan: nonNeg().describe('Compensation offered per day late.'),
      lateShipmentYuan: nonNeg().describe('Compensation offered for a late shipment (on top of the marketplace penalty).'),
    }),
    assignment: z.strictObject({
      mode: z.enum(['pool', 'round_robin', 'least_loaded']).describe('How tasks are assigned to agents.'),
      agents: z.array(z.string().min(1)).describe('Agent roster for round_robin / least_loaded.'),
    }),
    channels: z.strictObject({
      webhook: channelWebhook,
      wecom: robotChannel,
      dingtalk: robotChannel,
    }),
    delivery: z.strictObject({
      attempts: posInt().describe('Delivery attempts per channel message.'),
      backoffMs: posInt().describe('First retry delay, doubling.'),
    }),
    scripts: z.strictObject(
      Object.fromEntries(EXCEPTION_TYPES.map((t) => [t, template(SCRIPT_PLACEHOLDERS).describe(`Agent script for ${t}.`)])) as Record<
        ExceptionType,
        ReturnType<typeof template>
      >,
    ),
    reasons: z.strictObject(
      Object.fromEntries(EXCEPTION_TYPES.map((t) => [t, template(SCRIPT_PLACEHOLDERS).describe(`Plain-words reason for ${t}.`)])) as Record<
        ExceptionType,
        ReturnType<typeof template>
      >,
    ),
  }),
  chases: z.strictObject({
    defaultChannel: z.enum(['webhook', 'sms']).describe('Channel used when a chase names none.'),
    allowOtherContacts: z
      .boolean()
      .describe("Allow a chase's contact to differ from the order's customer phone/handle (API, CLI, import). Off: anyone who can call the API could otherwise send SMS to any number."),
    maxAgeDays: pos().describe('A chase ends after this many days.'),
    sendDelivered: z.boolean().describe('Send a final delivered message when a chased parcel is signed for.'),
    quietHours: z.strictObject({
      enabled: z.boolean().describe('Hold customer messages during quiet hours.'),
      start: hhmm().describe('Quiet hours start (business time zone).'),
      end: hhmm().describe('Quiet hours end (business time zone).'),
    }),
    dailyCapPerContact: posInt().describe('Most messages one contact receives per business day.'),
    delivery: z.strictObject({
      attempts: posInt().describe('Send attempts per customer message (one retry chain per message); then it is failed.'),
      backoffMs: posInt().describe('First retry delay of a customer message, doubling, with jitter.'),
    }),
    coalesceSeconds: nonNeg().describe('Moves within this window are merged into one message (the latest).'),
    templates: z.strictObject({
      hubMoved: template(CUSTOMER_PLACEHOLDERS).describe('Sent when a chased parcel reaches the next hub.'),
      outForDelivery: template(CUSTOMER_PLACEHOLDERS).describe('Sent when it is out for delivery.'),
      delivered: template(CUSTOMER_PLACEHOLDERS).describe('Sent when it is signed for.'),
    }),
    channels: z.strictObject({
      webhook: channelWebhook,
      sms: z.strictObject({
        enabled: z.boolean().describe('Send SMS through Alibaba Cloud SMS.'),
        endpoint: z.string().describe('Alibaba Cloud SMS endpoint.'),
        accessKeyId: z.string().describe('AccessKey ID (secret; env ALIYUN_ACCESS_KEY_ID).'),
        accessKeySecret: z.string().describe('AccessKey secret (secret; env ALIYUN_ACCESS_KEY_SECRET).'),
        signName: z.string().describe('Approved SMS signature name.'),
        templateCodes: z.strictObject({
          hubMoved: z.string().describe('Template code for hub moves.'),
          outForDelivery: z.string().describe('Template code for out for delivery.'),
          delivered: z.string().describe('Template code for delivered.'),
        }),
        timeoutMs: posInt().describe('HTTP timeout.'),
      }),
    }),
  }),
  retention: z.strictObject({
    schedule: cronExpr().describe('When the retention job thins and deletes old rows (business time zone).'),
    batchSize: posInt().describe(
      'Parent rows (shipments, exceptions, tasks, chases) or rows (quarantine, alerts) handled per batch; each batch is one short statement, and the job stops between batches on shutdown.',
    ),
    rawJsonDays: posInt().nullable().describe(
      'Clear the raw provider JSON of tracking events of parcels delivered/returned/cancelled this many days ago (the event rows stay); null keeps it forever.',
    ),
    eventsDays: posInt().nullable().describe(
      'Delete the tracking events of parcels delivered/returned/cancelled this many days ago (the shipment keeps its last event, hub and times); null keeps them forever.',
    ),
    exceptionHistoryDays: posInt().nullable().describe('Delete the history rows of exceptions resolved this many days ago (the exception row stays); null keeps them forever.'),
    deliveriesDays: posInt().nullable().describe('Delete sent/failed agent deliveries of outreach tasks done or cancelled this many days ago; null keeps them forever.'),
    notificationsDays: posInt().nullable().describe('Delete settled customer messages of chases ended this many days ago; null keeps them forever.'),
    quarantineDays: posInt().nullable().describe('Delete quarantined provider replies older than this (those of parcels still in flight stay); null keeps them forever.'),
    pushReceiptsDays: posInt().nullable().describe('Delete the audit rows of accepted provider pushes (raw bodies) older than this (those of parcels still in flight stay); null keeps them forever.'),
    alertsDays: posInt().nullable().describe('Delete operator alerts resolved this many days ago; null keeps them forever.'),
  }),
  replay: z.strictObject({
    maxSkewMinutes: nonNeg().describe(
      '`run-once --now` further than this from wall time (either way) is refused while a daemon runs against the database, unless --force.',
    ),
    heartbeatSeconds: posInt().describe('How often scheduler/worker daemons record their heartbeat; one seen within 3 intervals counts as running.'),
  }),
  replicas: z.strictObject({
    clockSkewSeconds: nonNeg().describe(
      'Largest difference between any two replicas\' clocks. Every send lease (agent deliveries, customer messages) is longer by this, so a replica whose clock is ahead never reads another\'s lease as run out and sends a row twice; work of a replica that died is taken over this much later.',
    ),
  }),
  input: z.strictObject({
    earliestPaidAt: z.iso
      .datetime({ offset: true })
      .describe('Orders (API, import) paid before this instant are refused as a typo or a placeholder date.'),
    futureSkewMinutes: nonNeg().describe(
      'How far after the wall-clock time of receipt a paidAt or markedShippedAt may lie (clock skew of the sending system); later is refused.',
    ),
    promiseWithinDays: pos().describe('A promisedShipBy may lie at most this many days after paidAt (longest presale period accepted).'),
  }),
  demo: z.strictObject({
    orders: posInt().describe('Orders `parcelwatch demo` seeds.'),
    paidWithinHours: pos().describe('Seeded orders were paid within this many hours before now.'),
    pushShare: z.number().min(0).max(1).describe('Share of the sandbox\'s parcels it also pushes to the daemon\'s own /hooks/sandbox during `parcelwatch demo` (0 = polling only).'),
    pushEverySeconds: posInt().describe('How often `parcelwatch demo` pushes what the sandbox shows for those parcels.'),
  }),
});

export type Config = z.infer<typeof configSchema>;

/** Config paths that hold secrets: redacted in `config check` and logs. */
export const SECRET_PATHS = [
  'database.url',
  'redis.url',
  'http.apiToken',
  'providers.kuaidi100.key',
  'providers.kuaidi100.salt',
  'push.hookSecret',
  'providers.kdniao.appKey',
  'providers.seventeenTrack.token',
  'outreach.channels.webhook.secret',
  'outreach.channels.wecom.url',
  'outreach.channels.dingtalk.url',
  'outreach.channels.dingtalk.secret',
  'chases.channels.webhook.secret',
  'chases.channels.sms.accessKeyId',
  'chases.channels.sms.accessKeySecret',
] as const;

/** Environment variables that override config paths. */
export const ENV_OVERRIDES: Record<string, { path: string; type: 'string' | 'int' }> = {
  DATABASE_URL: { path: 'database.url', type: 'string' },
  REDIS_URL: { path: 'redis.url', type: 'string' },
  PORT: { path: 'http.port', type: 'int' },
  PARCELWATCH_API_TOKEN: { path: 'http.apiToken', type: 'string' },
  PARCELWATCH_HTTP_HOST: { path: 'http.host', type: 'string' },
  PARCELWATCH_QUEUE_PREFIX: { path: 'redis.prefix', type: 'string' },
  LOG_LEVEL: { path: 'log.level', type: 'string' },
  KUAIDI100_KEY: { path: 'providers.kuaidi100.key', type: 'string' },
  KUAIDI100_SALT: { path: 'providers.kuaidi100.salt', type: 'string' },
  PARCELWATCH_HOOK_SECRET: { path: 'push.hookSecret', type: 'string' },
  KDNIAO_APP_KEY: { path: 'providers.kdniao.appKey', type: 'string' },
  SEVENTEENTRACK_TOKEN: { path: 'providers.seventeenTrack.token', type: 'string' },
  OUTREACH_WEBHOOK_SECRET: { path: 'outreach.channels.webhook.secret', type: 'string' },
  WECOM_ROBOT_URL: { path: 'outreach.channels.wecom.url', type: 'string' },
  DINGTALK_ROBOT_URL: { path: 'outreach.channels.dingtalk.url', type: 'string' },
  DINGTALK_SECRET: { path: 'outreach.channels.dingtalk.secret', type: 'string' },
  CUSTOMER_WEBHOOK_SECRET: { path: 'chases.channels.webhook.secret', type: 'string' },
  ALIYUN_ACCESS_KEY_ID: { path: 'chases.channels.sms.accessKeyId', type: 'string' },
  ALIYUN_ACCESS_KEY_SECRET: { path: 'chases.channels.sms.accessKeySecret', type: 'string' },
};
