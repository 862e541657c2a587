import type { Command } from 'commander';
import { Relabeler } from '@strata/block';
import { alertmanagerConfigFromUrl, parseAlertingConfig, parseQueryConfig, parseRemoteWriteConfig, start, type AlertmanagerConfig, type ResultStorageConfig } from '@strata/rule';
import { Labels } from '@strata/tsdb';
import { parseDuration, parseLabelFlags } from '../flags.js';
import { localTsdbFromFlags, withLocalTsdbFlags } from './localtsdb-flags.js';
import { choiceFlag, collect, loggerFromFlags, repeatable, runUntilSignal, serverTlsFromFlags, servingFromFlags, startTracingFor, tracingConfigFromFlags, withServingFlags, yamlFlag } from './component.js';

/** `strata rule`: Thanos' ruler, with `thanos rule`'s flags. */
export function register(program: Command): void {
  const cmd = program
    .command('rule')
    .description('Evaluate Prometheus recording and alerting rules through a querier: results kept in a TSDB of its own (served over the StoreAPI, shipped to the bucket) or remote-written, alerts sent to Alertmanager, rules served over the Rules API')
    .option('--rule-file <pattern>', 'rule files, as globs (repeatable); read again on SIGHUP or POST /-/reload', collect)
    .option('--eval-interval <duration>', 'evaluation interval of groups that set none', '1m')
    .option('--rule-query-offset <duration>', "the query_offset of groups that set none: rules read (and write) their data this long before each evaluation, for data that arrives late", '0s')
    .option('--resend-delay <duration>', 'least time between two sends of a firing alert to Alertmanager', '1m')
    .option('--query <address>', "a querier's HTTP address, host:port or http(s)://host:port/prefix; dns+ and dnssrv+ resolve it (repeatable: asked in random order until one answers)", collect, [])
    .option('--query.sd-files <path>', "Prometheus file SD files (YAML or JSON) listing queriers' host:port targets (repeatable)", collect, [])
    .option('--query.sd-interval <duration>', 'how often --query.sd-files are read again', '5m')
    .option('--query.sd-dns-interval <duration>', 'how often dns+ and dnssrv+ --query addresses are looked up again', '30s')
    .option('--query.config <yaml>', "the queriers in Thanos' YAML, each entry with credentials and TLS of its own ([{http_config, static_configs, file_sd_configs, scheme, path_prefix}]); not with --query or --query.sd-files")
    .option('--query.config-file <path>', 'file with the query configuration')
    .option('--query.http-method <method>', 'GET or POST for the instant queries', 'POST')
    .option('--grpc-query-endpoint <endpoint>', "a querier's gRPC address (Thanos' Query API: evaluation times in whole seconds, native histogram results exact); dns+ and dnssrv+ resolve it (repeatable; asked after the --query ones)", collect, [])
    .option('--remote-write.config <yaml>', "send the rules' samples over remote write instead of keeping them (Thanos' stateless ruler): Prometheus' remote_write section, e.g. \"remote_write: [{url: http://prometheus:9090/api/v1/write}]\"; empty: ignored")
    .option('--remote-write.config-file <path>', 'file with the remote write configuration')
    .option('--alertmanagers.url <url>', "Alertmanager to send alerts to, http(s)://host:port[/prefix] (repeatable); dns+ and dnssrv+ resolve it", collect, [])
    .option('--alertmanagers.config <yaml>', "the Alertmanagers in Thanos' YAML (alertmanagers: [{static_configs: [...], scheme, path_prefix, timeout, api_version, http_config}]); not with --alertmanagers.url")
    .option('--alertmanagers.config-file <path>', 'file with the Alertmanager configuration')
    .option('--alertmanagers.sd-dns-interval <duration>', 'how often dns+ and dnssrv+ Alertmanager addresses are looked up again', '30s')
    .option('--alertmanagers.send-timeout <duration>', 'timeout of a send to an Alertmanager of --alertmanagers.url', '10s')
    .option('--alert.query-url <url>', "the querier UI's URL, which alerts link to (their generatorURL) and templates see as $externalURL", '')
    .option('--alert.label-drop <name>', 'label removed from alerts before they are sent, e.g. the replica label of HA rulers (repeatable)', repeatable, [])
    .option('--alert.relabel-config <yaml>', 'relabel rules applied to alerts before they are sent')
    .option('--alert.relabel-config-file <path>', 'file with the alert relabel rules')
    .option('--for-outage-tolerance <duration>', "after a start, an alert's `for` state is restored from the ALERTS_FOR_STATE series written this long before at most", '1h')
    .option('--for-grace-period <duration>', 'after a start, a restored alert with a longer `for` fires no sooner than this', '10m')
    .option('--restore-ignored-label <name>', 'label left out when looking up ALERTS_FOR_STATE series to restore alerts, e.g. the replica label of HA rulers (repeatable)', collect, [])
    .option('--label <name="value">', "external label of the ruler's results, alerts and rules (repeatable), e.g. replica=\"A\" for HA rulers", collect, [])
    .option('--data-dir <dir>', "the ruler's TSDB: its write-ahead log and blocks (unused with --remote-write.config)", 'data/')
    .option('--query.promql-compat <version>', "PromQL syntax of the rule files' expressions, and how the Rules API prints them: 3 (Prometheus 3) or 2 (Prometheus 2)", '3')
    .option('--grpc-address <host:port>', 'listen address of the Rules API', '0.0.0.0:10901')
    .option('--http-address <host:port>', 'listen address of /api/v1/rules, /api/v1/alerts, /-/reload, /metrics and probes', '0.0.0.0:10902');
  withServingFlags(withLocalTsdbFlags(cmd, { what: 'ruler', retention: '48h' }), { grpc: true, requestLogging: true }).action(async (o: Record<string, unknown>) => {
    const logger = loggerFromFlags(o);
    const tracing = startTracingFor(await tracingConfigFromFlags(o), 'rule', logger);
    const serving = await servingFromFlags(o, logger);
    const queries = o.query as string[];
    const duplicate = queries.find((q, i) => queries.indexOf(q) !== i);
    if (duplicate !== undefined) throw new Error(`Address ${duplicate} is duplicated for --query flag.`);
    const queryConfig = await yamlFlag(o, 'query.config');
    if (queryConfig !== undefined && (queries.length > 0 || (o['query.sdFiles'] as string[]).length > 0)) throw new Error('--query/--query.sd-files and --query.config* parameters cannot be defined at the same time');
    const alertRelabel = await yamlFlag(o, 'alert.relabel-config');
    const grpcTls = await serverTlsFromFlags(o);
    const ruler = await start({
      ruleFiles: (o.ruleFile as string[] | undefined) ?? ['rules/'],
      evalIntervalMs: parseDuration(String(o.evalInterval)),
      queryOffsetMs: parseDuration(String(o.ruleQueryOffset)),
      resendDelayMs: parseDuration(String(o.resendDelay)),
      queryAddresses: queries,
      querySdFiles: o['query.sdFiles'] as string[],
      querySdIntervalMs: parseDuration(String(o['query.sdInterval'])),
      queryDnsIntervalMs: parseDuration(String(o['query.sdDnsInterval'])),
      queryMethod: choiceFlag(o['query.httpMethod'], '--query.http-method', ['GET', 'POST']) as 'GET' | 'POST',
      ...(queryConfig !== undefined ? { queryConfigs: parseQueryConfig(queryConfig) } : {}),
      grpcQueryEndpoints: o.grpcQueryEndpoint as string[],
      storage: await storageFromFlags(o),
      alertmanagers: await alertmanagersFromFlags(o),
      alertLabelDrop: o['alert.labelDrop'] as string[],
      alertmanagersDnsIntervalMs: parseDuration(String(o['alertmanagers.sdDnsInterval'])),
      ...(alertRelabel !== undefined ? { alertRelabelConfig: Relabeler.fromYaml(alertRelabel, '--alert.relabel-config') } : {}),
      alertQueryUrl: String(o['alert.queryUrl']).replace(/\/+$/, ''),
      externalLabels: Labels.from(parseLabelFlags(o.label as string[])),
      forOutageToleranceMs: parseDuration(String(o.forOutageTolerance)),
      forGracePeriodMs: parseDuration(String(o.forGracePeriod)),
      restoreIgnoredLabels: o.restoreIgnoredLabel as string[],
      promqlCompat: Number(choiceFlag(o['query.promqlCompat'], '--query.promql-compat', ['2', '3'])) as 2 | 3,
      httpAddress: String(o.httpAddress),
      grpcAddress: String(o.grpcAddress),
      ...(grpcTls !== undefined ? { grpcTls } : {}),
      ...serving,
      logger,
    });
    logger.info('ruler ready', { grpc: ruler.grpcAddress, http: ruler.httpAddress });
    const onHangup = () => void ruler.reload().catch((err: unknown) => logger.error('reload rules by SIGHUP failed', { err: err as Error }));
    process.on('SIGHUP', onHangup);
    await runUntilSignal(logger, async () => {
      process.off('SIGHUP', onHangup);
      await ruler.stop();
      await tracing.stop();
    });
  });
}

/**
 * Where the results go, as Thanos decides: a remote write configuration (not empty) makes the ruler
 * stateless; else its TSDB in --data-dir, shipped to the bucket of --objstore.config(-file) if given.
 */
async function storageFromFlags(o: Record<string, unknown>): Promise<ResultStorageConfig> {
  const remoteWrite = await yamlFlag(o, 'remote-write.config');
  if (remoteWrite !== undefined && remoteWrite.trim() !== '') return { remoteWrite: parseRemoteWriteConfig(remoteWrite) };
  const { blockDurationMs, retentionMs, ...shipping } = await localTsdbFromFlags(o);
  return { tsdb: { dir: String(o.dataDir), blockDurationMs, retentionMs }, ...shipping };
}

/** --alertmanagers.url or --alertmanagers.config(-file), as Thanos: not both. */
async function alertmanagersFromFlags(o: Record<string, unknown>): Promise<AlertmanagerConfig[]> {
  const config = await yamlFlag(o, 'alertmanagers.config');
  const urls = o['alertmanagers.url'] as string[];
  if (config !== undefined && urls.length > 0) throw new Error('--alertmanagers.url and --alertmanagers.config* parameters cannot be defined at the same time');
  if (config !== undefined) return parseAlertingConfig(config);
  const timeoutMs = parseDuration(String(o['alertmanagers.sendTimeout']));
  return urls.map((u) => alertmanagerConfigFromUrl(u, timeoutMs));
}
