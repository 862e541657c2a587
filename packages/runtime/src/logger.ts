/**
 * Structured logs in logfmt, as Thanos and Prometheus write them (go-kit log):
 * `ts=2026-11-25T03:00:00.000Z level=info component=sidecar msg="uploaded block" block=01H…`.
 * One line per event on stderr, so operators can grep and ship them unchanged.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const LEVELS: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export type LogFields = Record<string, string | number | boolean | bigint | null | undefined | Error>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line. */
  with(fields: LogFields): Logger;
}

export interface LoggerOptions {
  level?: LogLevel;
  /** Where lines go; stderr by default. */
  write?: (line: string) => void;
  /** `logfmt` (default) or `json`, as Thanos' --log.format. */
  format?: 'logfmt' | 'json';
}

export function createLogger(opts: LoggerOptions = {}, base: LogFields = {}): Logger {
  const min = LEVELS[opts.level ?? 'info'];
  const write = opts.write ?? ((line: string) => process.stderr.write(line));
  const format = opts.format ?? 'logfmt';
  const log = (level: LogLevel, msg: string, fields: LogFields = {}) => {
    if (LEVELS[level] < min) return;
    const all: LogFields = { ts: new Date().toISOString(), level, ...base, msg, ...fields };
    write(format === 'json' ? `${JSON.stringify(Object.fromEntries(Object.entries(all).map(([k, v]) => [k, plain(v)])))}\n` : `${logfmt(all)}\n`);
  };
  return {
    debug: (m, f) => log('debug', m, f),
    info: (m, f) => log('info', m, f),
    warn: (m, f) => log('warn', m, f),
    error: (m, f) => log('error', m, f),
    with: (fields) => createLogger(opts, { ...base, ...fields }),
  };
}

/** A logger that drops everything (for tests and library defaults). */
export const nopLogger: Logger = createLogger({ write: () => {} });

function plain(v: LogFields[string]): string | number | boolean | null {
  if (v === undefined || v === null) return null;
  if (v instanceof Error) return v.message;
  if (typeof v === 'bigint') return v.toString();
  return v;
}

function logfmt(fields: LogFields): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    const s = String(plain(v));
    parts.push(`${k}=${/^[^\s"=\\]+$/.test(s) ? s : JSON.stringify(s)}`);
  }
  return parts.join(' ');
}
