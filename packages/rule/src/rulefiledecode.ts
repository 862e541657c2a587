/**
 * Rule files' YAML decoded as Prometheus 2.42's rulefmt decodes it, with yaml.v3 and KnownFields into
 * its RuleGroups, RuleGroup and RuleNode types: an unknown field, a duplicate key (which leaves its
 * mapping undecoded) or a value of the wrong kind is an error, worded as yaml.v3 words it and with its
 * line, and decoding goes on to report them all. Aliases decode as their anchored nodes. A malformed
 * duration is one of those errors too, where yaml.v3 stops at the first and gives no line.
 *
 * What Go decodes into a string is a scalar's text as written (`1.0` stays `1.0`, null is empty); what
 * rulefmt keeps as a yaml.Node (record, alert, expr) is the text even of null (`~`), with its position.
 */
import { isAlias, isMap, isScalar, isSeq, type Document, type LineCounter, type ParsedNode } from 'yaml';
import { parseDuration } from '@strata/promql';
import type { PartialResponseStrategy } from './rulefile.js';

/** A scalar that rulefmt keeps as a yaml.Node: its text as written (empty for a mapping or sequence) and where it is. */
export interface NodeText {
  readonly text: string;
  /** `line:col`; `0:0` where the field is absent, as Go's zero yaml.Node. */
  readonly pos: string;
}

/** A group as written, before validation; what is absent is at its zero value (durations in ms). */
export interface DecodedGroup {
  /** `line:col` of the group's mapping, which group errors name. */
  pos: string;
  line: number;
  name: string;
  interval: number;
  limit: number;
  strategy: PartialResponseStrategy;
  queryOffset: number | undefined;
  rules: DecodedRule[];
}

/** A rule as written, before validation; labels and annotations in the order written. */
export interface DecodedRule {
  line: number;
  record: NodeText;
  alert: NodeText;
  expr: NodeText;
  for: number;
  keepFiringFor: number;
  labels: [string, string][];
  annotations: [string, string][];
}

type Node = ParsedNode | null;

const ABSENT: NodeText = { text: '', pos: '0:0' };
const FILE_FIELDS = ['groups'];
const GROUP_FIELDS_2 = ['name', 'interval', 'limit', 'rules', 'partial_response_strategy'];
const GROUP_FIELDS_3 = [...GROUP_FIELDS_2, 'query_offset'];
const RULE_FIELDS = ['record', 'alert', 'expr', 'for', 'keep_firing_for', 'labels', 'annotations'];

/**
 * Decodes a rule file's first YAML document; `errors` are yaml.v3's (`line 3: field foo not found in
 * type rulefmt.RuleGroup`), in the order written. Whatever they concern is left at its zero value.
 */
export function decodeRuleFile(doc: Document.Parsed, lines: LineCounter, compat: 2 | 3): { groups: DecodedGroup[]; errors: string[] } {
  const decoder = new Decoder(doc, lines, compat);
  const groups = decoder.file(doc.contents);
  return { groups, errors: decoder.errors };
}

class Decoder {
  readonly errors: string[] = [];

  constructor(
    private readonly doc: Document.Parsed,
    private readonly lines: LineCounter,
    private readonly compat: 2 | 3,
  ) {}

  file(node: Node): DecodedGroup[] {
    const groups: DecodedGroup[] = [];
    this.struct(node, 'rulefmt.RuleGroups', FILE_FIELDS, (_, value) => {
      for (const g of this.seq(value, '[]rulefmt.RuleGroup')) groups.push(this.group(g));
    });
    return groups;
  }

  private group(node: Node): DecodedGroup {
    const g: DecodedGroup = { ...this.where(node), name: '', interval: 0, limit: 0, strategy: 'abort', queryOffset: undefined, rules: [] };
    this.struct(node, 'rulefmt.RuleGroup', this.compat === 2 ? GROUP_FIELDS_2 : GROUP_FIELDS_3, (field, value) => {
      switch (field) {
        case 'name':
          g.name = this.string(value);
          break;
        case 'interval':
          g.interval = this.duration(value);
          break;
        case 'limit':
          g.limit = this.int(value);
          break;
        case 'partial_response_strategy':
          g.strategy = this.strategy(value);
          break;
        case 'query_offset':
          // A pointer in Prometheus 3: when set, even to 0s, it overrides the ruler's offset.
          g.queryOffset = isNull(value) ? undefined : this.duration(value);
          break;
        case 'rules':
          g.rules = this.seq(value, '[]rulefmt.RuleNode').map((r) => this.rule(r));
          break;
      }
    });
    return g;
  }

  private rule(node: Node): DecodedRule {
    const r: DecodedRule = { line: this.where(node).line, record: ABSENT, alert: ABSENT, expr: ABSENT, for: 0, keepFiringFor: 0, labels: [], annotations: [] };
    this.struct(node, 'rulefmt.RuleNode', RULE_FIELDS, (field, value) => {
      switch (field) {
        case 'record':
        case 'alert':
        case 'expr':
          r[field] = this.nodeText(value);
          break;
        case 'for':
          r.for = this.duration(value);
          break;
        case 'keep_firing_for':
          r.keepFiringFor = this.duration(value);
          break;
        case 'labels':
        case 'annotations':
          r[field] = this.stringMap(value);
          break;
      }
    });
    return r;
  }

  /** Thanos' strategy: its name in any case; empty or null for abort, recommended for alerting. */
  private strategy(node: Node): PartialResponseStrategy {
    const s = this.string(node).toLowerCase();
    if (s === 'warn' || s === 'abort') return s;
    if (s !== '') this.errors.push(`line ${this.where(node).line}: failed to unmarshal 'partial_response_strategy'. Possible values are ABORT,WARN. Got: ${this.string(node)}`);
    return 'abort';
  }

  /**
   * Decodes a mapping into a Go struct of the known fields, each in the order written: null is the
   * zero struct, another kind of node an error; unknown fields are errors, and a duplicate key leaves
   * the struct undecoded.
   */
  private struct(node: Node, type: string, known: readonly string[], decode: (field: string, value: Node) => void): void {
    for (const [key, value, keyNode] of this.mapping(node, type)) {
      if (known.includes(key)) decode(key, value);
      else this.errors.push(`line ${this.where(keyNode).line}: field ${key} not found in type ${type}`);
    }
  }

  private stringMap(node: Node): [string, string][] {
    return this.mapping(node, 'map[string]string').map(([k, v]) => [k, this.string(v)]);
  }

  /** A mapping's keys (decoded as strings) and values, or nothing: for null, another kind of node or duplicate keys. */
  private mapping(aliased: Node, type: string): [string, Node, Node][] {
    const node = this.resolve(aliased);
    if (isNull(node)) return [];
    if (!isMap(node)) {
      this.typeError(node, type);
      return [];
    }
    const pairs = node.items.map((p): [string, Node, Node] => [this.string(p.key), p.value, p.key]);
    const seen = new Map<string, number>();
    let unique = true;
    for (const [key, , keyNode] of pairs) {
      const line = this.where(keyNode).line;
      const first = seen.get(key);
      if (first === undefined) seen.set(key, line);
      else {
        this.errors.push(`line ${line}: mapping key ${JSON.stringify(key)} already defined at line ${first}`);
        unique = false;
      }
    }
    return unique ? pairs : [];
  }

  private seq(aliased: Node, type: string): Node[] {
    const node = this.resolve(aliased);
    if (isNull(node)) return [];
    if (!isSeq(node)) {
      this.typeError(node, type);
      return [];
    }
    return node.items.map((n) => this.resolve(n));
  }

  /** A Go string: a scalar's text as written (null's is empty). */
  private string(node: Node): string {
    const n = this.resolve(node);
    if (isNull(n)) return '';
    if (isScalar(n)) return scalarText(n);
    this.typeError(n, 'string');
    return '';
  }

  /** A yaml.Node's Value: what is written, even `~`; empty for a mapping or sequence. */
  private nodeText(node: Node): NodeText {
    const n = this.resolve(node);
    return { text: isScalar(n) ? scalarText(n) : '', pos: this.where(n).pos };
  }

  /** A Go int: a float is truncated, null is 0. */
  private int(node: Node): number {
    const n = this.resolve(node);
    if (isNull(n)) return 0;
    if (isScalar(n) && typeof n.value === 'number' && Number.isFinite(n.value) && Math.abs(n.value) < 2 ** 63) return Math.trunc(n.value);
    this.typeError(n, 'int');
    return 0;
  }

  /** common/model's Duration: a string of Prometheus' duration syntax; null is 0. */
  private duration(node: Node): number {
    const n = this.resolve(node);
    if (isNull(n)) return 0;
    if (!isScalar(n)) {
      this.typeError(n, 'string');
      return 0;
    }
    const text = scalarText(n);
    const ms = parseDuration(text);
    let reason: string;
    if (text === '') reason = 'empty duration string';
    else if (ms === null) reason = `not a valid duration string: ${JSON.stringify(text)}`;
    // Go's time.Duration counts int64 nanoseconds.
    else if (ms * 1e6 >= 2 ** 63) reason = 'duration out of range';
    else return ms;
    this.errors.push(`line ${this.where(n).line}: ${reason}`);
    return 0;
  }

  /** `line 3: cannot unmarshal !!str `abcdefg...` into int`: a scalar's text cut to 10 characters. */
  private typeError(node: Node, type: string): void {
    const n = this.resolve(node);
    const tag = yamlTag(n);
    let value = '';
    if (isScalar(n)) {
      const text = scalarText(n);
      value = ` \`${text.length > 10 ? `${text.slice(0, 7)}...` : text}\``;
    }
    this.errors.push(`line ${this.where(n).line}: cannot unmarshal ${tag}${value} into ${type}`);
  }

  /** An alias's target: yaml.v3 decodes the anchored node in its place. */
  private resolve(node: Node): Node {
    if (!isAlias(node)) return node;
    return (node.resolve(this.doc) as Node | undefined) ?? null;
  }

  /** Where a node starts; a missing node (an empty document's) is at 0:0. */
  private where(node: Node): { line: number; pos: string } {
    const n = this.resolve(node);
    if (n === null) return { line: 0, pos: '0:0' };
    const { line, col } = this.lines.linePos(n.range[0]);
    return { line, pos: `${line}:${col}` };
  }
}

function isNull(node: Node): boolean {
  return node === null || (isScalar(node) && node.value === null);
}

function scalarText(n: { source?: string; value: unknown }): string {
  return n.source ?? String(n.value);
}

/** The short tag yaml.v3 names a node's kind by in its errors. */
function yamlTag(n: Node): string {
  if (isMap(n)) return '!!map';
  if (isSeq(n)) return '!!seq';
  if (!isScalar(n) || n.value === null) return '!!null';
  if (typeof n.value === 'boolean') return '!!bool';
  if (typeof n.value === 'number') return /^[-+]?(0x[0-9a-f]+|0o[0-7]+|\d+)$/i.test(scalarText(n)) ? '!!int' : '!!float';
  return '!!str';
}
