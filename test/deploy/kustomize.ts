import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';

/**
 * The subset of kustomize the manifests in deploy/kubernetes use, to assemble them without a cluster
 * tool: `resources` (files or directories with a kustomization.yaml), `namespace`, `labels` with
 * `pairs` (added to metadata.labels), `patches` with `path` (strategic-merge: maps merge, lists of
 * named items merge by name, anything else replaces), and `configMapGenerator` with `files` under
 * `generatorOptions.disableNameSuffixHash` (no name hashes to compute and rewrite references to).
 */
export type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> } } & Record<string, unknown>;

interface Kustomization {
  resources?: string[];
  namespace?: string;
  labels?: { pairs: Record<string, string> }[];
  patches?: { path: string }[];
  configMapGenerator?: { name: string; files: string[] }[];
  generatorOptions?: { disableNameSuffixHash?: boolean };
}

export async function kustomize(dir: string): Promise<K8sObject[]> {
  const k = (await readYaml(join(dir, 'kustomization.yaml')))[0] as Kustomization;
  const out: K8sObject[] = [];
  for (const r of k.resources ?? []) {
    const path = resolve(dir, r);
    if ((await stat(path)).isDirectory()) out.push(...(await kustomize(path)));
    else out.push(...((await readYaml(path)) as K8sObject[]));
  }
  for (const g of k.configMapGenerator ?? []) {
    if (k.generatorOptions?.disableNameSuffixHash !== true) throw new Error(`${dir}: configMapGenerator without generatorOptions.disableNameSuffixHash is not supported`);
    const data: Record<string, string> = {};
    for (const f of g.files) data[basename(f)] = await readFile(resolve(dir, f), 'utf8');
    out.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: g.name }, data });
  }
  for (const p of k.patches ?? []) {
    for (const patch of (await readYaml(resolve(dir, p.path))) as K8sObject[]) {
      const target = out.find((o) => o.kind === patch.kind && o.metadata.name === patch.metadata.name);
      if (!target) throw new Error(`${dirname(p.path)}: patch for ${patch.kind}/${patch.metadata.name} matches no resource`);
      Object.assign(target, strategicMerge(target, patch));
    }
  }
  for (const o of out) {
    if (k.namespace !== undefined && o.kind !== 'Namespace' && !CLUSTER_SCOPED.has(o.kind)) o.metadata.namespace = k.namespace;
    for (const l of k.labels ?? []) o.metadata.labels = { ...o.metadata.labels, ...l.pairs };
  }
  return out;
}

const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'PersistentVolume', 'StorageClass']);

async function readYaml(path: string): Promise<unknown[]> {
  const docs = parseAllDocuments(await readFile(path, 'utf8'));
  return docs.map((d) => {
    if (d.errors.length > 0) throw new Error(`${path}: ${d.errors[0]?.message}`);
    return d.toJS() as unknown;
  }).filter((d) => d !== null);
}

function strategicMerge(base: unknown, patch: unknown): unknown {
  if (Array.isArray(base) && Array.isArray(patch) && patch.every((p) => isNamed(p)) && base.every((b) => isNamed(b))) {
    const merged = [...base];
    for (const p of patch) {
      const i = merged.findIndex((b) => (b as { name: string }).name === (p as { name: string }).name);
      if (i >= 0) merged[i] = strategicMerge(merged[i], p);
      else merged.push(p);
    }
    return merged;
  }
  if (isMap(base) && isMap(patch)) {
    const merged: Record<string, unknown> = { ...base };
    for (const [k, v] of Object.entries(patch)) merged[k] = k in base ? strategicMerge(base[k], v) : v;
    return merged;
  }
  return patch;
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isNamed(v: unknown): boolean {
  return isMap(v) && typeof v.name === 'string';
}
