import { readFile } from 'node:fs/promises';
import { setFlagsFromString } from 'node:v8';
import type { Command } from 'commander';
import { checkHeapAgainstMemoryLimit, createLogger, DEFAULT_TENANT_SOURCE, inRootSpan, isCertificateField, parseRequestLoggingConfig, parseTracingConfig, startTracing, type Logger, type LogLevel, type ServingConfig, type TenantSource, type TracingConfig } from '@strata/runtime';
import { parseTlsVersion, type ClientTLS, type ServerTLS } from '@strata/storeapi';
import { isULID } from '@strata/tsdb';
import { parseDuration, parseUrlPath } from '../flags.js';
import { loadWebConfig } from '../webconfig.js';

/**
 * What every long-running component command shares: Thanos' --log.level/--log.format flags, and
 * running until SIGINT or SIGTERM, then stopping cleanly.
 */
/** --http.config (Thanos' flag): the component's HTTP server over TLS and with basic authentication. */
function withHttpConfigFlag(cmd: Command): Command {
  return cmd.option('--http.config <path>', "file with the HTTP server's TLS and basic authentication settings (exporter-toolkit web config, as Prometheus' --web.config.file)");
}

/** Thanos' --http-grace-period, and --grpc-grace-period for a component that serves the StoreAPI. */
function withGracePeriodFlags(cmd: Command, grpc: boolean): Command {
  cmd.option('--http-grace-period <duration>', 'after SIGINT or SIGTERM, how long HTTP requests in flight may still take before they are cut', '2m');
  if (grpc) cmd.option('--grpc-grace-period <duration>', 'after SIGINT or SIGTERM, how long StoreAPI calls in flight may still take before they are cancelled', '2m');
  return cmd;
}

/**
 * The flags of a long-running component: its logs and traces, its HTTP server (--http.config, the grace
 * period), its StoreAPI server where it has one (TLS, the connection age, the grace period), and with
 * `requestLogging` --request.logging-config.
 */
export function withServingFlags(cmd: Command, has: { grpc: boolean; requestLogging: boolean }): Command {
  if (has.grpc) withGrpcServerTlsFlags(cmd);
  withGracePeriodFlags(cmd, has.grpc);
  withHttpConfigFlag(cmd);
  if (has.requestLogging) withRequestLoggingFlags(cmd);
  return withMemoryLimitFlags(withTracingFlags(withLogFlags(cmd)));
}

/** Thanos' --enable-auto-gomemlimit and --auto-gomemlimit.ratio, which every Thanos command takes. */
function withMemoryLimitFlags(cmd: Command): Command {
  return cmd
    .option('--enable-auto-gomemlimit', "as Thanos' flag, which keeps Go's memory within --auto-gomemlimit.ratio of the container's limit (of the machine's memory without one): Node's heap limit is set at start, so this logs that share at start and warns, with the --max-old-space-size to start with, when the heap may grow past it", false)
    .option('--auto-gomemlimit.ratio <ratio>', 'the share of the memory limit --enable-auto-gomemlimit keeps to, in (0, 1]', '0.9');
}

/** With --enable-auto-gomemlimit, the heap's limit checked against the memory's (logged on `logger`). */
async function checkMemoryLimit(o: Record<string, unknown>, logger: Logger): Promise<void> {
  if (o.enableAutoGomemlimit === true) await checkHeapAgainstMemoryLimit({ ratio: Number(o['autoGomemlimit.ratio']), logger });
}

/**
 * The flags every Thanos command takes, for a command that runs once and serves nothing (the bucket
 * tools): --log.*, --tracing.config(-file) and --enable-auto-gomemlimit. Its action is `toolAction`'s.
 */
export function withToolFlags(cmd: Command): Command {
  return withMemoryLimitFlags(withTracingFlags(withLogFlags(cmd)));
}

/**
 * The action of a command with `withToolFlags`: `fn`, after the memory limit is checked, traced as a
 * span named `name` in service strata-tools when --tracing.config asks (its bucket operations spans
 * under it).
 */
export function toolAction(name: string, fn: (o: Record<string, unknown>) => Promise<void>): (o: Record<string, unknown>) => Promise<void> {
  return async (o) => {
    const logger = loggerFromFlags(o);
    await checkMemoryLimit(o, logger);
    const config = await tracingConfigFromFlags(o);
    if (config === undefined) return fn(o);
    const tracing = startTracing(config, 'tools', logger);
    try {
      await inRootSpan(name, () => fn(o));
    } finally {
      await tracing.stop();
    }
  };
}

/** Thanos' flags of the block viewer that the compactor and the store gateway serve on their HTTP address. */
export function withBlockViewerFlags(cmd: Command): Command {
  return withBlockViewerRouteFlags(cmd.option('--web.disable', 'serve no block viewer (/blocks, /api/v1/blocks): only /metrics and the probes', false));
}

/** The block viewer's routing flags, which `tools bucket web` has too (without --web.disable). */
export function withBlockViewerRouteFlags(cmd: Command): Command {
  return cmd
    .option('--web.route-prefix <path>', 'prefix of every HTTP route; /metrics and the probes answer at the root too (default: --web.external-prefix)')
    .option('--web.external-prefix <path>', 'path the component is reached under through a reverse proxy', '')
    .option('--web.prefix-header <name>', "Thanos' header naming that path per request: the block viewer's links are relative, so any prefix a proxy adds works without it", '')
    .option('--web.disable-cors', 'the block viewer sets no CORS headers in any case (Thanos\' flag)', false)
    .option('--disable-admin-operations', "the block viewer offers no operation that changes the bucket in any case (Thanos' flag)", false);
}

/** A flag whose value must be one of `choices`. */
export function choiceFlag(value: unknown, flag: string, choices: readonly string[]): string {
  const v = String(value);
  if (!choices.includes(v)) throw new Error(`${flag} must be ${choices.join(' or ')}, not ${v}`);
  return v;
}

/** The block viewer as the flags say: served or not, and the route prefix. */
export function blockViewerFromFlags(o: Record<string, unknown>): { blockViewer: boolean; routePrefix?: string } {
  const prefix = parseUrlPath(String(o['web.routePrefix'] ?? '')) || parseUrlPath(String(o['web.externalPrefix'] ?? ''));
  return { blockViewer: o['web.disable'] !== true, ...(prefix !== '' ? { routePrefix: prefix } : {}) };
}

/**
 * How the component serves, as the flags say: --http.config, the grace periods, --request.logging-config
 * and --grpc-server-max-connection-age, where the command has them; with --enable-auto-gomemlimit, the
 * heap's limit checked against the memory's (logged on `logger`).
 */
export async function servingFromFlags(o: Record<string, unknown>, logger: Logger): Promise<ServingConfig> {
  const requestLogging = await requestLoggingFromFlags(o);
  await checkMemoryLimit(o, logger);
  return {
    ...(await webConfigFromFlags(o)),
    httpGracePeriodMs: parseDuration(String(o.httpGracePeriod)),
    ...(o.grpcGracePeriod !== undefined ? { grpcGracePeriodMs: parseDuration(String(o.grpcGracePeriod)) } : {}),
    ...(o.grpcServerMaxConnectionAge !== undefined ? { grpcMaxConnectionAgeMs: parseDuration(String(o.grpcServerMaxConnectionAge)) } : {}),
    ...(requestLogging !== undefined ? { requestLogging: parseRequestLoggingConfig(requestLogging, '--request.logging-config') } : {}),
  };
}

/** The web configuration `--http.config` names, loaded, as the component config field that takes it. */
async function webConfigFromFlags(o: Record<string, unknown>): Promise<ServingConfig> {
  const path = o['http.config'];
  return path === undefined ? {} : { httpWebConfig: await loadWebConfig(String(path)) };
}

/** Thanos' --request.logging-config(-file): which HTTP requests and gRPC calls the component logs. */
function withRequestLoggingFlags(cmd: Command): Command {
  return cmd
    .option('--request.logging-config <yaml>', 'which HTTP requests and gRPC calls to log, in Thanos\' YAML, e.g. "options: {level: ERROR, decision: {log_start: false, log_end: true}}" (lines below status 500 or for calls that did not fail are at debug level)')
    .option('--request.logging-config-file <path>', 'file with the request logging configuration')
    .option('--log.request.decision <decision>', "Thanos' flag before 0.33, which --request.logging-config replaced: LogFinishCall logs every finished request and call (at debug level below status 500 or where the call did not fail), LogStartAndFinishCall their starts too, NoLogCall none; --request.logging-config wins");
}

const LEGACY_REQUEST_LOGGING: Readonly<Record<string, string>> = {
  NoLogCall: '',
  LogFinishCall: 'options: {level: DEBUG, decision: {log_start: false, log_end: true}}',
  LogStartAndFinishCall: 'options: {level: DEBUG, decision: {log_start: true, log_end: true}}',
};

/** --request.logging-config, else what the older --log.request.decision says in its terms. */
async function requestLoggingFromFlags(o: Record<string, unknown>): Promise<string | undefined> {
  const config = await yamlFlag(o, 'request.logging-config');
  const decision = o['log.request.decision'];
  if (config !== undefined || decision === undefined) return config;
  const text = LEGACY_REQUEST_LOGGING[String(decision)];
  if (text === undefined) throw new Error(`--log.request.decision must be ${Object.keys(LEGACY_REQUEST_LOGGING).join(', ')}, not ${String(decision)}`);
  return text;
}

/** Thanos' --tracing.config(-file): where the component sends its traces (OTLP). */
function withTracingFlags(cmd: Command): Command {
  return cmd
    .option('--tracing.config <yaml>', 'where to send traces, in Thanos\' YAML, e.g. "type: OTLP\nconfig: {client_type: grpc, endpoint: otel-collector:4317, insecure: true}" (no tracing without it)')
    .option('--tracing.config-file <path>', 'file with the tracing configuration');
}

/** The tracing configuration the flags give, read and checked (undefined: no tracing). */
export async function tracingConfigFromFlags(o: Record<string, unknown>): Promise<TracingConfig | undefined> {
  const text = await yamlFlag(o, 'tracing.config');
  return text === undefined ? undefined : parseTracingConfig(text, '--tracing.config');
}

/** Starts tracing as `config` says (nothing without one); the returned stop sends what is buffered. */
export function startTracingFor(config: TracingConfig | undefined, component: string, logger: Logger): { stop(): Promise<void> } {
  return config === undefined ? { stop: async () => {} } : startTracing(config, component, logger);
}

/**
 * Thanos' flags naming where a request's tenant comes from: `--<prefix>.tenant-header`,
 * `--<prefix>.<defaultFlag>` and `--<prefix>.tenant-certificate-field`.
 */
export function withTenantFlags(cmd: Command, prefix: string, defaultFlag: string): Command {
  return cmd
    .option(`--${prefix}.tenant-header <header>`, 'HTTP header naming the tenant of a request', DEFAULT_TENANT_SOURCE.header)
    .option(`--${prefix}.${defaultFlag} <tenant>`, 'the tenant of a request that names none', DEFAULT_TENANT_SOURCE.defaultTenant)
    .option(`--${prefix}.tenant-certificate-field <field>`, "take the tenant from the client certificate's organization, organizationalUnit or commonName instead (HTTPS with client certificates, --http.config)");
}

/** The tenant source `withTenantFlags` registered. */
export function tenantSourceFromFlags(o: Record<string, unknown>, prefix: string, defaultFlag: string): TenantSource {
  const camel = (part: string) => part.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
  const key = (flag: string) => `${camel(prefix)}.${camel(flag)}`;
  const field = o[key('tenant-certificate-field')] as string | undefined;
  if (field !== undefined && !isCertificateField(field)) throw new Error(`--${prefix}.tenant-certificate-field must be organization, organizationalUnit or commonName, not ${field}`);
  return { header: String(o[key('tenant-header')]), defaultTenant: String(o[key(defaultFlag)]), ...(field !== undefined ? { certificateField: field } : {}) };
}

export function withLogFlags(cmd: Command): Command {
  return cmd.option('--log.level <level>', 'debug, info, warn or error', 'info').option('--log.format <format>', 'logfmt or json', 'logfmt');
}

export function loggerFromFlags(o: Record<string, unknown>): Logger {
  return createLogger({ level: String(o['log.level'] ?? 'info') as LogLevel, format: o['log.format'] === 'json' ? 'json' : 'logfmt' });
}

/**
 * Lets the JavaScript heap grow to 4× what a full collection left live before the next one starts
 * (V8's own largest growth factor, which it picks only for fast-allocating heaps), as Go's GOGC lets
 * Thanos' heaps grow to 2×. A store gateway's, sidecar's or querier's heap is small (~25 MB live): V8
 * set its old generation's limit at ~50 MB and starts marking for a full collection whenever less room
 * than the young generation's capacity is left below it (traced: `--trace-incremental-marking`, "Start
 * (task)" at 26 of 50 MB), so nearly every young collection that promoted a request's objects was
 * followed by a full one, whose marking V8's helper threads do on the cores the other components need.
 * Measured (`pnpm bench query --only=2,6,8`): the store gateway of two replicas ran 40 full collections
 * in a run and 10 with this, at 24–35 ms of CPU per query instead of 35–48; the sidecar (`pnpm bench
 * sidecar`) 4 instead of 13–14, at 19–23 ms of CPU per call instead of 22–25; the querier (`pnpm bench
 * query`, three alternating pairs) 26–30 ms of CPU per query instead of 32–35 with one replica, its
 * helper threads' marking ~1 ms per query instead of 2–4. Costs the heap's headroom: the store gateway's
 * peak resident memory in the query bench rose by about 40 MiB (its caches hold their bytes outside the
 * heap), the querier's by 10–40 MiB. `node --heap-growing-percent=N` on the command line keeps N.
 */
export function growHeapBetweenFullCollections(): void {
  if (process.execArgv.some((a) => a.startsWith('--heap-growing-percent') || a.startsWith('--heap_growing_percent'))) return;
  setFlagsFromString('--heap-growing-percent=300');
}

/** Waits for SIGINT or SIGTERM, then runs `stop`. */
export async function runUntilSignal(logger: Logger, stop: () => Promise<void>): Promise<void> {
  const signal = await new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  logger.info('shutting down', { signal });
  await stop();
  // Once stopped, nothing left behind (a trace exporter retrying a collector that is down) keeps the process up.
  setTimeout(() => process.exit(), 1_000).unref();
}

/** Refuses any of `ids` (block IDs given with --id) that is not a ULID. */
export function checkBlockIds(ids: readonly string[]): void {
  for (const id of ids) if (!isULID(id)) throw new Error(`--id: invalid block ID ${JSON.stringify(id)}`);
}

/** Collects a repeatable flag's values, each as given. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Collects a repeatable flag's values (also splitting comma-separated ones, as Thanos accepts). */
export function repeatable(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(',').filter((v) => v !== '')];
}

/** Every option of a command with its current value, for /api/v1/status/flags. */
export function flagValues(cmd: Command): Record<string, string> {
  const out: Record<string, string> = {};
  for (const opt of cmd.options) {
    const v = cmd.getOptionValue(opt.attributeName());
    if (opt.long !== undefined) out[opt.long.replace(/^--/, '')] = v === undefined ? '' : Array.isArray(v) ? v.join(',') : String(v);
  }
  return out;
}

/**
 * Thanos' TLS flags of a component's server: `--grpc-server-tls-*` of its gRPC server (the StoreAPI),
 * `--remote-write.server-tls-*` of a receiver's remote-write endpoint.
 */
export function withServerTlsFlags(cmd: Command, prefix: 'grpc-server' | 'remote-write.server' = 'grpc-server', server = 'the gRPC server'): Command {
  return cmd
    .option(`--${prefix}-tls-cert <path>`, `TLS certificate for ${server} (TLS is off without it)`)
    .option(`--${prefix}-tls-key <path>`, `TLS key for ${server}`)
    .option(`--${prefix}-tls-client-ca <path>`, 'CA for client certificates; when set, clients must present one')
    .option(`--${prefix}-tls-min-version <version>`, `oldest TLS version ${server} accepts: 1.0, 1.1, 1.2 or 1.3 (Thanos' default)`, '1.3');
}

/** Thanos' TLS and connection flags of a component's gRPC server (its StoreAPI). */
function withGrpcServerTlsFlags(cmd: Command): Command {
  return withServerTlsFlags(cmd).option('--grpc-server-max-connection-age <duration>', 'a client connection is asked to reconnect after this long (its calls let finish), so that clients spread over replicas started since', '60m');
}

export async function serverTlsFromFlags(o: Record<string, unknown>, prefix: 'grpc-server' | 'remote-write.server' = 'grpc-server'): Promise<ServerTLS | undefined> {
  const flag = (name: string) => o[flagKey(`${prefix}-${name}`)] as string | undefined;
  const cert = flag('tls-cert');
  const key = flag('tls-key');
  const clientCA = flag('tls-client-ca');
  if ((cert === undefined) !== (key === undefined)) throw new Error(`--${prefix}-tls-cert and --${prefix}-tls-key must be given together`);
  if (clientCA !== undefined && cert === undefined) throw new Error(`--${prefix}-tls-client-ca needs --${prefix}-tls-cert and --${prefix}-tls-key`);
  if (cert === undefined || key === undefined) return undefined;
  return {
    cert: await readFile(cert),
    key: await readFile(key),
    ...(clientCA !== undefined ? { clientCA: await readFile(clientCA) } : {}),
    minVersion: parseTlsVersion(String(flag('tls-min-version') ?? '1.3'), `--${prefix}-tls-min-version`),
  };
}

/**
 * Thanos' TLS flags of a component's gRPC connections: `--grpc-client-tls-*` of a querier's to its
 * endpoints; `--remote-write.client-tls-*` of a receiver's to the others of its hashring (which has no
 * min-version flag in Thanos).
 */
export function withGrpcClientTlsFlags(cmd: Command, prefix: 'grpc-client' | 'remote-write.client' = 'grpc-client', peers = 'the endpoints'): Command {
  cmd
    .option(`--${prefix}-tls-secure`, `use TLS to ${peers}`, false)
    .option(`--${prefix}-tls-cert <path>`, 'client certificate for mutual TLS')
    .option(`--${prefix}-tls-key <path>`, 'client key for mutual TLS')
    .option(`--${prefix}-tls-ca <path>`, `CA that signed the certificates of ${peers} (system roots without it)`)
    .option(`--${prefix}-server-name <name>`, `name to verify the certificates of ${peers} against, where it differs from the address`)
    .option(`--${prefix}-tls-skip-verify`, `accept any certificate of ${peers} (encrypted, not authenticated)`, false);
  if (prefix !== 'grpc-client') return cmd;
  return cmd.option('--grpc-client-tls-min-version <version>', "oldest TLS version accepted from the endpoints: 1.0, 1.1, 1.2 or 1.3 (Thanos' default)", '1.3');
}

export async function clientTlsFromFlags(o: Record<string, unknown>, prefix: 'grpc-client' | 'remote-write.client' = 'grpc-client'): Promise<ClientTLS | undefined> {
  const flag = (name: string) => o[flagKey(`${prefix}-${name}`)];
  const cert = flag('tls-cert') as string | undefined;
  const key = flag('tls-key') as string | undefined;
  const ca = flag('tls-ca') as string | undefined;
  const serverName = flag('server-name') as string | undefined;
  const skipVerify = flag('tls-skip-verify') === true;
  const given = skipVerify || [cert, key, ca, serverName].some((v) => v !== undefined);
  if (flag('tls-secure') !== true) {
    if (given) throw new Error(`the --${prefix}-tls-* and --${prefix}-server-name flags need --${prefix}-tls-secure`);
    return undefined;
  }
  if ((cert === undefined) !== (key === undefined)) throw new Error(`--${prefix}-tls-cert and --${prefix}-tls-key must be given together`);
  return {
    ...(ca !== undefined ? { ca: await readFile(ca) } : {}),
    ...(cert !== undefined && key !== undefined ? { cert: await readFile(cert), key: await readFile(key) } : {}),
    ...(serverName !== undefined ? { serverName } : {}),
    ...(skipVerify ? { skipVerify } : {}),
    minVersion: parseTlsVersion(String(flag('tls-min-version') ?? '1.3'), `--${prefix}-tls-min-version`),
  };
}

/** Commander's key of a flag: dot-separated parts, each camel-cased (`store.caching-bucket.config` → `store.cachingBucket.config`). */
function flagKey(flag: string): string {
  return flag
    .split('.')
    .map((part) => part.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()))
    .join('.');
}

/** The YAML given inline with `--<flag>` or in the file of `--<flag>-file` (at most one of them), as Thanos' paired flags. */
export async function yamlFlag(o: Record<string, unknown>, flag: string): Promise<string | undefined> {
  const inline = o[flagKey(flag)] as string | undefined;
  const file = o[flagKey(`${flag}-file`)] as string | undefined;
  if (inline !== undefined && file !== undefined) throw new Error(`give only one of --${flag} and --${flag}-file`);
  return file !== undefined ? readFile(file, 'utf8') : inline;
}

/** Thanos' --hash-func: "" (none) or SHA256, as whether to record each uploaded file's SHA256. */
export function hashFuncFlag(v: string): boolean {
  if (v !== '' && v !== 'SHA256') throw new Error(`--hash-func must be "" or SHA256, not ${v}`);
  return v === 'SHA256';
}

/** An integer flag's value, at least `min` (a positive count by default). */
export function intFlag(v: unknown, flag: string, min = 1): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(min === 1 ? `${flag} must be a positive integer, not ${String(v)}` : `${flag} must be an integer ≥ ${min}, not ${String(v)}`);
  return n;
}

/** A duration flag that may be negative (Go's time.Duration), such as `-1s`. */
export function signedDuration(s: string): number {
  return s.startsWith('-') ? -parseDuration(s.slice(1)) : parseDuration(s);
}
