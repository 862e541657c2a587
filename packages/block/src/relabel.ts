import { createHash } from 'node:crypto';
import { configMapping, parseYamlConfig } from '@strata/objstore';
import { compileAnchored, isLegacyLabelName } from '@strata/tsdb';

/** One Prometheus relabel rule, as written in `--selector.relabel-config`. */
export interface RelabelConfig {
  source_labels?: string[];
  separator?: string;
  regex?: string;
  modulus?: number;
  target_label?: string;
  replacement?: string;
  action?: RelabelAction;
}

export type RelabelAction = 'replace' | 'keep' | 'drop' | 'keepequal' | 'dropequal' | 'hashmod' | 'lowercase' | 'uppercase' | 'labelmap' | 'labeldrop' | 'labelkeep';
const ACTIONS = new Set<string>(['replace', 'keep', 'drop', 'keepequal', 'dropequal', 'hashmod', 'lowercase', 'uppercase', 'labelmap', 'labeldrop', 'labelkeep']);
/** Actions that write or compare `target_label` as it is written: it must be a label name. */
const NAMED_TARGET = new Set<string>(['keepequal', 'dropequal', 'hashmod', 'lowercase', 'uppercase']);

interface CompiledRule {
  action: RelabelAction;
  source: string[];
  separator: string;
  regex: RegExp;
  modulus: number;
  target: string;
  replacement: string;
}

/**
 * Prometheus relabelling over a plain label map, with all of Prometheus 2.42's actions: block selection
 * (keep/drop on external labels, `hashmod` on `__block_id` to shard blocks over several store gateways or
 * compactors) and the series relabelling of `tools bucket rewrite`.
 */
export class Relabeler {
  readonly #rules: CompiledRule[];

  constructor(configs: readonly RelabelConfig[]) {
    this.#rules = configs.map((c, i) => compileRule(c, i));
  }

  /** A YAML list of rules (the content of a relabel config file or flag), read strictly: see parseRelabelConfigs. */
  static fromYaml(text: string, what = 'relabel config'): Relabeler {
    return parseRelabelConfigs(parseYamlConfig(text, what), what);
  }

  get empty(): boolean {
    return this.#rules.length === 0;
  }

  /** The relabelled set, or undefined if a rule dropped it (or it ended up empty). */
  process(labels: Readonly<Record<string, string>>): Record<string, string> | undefined {
    const ls: Record<string, string> = { ...labels };
    for (const r of this.#rules) {
      const value = r.source.map((n) => ls[n] ?? '').join(r.separator);
      switch (r.action) {
        case 'keep':
          if (!r.regex.test(value)) return undefined;
          break;
        case 'drop':
          if (r.regex.test(value)) return undefined;
          break;
        case 'keepequal':
          if ((ls[r.target] ?? '') !== value) return undefined;
          break;
        case 'dropequal':
          if ((ls[r.target] ?? '') === value) return undefined;
          break;
        case 'lowercase':
        case 'uppercase':
          set(ls, r.target, changeCase(value, r.action === 'uppercase'));
          break;
        case 'hashmod':
          set(ls, r.target, String(hashmod(value, r.modulus)));
          break;
        case 'replace': {
          const m = r.regex.exec(value);
          if (!m) break;
          const target = expand(r.target, m);
          if (target === '') break;
          set(ls, target, expand(r.replacement, m));
          break;
        }
        case 'labelmap':
          for (const [name, v] of Object.entries({ ...ls })) {
            const m = r.regex.exec(name);
            if (m) set(ls, expand(r.replacement, m), v);
          }
          break;
        case 'labeldrop':
          for (const name of Object.keys(ls)) if (r.regex.test(name)) delete ls[name];
          break;
        case 'labelkeep':
          for (const name of Object.keys(ls)) if (!r.regex.test(name)) delete ls[name];
          break;
      }
    }
    return Object.keys(ls).length === 0 ? undefined : ls;
  }
}

/** Prometheus' hashmod: the low 64 bits of the MD5 of the value, big-endian, modulo `modulus`. */
export function hashmod(value: string, modulus: number): number {
  const sum = createHash('md5').update(value).digest();
  return Number(sum.readBigUInt64BE(8) % BigInt(modulus));
}

function compileRule(c: RelabelConfig, i: number): CompiledRule {
  const action = (c.action ?? 'replace').toLowerCase();
  if (!ACTIONS.has(action)) throw new Error(`rule ${i}: unsupported relabel action ${JSON.stringify(c.action)}`);
  const rule: CompiledRule = {
    action: action as RelabelAction,
    source: c.source_labels ?? [],
    separator: c.separator ?? ';',
    regex: compileAnchored(c.regex ?? '(.*)'),
    modulus: c.modulus ?? 0,
    target: c.target_label ?? '',
    replacement: c.replacement ?? '$1',
  };
  if (rule.action === 'hashmod' && (!Number.isInteger(rule.modulus) || rule.modulus <= 0)) throw new Error(`rule ${i}: hashmod needs a positive modulus`);
  if ((NAMED_TARGET.has(rule.action) || rule.action === 'replace') && rule.target === '') throw new Error(`rule ${i}: ${rule.action} needs target_label`);
  if (NAMED_TARGET.has(rule.action) && !isLegacyLabelName(rule.target)) throw new Error(`rule ${i}: ${JSON.stringify(rule.target)} is invalid 'target_label' for ${rule.action} action`);
  if ((rule.action === 'keepequal' || rule.action === 'dropequal') && (c.regex !== undefined || c.modulus !== undefined || c.separator !== undefined || c.replacement !== undefined)) {
    throw new Error(`rule ${i}: ${rule.action} action requires only 'source_labels' and 'target_label', and no other fields`);
  }
  return rule;
}

/**
 * Go's strings.ToLower / ToUpper: each character by its own (simple) mapping, where JavaScript's applies
 * context (a final sigma) and full mappings (İ to i and a combining dot): a character whose JavaScript
 * mapping is longer than one keeps Go's simple one where it differs (İ → i), else stays as it is.
 */
function changeCase(value: string, upper: boolean): string {
  let out = '';
  for (const ch of value) {
    const mapped = upper ? ch.toUpperCase() : ch.toLowerCase();
    out += [...mapped].length === 1 ? mapped : !upper && ch === '\u0130' ? 'i' : ch;
  }
  return out;
}

/** Go's regexp Expand: $1, ${1}, $name, ${name}; $$ is a literal $. */
function expand(template: string, m: RegExpExecArray): string {
  return template.replace(/\$(\$|\{(\w+)\}|(\w+))/g, (_, all: string, braced?: string, bare?: string) => {
    if (all === '$') return '$';
    const ref = braced ?? bare ?? '';
    const v = /^\d+$/.test(ref) ? m[Number(ref)] : m.groups?.[ref];
    return v ?? '';
  });
}

function set(ls: Record<string, string>, name: string, value: string): void {
  if (value === '') delete ls[name];
  else ls[name] = value;
}

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
