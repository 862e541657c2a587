import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';

/**
 * File service discovery as Prometheus and Thanos read it (`--endpoint.sd-files`): a YAML or JSON list
 * of target groups, `[{targets: ["host:port", …], labels: {…}}]`. Only the targets are used.
 */
export async function readSdFile(path: string): Promise<string[]> {
  const text = await readFile(path, 'utf8');
  let groups: unknown;
  try {
    groups = parse(text);
  } catch (e) {
    throw new Error(`${path}: ${(e as Error).message}`);
  }
  if (groups === null || groups === undefined) return [];
  if (!Array.isArray(groups)) throw new Error(`${path}: expected a list of target groups`);
  const out: string[] = [];
  for (const [i, g] of groups.entries()) {
    const targets = (g as { targets?: unknown }).targets;
    if (!Array.isArray(targets) || !targets.every((t) => typeof t === 'string')) {
      throw new Error(`${path}: target group ${i} needs "targets": a list of host:port strings`);
    }
    out.push(...(targets as string[]));
  }
  return out;
}
