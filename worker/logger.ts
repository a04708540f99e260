import pino, { type Logger } from 'pino';

/** Customer data and secrets never reach the logs. */
export const REDACT_PATHS = [
  'phone',
  '*.phone',
  '*.customerPhone',
  'customer.phone',
  '*.customer.phone',
  'contact',
  '*.contact',
  '*.customerName',
  'customer.name',
  '*.customer.name',
  'headers.authorization',
  '*.headers.authorization',
  'req.headers.authorization',
  'config.database.url',
  'secret',
  '*.secret',
  'key',
  '*.key',
  'token',
  '*.token',
];

export function createLogger(level: string, opts: { pretty?: boolean; destination?: pino.DestinationStream } = {}): Logger {
  const pretty = opts.pretty ?? (process.stdout.isTTY && !process.env.CI);
  const options: pino.LoggerOptions = {
    level,
    base: { service: 'parcelwatch' },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    serializers: { err: pino.stdSerializers.err },
  };
  if (opts.destination) return pino(options, opts.destination);
  if (pretty) {
    return pino({ ...options, transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss' } } });
  }
  return pino(options);
}

export { maskPhone } from '../domain/phone.js';
