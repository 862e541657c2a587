/**
 * Debian's Alertmanager 0.25 (prometheus-alertmanager, which scripts/setup.sh installs) on 127.0.0.1 and
 * a free port, with one receiver without integrations: alerts are kept and listed by its API v2, never
 * notified anywhere; no cluster gossip.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, startProcess, waitForHttp } from './process.js';

export const ALERTMANAGER_BINARY = '/usr/bin/prometheus-alertmanager';

/** Whether the binary is here; a test without it says loudly that it was skipped. */
export function alertmanagerAvailable(what: string): boolean {
  if (existsSync(ALERTMANAGER_BINARY)) return true;
  console.warn(`SKIPPED: ${ALERTMANAGER_BINARY} is absent (apt-get install prometheus-alertmanager, or run scripts/setup.sh); ${what} was not tested against a real Alertmanager`);
  return false;
}

/** An alert as Alertmanager's API v2 lists it (GettableAlert). */
export interface GettableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL: string;
  status: { state: string };
}

export interface AlertmanagerHandle {
  readonly url: string;
  /** Its active alerts (`GET /api/v2/alerts`), ordered by alertname. */
  alerts(): Promise<GettableAlert[]>;
  stop(): Promise<void>;
}

export async function startAlertmanager(dir: string): Promise<AlertmanagerHandle> {
  const config = join(dir, 'alertmanager.yml');
  await writeFile(config, 'route:\n  receiver: null-receiver\nreceivers:\n  - name: null-receiver\n');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = startProcess(ALERTMANAGER_BINARY, [`--config.file=${config}`, `--storage.path=${join(dir, 'alertmanager-data')}`, `--web.listen-address=127.0.0.1:${port}`, '--cluster.listen-address='], {
    logFile: join(dir, 'alertmanager.log'),
  });
  try {
    await waitForHttp(`${url}/-/ready`, { proc });
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return {
    url,
    async alerts() {
      const res = await fetch(`${url}/api/v2/alerts`);
      if (res.status !== 200) throw new Error(`Alertmanager /api/v2/alerts: HTTP ${res.status}: ${await res.text()}`);
      return ((await res.json()) as GettableAlert[]).sort((a, b) => (a.labels.alertname ?? '').localeCompare(b.labels.alertname ?? ''));
    },
    stop: () => proc.stop(),
  };
}
