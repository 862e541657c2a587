/**
 * The ruler's notifier against a real Alertmanager 0.25 (Debian's prometheus-alertmanager, which
 * scripts/setup.sh installs): alerts sent firing are listed by its API v2 as sent, and once sent resolved
 * they leave its list of active alerts.
 */
import { alertmanagerAvailable, startAlertmanager, type AlertmanagerHandle } from '@strata/testing/alertmanager';
import { tempDir } from '@strata/testing/process';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { alertmanagerConfigFromUrl } from '../../packages/rule/src/alertmanagerconfig.js';
import { Notifier, type Alert } from '../../packages/rule/src/notifier.js';

const available = alertmanagerAvailable("the ruler's notifier");

let dir: { path: string; cleanup: () => Promise<void> } | undefined;
let am: AlertmanagerHandle | undefined;

beforeAll(async () => {
  if (!available) return;
  dir = await tempDir('strata-rule-am-');
  am = await startAlertmanager(dir.path);
});

afterAll(async () => {
  await am?.stop();
  await dir?.cleanup();
});

const labels = (r: Record<string, string>) => Object.entries(r).map(([name, value]) => ({ name, value }));

describe.skipIf(!available)('alerts to Alertmanager 0.25', () => {
  it('lists the alerts sent firing, and drops them from the active ones once resolved', async () => {
    const registry = new Registry();
    const notifier = new Notifier([alertmanagerConfigFromUrl(am!.url)], { registry, externalLabels: labels({ cluster: 'eu-1', replica: 'r0' }), labelDrop: ['replica'] });
    let sent = 0;
    // Each batch is sent once, in the background: wait until Alertmanager has taken it.
    const send = async (alerts: Alert[]) => {
      notifier.send(alerts);
      sent += alerts.length;
      await vi.waitFor(async () => expect((await registry.getSingleMetric('thanos_alert_sender_alerts_sent_total')!.get()).values[0]?.value).toBe(sent));
    };
    const now = Date.now();
    const startsAt = now - 120_500;
    const firing = (name: string, endsAt: number): Alert => ({
      labels: labels({ alertname: name, severity: 'page', replica: 'r1' }),
      annotations: labels({ summary: `${name} is firing`, description: 'value 1.5' }),
      startsAt,
      endsAt,
      generatorURL: `http://ruler.example/graph?g0.expr=up+%3D%3D+0&g0.tab=1&name=${name}`,
    });
    await send([firing('HighLatency', now + 3_600_000), firing('InstanceDown', now + 3_600_000)]);

    const listed = await am!.alerts();
    expect(listed.map((a) => ({ labels: a.labels, annotations: a.annotations, startsAt: a.startsAt, generatorURL: a.generatorURL, state: a.status.state }))).toEqual(
      ['HighLatency', 'InstanceDown'].map((name) => ({
        labels: { alertname: name, severity: 'page', cluster: 'eu-1' },
        annotations: { summary: `${name} is firing`, description: 'value 1.5' },
        startsAt: new Date(startsAt).toISOString(),
        generatorURL: `http://ruler.example/graph?g0.expr=up+%3D%3D+0&g0.tab=1&name=${name}`,
        state: 'active',
      })),
    );
    expect(listed.map((a) => a.endsAt)).toEqual([new Date(now + 3_600_000).toISOString(), new Date(now + 3_600_000).toISOString()]);

    // Resolved: an end in the past.
    await send([firing('InstanceDown', Date.now() - 1000)]);
    expect((await am!.alerts()).map((a) => a.labels.alertname)).toEqual(['HighLatency']);
    await notifier.stop();
    expect((await registry.getSingleMetric('thanos_alert_sender_errors_total')!.get()).values).toEqual([]);
  });
});
