/**
 * `strata rule`: Thanos' ruler. It evaluates Prometheus recording and alerting rules through a querier's
 * HTTP API (so over every replica, deduplicated, and all of history), keeps the rules' samples in a TSDB
 * of its own (served over the StoreAPI, its blocks shipped to the bucket) or sends them over Prometheus'
 * remote write, and sends its alerts to Alertmanager; it serves its rules and alerts in Prometheus'
 * `/api/v1/rules` and `/api/v1/alerts`, and over Thanos' Rules API for queriers that list it as an endpoint.
 */
import { collectProcessMetrics, grpcServerMetrics, grpcServing, httpServing, Prober, startHttpServer, type Logger, type ServingConfig } from '@strata/runtime';
import { serveStore, type ServerTLS } from '@strata/storeapi';
import { isLegacyLabelName, type Labels } from '@strata/tsdb';
import { Registry } from 'prom-client';
import { ruleApi } from './api.js';
import { ALERT_FOR_STATE_METRIC_NAME, type AlertNotification, type TemplateExpander } from './alerting.js';
import { RuleManager } from './manager.js';
import { RuleMetrics } from './metrics.js';
import { Notifier, type Alert, type NotifierOptions } from './notifier.js';
import type { AlertmanagerConfig } from './alertmanagerconfig.js';
import { grpcQueryClient } from './grpcquery.js';
import { firstAnswering, httpQueryClient, type QueryOptions } from './query.js';
import type { QueryEndpointConfig } from './queryconfig.js';
import { QueryTargets } from './querytargets.js';
import { openResultStorage, type ResultStorageConfig } from './results.js';
import { expandAlertTemplate } from './template/index.js';
import { RulerStore } from './store.js';

export interface RulerConfig extends ServingConfig {
  ruleFiles: readonly string[];
  evalIntervalMs: number;
  /** `--rule-query-offset`: the query offset of groups that set none. */
  queryOffsetMs: number;
  resendDelayMs: number;
  /** `--query` addresses, `--query.sd-files` and their refresh intervals, and how to ask the queriers. */
  queryAddresses: readonly string[];
  querySdFiles?: readonly string[];
  querySdIntervalMs?: number;
  queryDnsIntervalMs?: number;
  queryMethod: 'GET' | 'POST';
  /** `--query.config(-file)`: queriers with credentials and TLS of their own, asked after the `--query` ones (the CLI takes one or the other, as Thanos). */
  queryConfigs?: readonly QueryEndpointConfig[];
  /** `--grpc-query-endpoint`: queriers' Query API addresses (`dns+` and `dnssrv+` looked up), asked after the HTTP ones; the only way native histogram results come exactly. */
  grpcQueryEndpoints?: readonly string[];
  /** Where results go: `--remote-write.config`, else the local TSDB in `--data-dir`. */
  storage: ResultStorageConfig;
  alertmanagers: readonly AlertmanagerConfig[];
  /** `--alert.label-drop`, `--alert.relabel-config`. */
  alertLabelDrop: readonly string[];
  /** How often dns+/dnssrv+ Alertmanager addresses are resolved again (default 30s). */
  alertmanagersDnsIntervalMs?: number;
  alertRelabelConfig?: NotifierOptions['relabel'];
  /** `--alert.query-url`: the alerts' generator links, and templates' `$externalURL`. */
  alertQueryUrl: string;
  /** `--label`: added to every result, alert and rule, as a Prometheus' external labels. */
  externalLabels: Labels;
  /** `--for-outage-tolerance`, `--for-grace-period`, `--restore-ignored-label`: restoring alerts' `for` state after a start. */
  forOutageToleranceMs: number;
  forGracePeriodMs: number;
  restoreIgnoredLabels: readonly string[];
  /** PromQL syntax of the rule files' expressions. */
  promqlCompat: 2 | 3;
  httpAddress: string;
  grpcAddress: string;
  grpcTls?: ServerTLS;
  logger: Logger;
}

export interface Ruler {
  readonly httpAddress: string;
  readonly grpcAddress: string;
  readonly registry: Registry;
  /** Reads the rule files again (SIGHUP, POST /-/reload). */
  reload(): Promise<void>;
  stop(): Promise<void>;
}

const MS = 1_000_000n;
const QUERY_TIMEOUT_MS = 5 * 60_000;

export async function start(cfg: RulerConfig): Promise<Ruler> {
  const { logger } = cfg;
  const registry = new Registry();
  collectProcessMetrics(registry);
  const prober = new Prober('rule', registry);
  const metrics = new RuleMetrics(registry);
  // As Thanos' ruler: counted by the group's strategy (under abort, warnings that did not fail the query).
  const onWarnings = (expr: string, warnings: readonly string[], { partialResponse }: QueryOptions) => {
    metrics.evalWithWarnings.inc({ strategy: partialResponse ? 'warn' : 'abort' });
    logger.warn('rule query answered with warnings', { query: expr, warnings: warnings.join(', ') });
  };
  const dns = cfg.queryDnsIntervalMs !== undefined ? { dnsIntervalMs: cfg.queryDnsIntervalMs } : {};
  const httpTargets = new QueryTargets({
    addresses: cfg.queryAddresses,
    ...(cfg.querySdFiles !== undefined ? { sdFiles: cfg.querySdFiles } : {}),
    ...(cfg.querySdIntervalMs !== undefined ? { sdIntervalMs: cfg.querySdIntervalMs } : {}),
    ...dns,
    logger,
  });
  const configured = (cfg.queryConfigs ?? []).map((c) =>
    httpQueryClient({
      targets: new QueryTargets({ addresses: c.staticAddresses, sdFiles: c.sdFiles, ...(c.sdIntervalMs !== undefined ? { sdIntervalMs: c.sdIntervalMs } : {}), scheme: c.scheme, pathPrefix: c.pathPrefix, ...dns, logger }),
      method: cfg.queryMethod,
      timeoutMs: QUERY_TIMEOUT_MS,
      http: c.http,
      onWarnings,
    }),
  );
  const grpcEndpoints = cfg.grpcQueryEndpoints ?? [];
  if (httpTargets.none && configured.length === 0 && grpcEndpoints.length === 0) throw new Error('no --query, --query.config or --grpc-query-endpoint parameter was given');
  const grpcQuery = grpcEndpoints.length > 0 ? grpcQueryClient({ targets: new QueryTargets({ addresses: grpcEndpoints, ...dns, logger }), timeoutMs: QUERY_TIMEOUT_MS, onWarnings }) : undefined;
  const { query, lastSamples } = firstAnswering([
    ...(httpTargets.none ? [] : [httpQueryClient({ targets: httpTargets, method: cfg.queryMethod, timeoutMs: QUERY_TIMEOUT_MS, onWarnings })]),
    ...configured,
    ...(grpcQuery !== undefined ? [grpcQuery] : []),
  ]);
  const results = await openResultStorage(cfg.storage, { externalLabels: cfg.externalLabels, registry, logger });
  const notifier = new Notifier(cfg.alertmanagers, {
    registry,
    logger,
    externalLabels: cfg.externalLabels,
    labelDrop: cfg.alertLabelDrop,
    ...(cfg.alertRelabelConfig !== undefined ? { relabel: cfg.alertRelabelConfig } : {}),
    ...(cfg.alertmanagersDnsIntervalMs !== undefined ? { dnsIntervalMs: cfg.alertmanagersDnsIntervalMs } : {}),
  });
  if (cfg.alertmanagers.length === 0) logger.warn('no alertmanager configured');
  const externalLabels = cfg.externalLabels.toRecord();
  const templates = (ruleName: string, partialResponse: boolean): TemplateExpander => {
    return (text, data) =>
      expandAlertTemplate(`__alert_${ruleName}`, text, {
        labels: data.labels.toRecord(),
        externalLabels,
        externalURL: cfg.alertQueryUrl,
        value: data.value,
        timestampMs: data.timeMs,
        query: async (q, timeMs) => (await query(q, timeMs, { partialResponse })).map((x) => ({ labels: x.labels.toRecord(), value: x.value })),
      });
  };
  const manager = new RuleManager({
    ruleFiles: cfg.ruleFiles,
    defaultIntervalNs: BigInt(cfg.evalIntervalMs) * MS,
    defaultQueryOffsetNs: BigInt(cfg.queryOffsetMs) * MS,
    query,
    write: (samples, timeMs) => results.write(samples, timeMs),
    send: (alerts, expr) => notifier.send(alerts.map((a) => notification(a, cfg.alertQueryUrl, expr))),
    resendDelayNs: BigInt(cfg.resendDelayMs) * MS,
    externalLabels: cfg.externalLabels,
    templates,
    promql: { compat: cfg.promqlCompat },
    metrics,
    logger,
    restore: {
      outageToleranceNs: BigInt(cfg.forOutageToleranceMs) * MS,
      forGracePeriodNs: BigInt(cfg.forGracePeriodMs) * MS,
      // Whatever part of the series the endpoints give back is better than starting every `for` afresh.
      // The series the ruler wrote (its external labels added, --restore-ignored-label left out), not another
      // source's of the same alert: a Prometheus evaluating the same rule file writes one too.
      lookup: async (labels, rangeNs) => {
        const [last] = await lastSamples(forStateSelector(labels.merge(cfg.externalLabels).without(cfg.restoreIgnoredLabels)), Number(rangeNs / MS), Date.now(), { partialResponse: true });
        return last;
      },
    },
  });
  await manager.reload();

  const http = await startHttpServer({ address: cfg.httpAddress, registry, prober, logger, plugins: [ruleApi(manager)], ...httpServing(cfg) });
  prober.healthy();
  let grpc;
  try {
    grpc = await serveStore(new RulerStore(cfg.externalLabels, () => manager.ruleGroups(), results.store), {
      address: cfg.grpcAddress,
      ...grpcServing(cfg, grpcServerMetrics(registry), logger),
      ...(cfg.grpcTls !== undefined ? { tls: cfg.grpcTls } : {}),
    });
  } catch (err) {
    await http.close();
    await manager.stop();
    await Promise.all([results.close(), notifier.stop()]);
    grpcQuery?.close();
    throw err;
  }
  prober.ready();
  const served = grpc;
  return {
    httpAddress: http.address,
    grpcAddress: served.address,
    registry,
    reload: () => manager.reload(),
    async stop() {
      prober.notReady('stopping');
      await manager.stop();
      await Promise.all([http.close(), served.stop(cfg.grpcGracePeriodMs)]);
      await Promise.all([results.close(), notifier.stop()]);
      grpcQuery?.close();
    },
  };
}

/**
 * What Alertmanager is sent for an alert (Thanos' ruler's notifyFunc): its labels and annotations, its
 * times, and a link to its expression in the query UI of `--alert.query-url`.
 */
function notification(a: AlertNotification, queryUrl: string, expr: string): Alert {
  return {
    labels: a.labels.toArray(),
    annotations: a.annotations,
    startsAt: Number(a.startsAtNs / MS),
    endsAt: Number(a.endsAtNs / MS),
    generatorURL: `${queryUrl}${tableLinkForExpression(expr)}`,
  };
}

/** The selector of an alert's `ALERTS_FOR_STATE` series (Prometheus' QueryforStateSeries: every label of the alert). */
export function forStateSelector(labels: Labels): string {
  const matchers = [`__name__="${ALERT_FOR_STATE_METRIC_NAME}"`, ...[...labels].map((l) => `${isLegacyLabelName(l.name) ? l.name : JSON.stringify(l.name)}=${JSON.stringify(l.value)}`)];
  return `{${matchers.join(',')}}`;
}

/** Prometheus' strutil.TableLinkForExpression. */
export function tableLinkForExpression(expr: string): string {
  return `/graph?g0.expr=${goQueryEscape(expr)}&g0.tab=1`;
}

/** Go's url.QueryEscape: spaces as `+`, and everything but letters, digits and `-_.~` escaped. */
function goQueryEscape(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`).replace(/%20/g, '+');
}
