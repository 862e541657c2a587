import { Relabeler, type RelabelConfig } from '@strata/block';
import { configMapping, parseYamlConfig } from '@strata/objstore';

/** The fields of a Prometheus relabel rule (relabel.Config), read strictly as Prometheus' yaml.UnmarshalStrict does. */
const RELABEL_KEYS = new Set(['source_labels', 'separator', 'regex', 'modulus', 'target_label', 'replacement', 'action']);

/**
 * A list of relabel rules from a parsed YAML value (a config's `write_relabel_configs`, or the content of
 * `--alert.relabel-config`): an unknown field or a value of the wrong type is an error naming the rule.
 */
export function parseRelabelConfigs(v: unknown, what: string): Relabeler {
  if (v === undefined || v === null) return new Relabeler([]);
  if (!Array.isArray(v)) throw new Error(`${what}: expected a list of relabel rules`);
  const rules = v.map((item, i): RelabelConfig => {
    const where = `${what}[${i}]`;
    const m = configMapping(item, where, RELABEL_KEYS);
    const str = (key: string): string | undefined => {
      const x = m[key];
      if (x === undefined || x === null) return undefined;
      if (typeof x === 'object') throw new Error(`${where}: ${key} must be a string`);
      return String(x);
    };
    const source = m.source_labels;
    if (source !== undefined && source !== null && !(Array.isArray(source) && source.every((s) => typeof s === 'string'))) throw new Error(`${where}: source_labels must be a list of label names`);
    const modulus = m.modulus;
    if (modulus !== undefined && modulus !== null && typeof modulus !== 'number') throw new Error(`${where}: modulus must be a number`);
    const cfg: RelabelConfig = {};
    if (Array.isArray(source)) cfg.source_labels = source as string[];
    if (typeof modulus === 'number') cfg.modulus = modulus;
    for (const key of ['separator', 'regex', 'target_label', 'replacement'] as const) {
      const s = str(key);
      if (s !== undefined) cfg[key] = s;
    }
    const action = str('action');
    if (action !== undefined) cfg.action = action as RelabelConfig['action'];
    return cfg;
  });
  try {
    return new Relabeler(rules);
  } catch (e) {
    throw new Error(`${what}: ${(e as Error).message}`);
  }
}

/** `--alert.relabel-config(-file)`: a YAML list of relabel rules. */
export function parseRelabelConfigYaml(text: string, what: string): Relabeler {
  return parseRelabelConfigs(parseYamlConfig(text, what), what);
}
