/**
 * The parser of text/template (Go 1.19's text/template/parse): builds the tree of the main template and
 * of every `{{define}}` and `{{block}}`, rejecting what Go rejects with Go's messages
 * (`template: <name>:<line>: unexpected "}" in operand`). Functions must be known when parsing.
 */
import type { ArgNode, CommandNode, IfNode, ListNode, Node, NumberNode, PipeNode, RangeNode, TemplateNode, VariableNode } from './ast.js';
import { str } from './ast.js';
import { isKeyword, lex, type Item, type ItemType } from './lex.js';
import { parseFloat64, quote, unquote, unquoteChar } from './strconv.js';

export class TemplateError extends Error {
  override name = 'TemplateError';
}

/** The templates one text defines: the main one under its name, and those of `define` and `block`. */
export type TreeSet = Map<string, ListNode>;

/** Pseudo-nodes that end a list. */
type Delimiter = { kind: 'end' | 'else'; pos: number };

const MAX_INT64 = (1n << 63n) - 1n;
const MIN_INT64 = -(1n << 63n);
const MAX_UINT64 = (1n << 64n) - 1n;

export function parse(name: string, text: string, funcs: ReadonlySet<string>): TreeSet {
  const items = lex(text);
  const treeSet: TreeSet = new Map();
  new Parser(name, items, funcs, treeSet).parseMain();
  return treeSet;
}

class Parser {
  private i = 0;
  /** The furthest item read: Go reports errors on its line. */
  private furthest = 0;
  private vars: string[] = ['$'];
  private rangeDepth = 0;
  /** The line of the action being parsed, for lexer errors that end elsewhere. */
  private actionLine = 0;

  constructor(
    private readonly name: string,
    private readonly items: Item[],
    private readonly funcs: ReadonlySet<string>,
    private readonly treeSet: TreeSet,
  ) {}

  parseMain(): void {
    const root: ListNode = { kind: 'list', pos: this.peek().pos, nodes: [] };
    while (this.peek().type !== 'EOF') {
      if (this.peek().type === 'leftDelim') {
        const at = this.i;
        this.next();
        if (this.nextNonSpace().type === 'define') {
          this.parseDefinition();
          continue;
        }
        this.i = at;
      }
      const n = this.textOrAction();
      if (n.kind === 'end' || n.kind === 'else') this.errorf(`unexpected {{${n.kind}}}`);
      root.nodes.push(n as Node);
    }
    this.add(this.name, root);
  }

  /** `{{define "name"}}…{{end}}`, after `define`: a template with its own variables. */
  private parseDefinition(): void {
    const context = 'define clause';
    const nameItem = this.nextNonSpace();
    if (nameItem.type !== 'string' && nameItem.type !== 'rawString') this.unexpected(nameItem, context);
    const name = this.unquoteItem(nameItem);
    this.expect('rightDelim', context);
    this.definition(name, context);
  }

  /** The body of a template defined by `define` or `block` up to its `end`, parsed with variables of its own. */
  private definition(name: string, context: string): void {
    const saved = { vars: this.vars, rangeDepth: this.rangeDepth };
    this.vars = ['$'];
    this.rangeDepth = 0;
    const [list, end] = this.itemList();
    if (end.kind !== 'end') this.errorf(`unexpected {{${end.kind}}} in ${context}`);
    this.add(name, list);
    this.vars = saved.vars;
    this.rangeDepth = saved.rangeDepth;
  }

  /** Go's Tree.add: a second non-empty definition of a name is an error. */
  private add(name: string, root: ListNode): void {
    const existing = this.treeSet.get(name);
    if (existing === undefined || isEmpty(existing)) this.treeSet.set(name, root);
    else if (!isEmpty(root)) this.errorf(`template: multiple definition of template ${JSON.stringify(name)}`);
  }

  private itemList(): [ListNode, Node | Delimiter] {
    const list: ListNode = { kind: 'list', pos: this.peekNonSpace().pos, nodes: [] };
    while (this.peekNonSpace().type !== 'EOF') {
      const n = this.textOrAction();
      if (n.kind === 'end' || n.kind === 'else') return [list, n];
      list.nodes.push(n as Node);
    }
    return this.errorf('unexpected EOF');
  }

  private textOrAction(): Node | Delimiter {
    const token = this.nextNonSpace();
    switch (token.type) {
      case 'text':
        return { kind: 'text', pos: token.pos, text: token.val };
      case 'leftDelim': {
        this.actionLine = token.line;
        try {
          return this.action();
        } finally {
          this.actionLine = 0;
        }
      }
      default:
        return this.unexpected(token, 'input');
    }
  }

  private action(): Node | Delimiter {
    const token = this.nextNonSpace();
    switch (token.type) {
      case 'block':
        return this.blockControl();
      case 'break':
      case 'continue':
        return this.loopControl(token);
      case 'else':
        return this.elseControl();
      case 'end':
        return { kind: 'end', pos: this.expect('rightDelim', 'end').pos };
      case 'if':
        return this.ifControl();
      case 'range':
        return this.control('range', false);
      case 'template':
        return this.templateControl();
      case 'with':
        return this.control('with', false);
    }
    this.i--;
    const start = this.peek();
    return { kind: 'action', pos: start.pos, pipe: this.pipeline('command', 'rightDelim') };
  }

  private loopControl(token: Item): Node {
    const kind = token.type as 'break' | 'continue';
    const next = this.nextNonSpace();
    if (next.type !== 'rightDelim') this.unexpected(next, `{{${kind}}}`);
    if (this.rangeDepth === 0) this.errorf(`{{${kind}}} outside {{range}}`);
    return { kind, pos: token.pos };
  }

  private elseControl(): Delimiter {
    // `{{else if …` is read as `{{else}}{{if …`: the `if` stays for the if control to take.
    const peek = this.peekNonSpace();
    if (peek.type === 'if') return { kind: 'else', pos: peek.pos };
    return { kind: 'else', pos: this.expect('rightDelim', 'else').pos };
  }

  private ifControl(): IfNode {
    return this.control('if', true) as IfNode;
  }

  private control(kind: 'if' | 'with' | 'range', allowElseIf: boolean): IfNode | RangeNode {
    const varsBefore = this.vars.length;
    const pipe = this.pipeline(kind, 'rightDelim');
    if (kind === 'range') this.rangeDepth++;
    let [list, next] = this.itemList();
    if (kind === 'range') this.rangeDepth--;
    let elseList: ListNode | undefined;
    if (next.kind === 'else') {
      if (allowElseIf && this.peek().type === 'if') {
        // {{if a}}…{{else if b}}…{{end}} is {{if a}}…{{else}}{{if b}}…{{end}}{{end}}: one {{end}} closes both.
        this.next();
        elseList = { kind: 'list', pos: next.pos, nodes: [this.ifControl()] };
      } else {
        [elseList, next] = this.itemList();
        if (next.kind !== 'end') this.errorf(`expected end; found ${next.kind === 'else' ? '{{else}}' : str(next as Node)}`);
      }
    }
    this.vars.length = varsBefore;
    return { kind, pos: pipe.pos, pipe, list, elseList } as IfNode | RangeNode;
  }

  private templateControl(): TemplateNode {
    const context = 'template clause';
    const token = this.nextNonSpace();
    const name = this.templateName(token, context);
    let pipe: PipeNode | undefined;
    if (this.nextNonSpace().type !== 'rightDelim') {
      this.i--;
      pipe = this.pipeline(context, 'rightDelim');
    }
    return { kind: 'template', pos: token.pos, name, pipe };
  }

  /** `{{block "name" pipe}}…{{end}}`: defines the template and executes it in place. */
  private blockControl(): TemplateNode {
    const context = 'block clause';
    const token = this.nextNonSpace();
    const name = this.templateName(token, context);
    const pipe = this.pipeline(context, 'rightDelim');
    this.definition(name, context);
    return { kind: 'template', pos: token.pos, name, pipe };
  }

  private templateName(token: Item, context: string): string {
    if (token.type !== 'string' && token.type !== 'rawString') this.unexpected(token, context);
    return this.unquoteItem(token);
  }

  private pipeline(context: string, end: ItemType): PipeNode {
    const pipe: PipeNode = { kind: 'pipe', pos: this.peekNonSpace().pos, isAssign: false, decl: [], cmds: [] };
    this.declarations(pipe, context);
    for (;;) {
      const token = this.nextNonSpace();
      if (token.type === end) {
        this.checkPipeline(pipe, context);
        return pipe;
      }
      switch (token.type) {
        case 'bool':
        case 'charConstant':
        case 'complex':
        case 'dot':
        case 'field':
        case 'identifier':
        case 'number':
        case 'nil':
        case 'rawString':
        case 'string':
        case 'variable':
        case 'leftParen':
          this.i--;
          pipe.cmds.push(this.command());
          break;
        default:
          this.unexpected(token, context);
      }
    }
  }

  /** `$x :=`, `$x =`, and range's `$i, $e :=`. */
  private declarations(pipe: PipeNode, context: string): void {
    for (;;) {
      const v = this.peekNonSpace();
      if (v.type !== 'variable') return;
      const at = this.i;
      this.next();
      const next = this.peekNonSpace();
      if (next.type === 'assign' || next.type === 'declare') {
        (pipe as { isAssign: boolean }).isAssign = next.type === 'assign';
        this.nextNonSpace();
        pipe.decl.push(this.variable(v));
        this.vars.push(v.val);
        return;
      }
      if (next.type === 'char' && next.val === ',') {
        this.nextNonSpace();
        pipe.decl.push(this.variable(v));
        this.vars.push(v.val);
        if (context === 'range' && pipe.decl.length < 2) {
          const after = this.peekNonSpace().type;
          if (after === 'variable' || after === 'rightDelim' || after === 'rightParen') continue;
          this.errorf('range can only initialize variables');
        }
        this.errorf(`too many declarations in ${context}`);
      }
      // Not a declaration: the variable is an operand.
      this.i = at;
      return;
    }
  }

  private checkPipeline(pipe: PipeNode, context: string): void {
    if (pipe.cmds.length === 0) this.errorf(`missing value for ${context}`);
    // Only the first command of a pipeline can start with a non-executable operand.
    pipe.cmds.slice(1).forEach((c, i) => {
      const k = (c.args[0] as ArgNode).kind;
      if (k === 'bool' || k === 'dot' || k === 'nil' || k === 'number' || k === 'string') this.errorf(`non executable command in pipeline stage ${i + 2}`);
    });
  }

  private command(): CommandNode {
    const cmd: CommandNode = { kind: 'command', pos: this.peekNonSpace().pos, args: [] };
    for (;;) {
      this.peekNonSpace();
      const operand = this.operand();
      if (operand !== undefined) cmd.args.push(operand);
      const token = this.next();
      if (token.type === 'space') continue;
      if (token.type === 'rightDelim' || token.type === 'rightParen') this.i--;
      else if (token.type !== 'pipe') this.unexpected(token, 'operand');
      break;
    }
    if (cmd.args.length === 0) this.errorf('empty command');
    return cmd;
  }

  private operand(): ArgNode | undefined {
    const node = this.term();
    if (node === undefined || this.peek().type !== 'field') return node;
    const pos = this.peek().pos;
    const field: string[] = [];
    while (this.peek().type === 'field') field.push(this.next().val.slice(1));
    // Fields after a field or variable extend it; after a literal they are an error; otherwise a chain.
    switch (node.kind) {
      case 'field':
        return { kind: 'field', pos, ident: [...node.ident, ...field] };
      case 'variable':
        return { kind: 'variable', pos, ident: [...node.ident, ...field] };
      case 'bool':
      case 'string':
      case 'number':
      case 'nil':
      case 'dot':
        return this.errorf(`unexpected . after term ${JSON.stringify(str(node))}`);
      default:
        return { kind: 'chain', pos, node, field };
    }
  }

  private term(): ArgNode | undefined {
    const token = this.nextNonSpace();
    switch (token.type) {
      case 'identifier':
        if (!this.funcs.has(token.val)) this.errorf(`function ${JSON.stringify(token.val)} not defined`);
        return { kind: 'identifier', pos: token.pos, name: token.val };
      case 'dot':
        return { kind: 'dot', pos: token.pos };
      case 'nil':
        return { kind: 'nil', pos: token.pos };
      case 'variable': {
        const v = this.variable(token);
        if (!this.vars.includes(v.ident[0] as string)) this.errorf(`undefined variable ${JSON.stringify(v.ident[0])}`);
        return v;
      }
      case 'field':
        return { kind: 'field', pos: token.pos, ident: token.val.slice(1).split('.') };
      case 'bool':
        return { kind: 'bool', pos: token.pos, value: token.val === 'true' };
      case 'charConstant':
      case 'complex':
      case 'number':
        return this.number(token);
      case 'leftParen':
        return this.pipeline('parenthesized pipeline', 'rightParen');
      case 'string':
      case 'rawString':
        return { kind: 'string', pos: token.pos, quoted: token.val, text: this.unquoteItem(token) };
    }
    this.i--;
    return undefined;
  }

  private variable(token: Item): VariableNode {
    return { kind: 'variable', pos: token.pos, ident: token.val.split('.') };
  }

  /** Go's newNumber: what the constant can be taken as. */
  private number(token: Item): NumberNode {
    const text = token.val;
    const base = { kind: 'number' as const, pos: token.pos, text, uintOnly: false };
    if (token.type === 'charConstant') {
      let rune: string;
      let next: number;
      try {
        [rune, next] = unquoteChar(text, 1, "'");
      } catch {
        return this.errorf('invalid syntax');
      }
      if (text.slice(next) !== "'") this.errorf(`malformed character constant: ${text}`);
      const cp = rune.codePointAt(0) as number;
      return { ...base, int: BigInt(cp), float: cp };
    }
    if (token.type === 'complex' || text.endsWith('i')) this.errorf(`complex constants are not supported: ${text}`);
    const int = parseGoInt(text);
    if (int !== undefined && int >= MIN_INT64 && int <= MAX_INT64) return { ...base, int, float: Number(int) };
    if (int !== undefined && int > 0n && int <= MAX_UINT64 && !/^[+-]/.test(text)) return { ...base, int: undefined, float: Number(int), uintOnly: true };
    let f: number;
    try {
      f = parseFloat64(text);
    } catch {
      return this.errorf(`illegal number syntax: ${quote(text)}`);
    }
    // Parsed as a float but written like an integer: too large for an int.
    if (!/[.eEpP]/.test(text)) this.errorf(`integer overflow: ${text}`);
    const asInt = Number.isInteger(f) && f >= -(2 ** 63) && f < 2 ** 63 ? BigInt(f) : undefined;
    return { ...base, int: asInt, float: f };
  }

  private unquoteItem(token: Item): string {
    try {
      return unquote(token.val);
    } catch {
      return this.errorf('invalid syntax');
    }
  }

  // Token stream.

  private next(): Item {
    const item = this.items[Math.min(this.i, this.items.length - 1)] as Item;
    this.i++;
    this.furthest = Math.max(this.furthest, this.i - 1);
    return item;
  }

  private peek(): Item {
    const item = this.next();
    this.i--;
    return item;
  }

  private nextNonSpace(): Item {
    let item: Item;
    do item = this.next();
    while (item.type === 'space');
    return item;
  }

  private peekNonSpace(): Item {
    const item = this.nextNonSpace();
    this.i--;
    return item;
  }

  private expect(type: ItemType, context: string): Item {
    const token = this.nextNonSpace();
    if (token.type !== type) this.unexpected(token, context);
    return token;
  }

  private unexpected(item: Item, context: string): never {
    if (item.type === 'error') {
      let extra = '';
      if (this.actionLine !== 0 && this.actionLine !== item.line) {
        extra = ` in action started at ${this.name}:${this.actionLine}`;
        // Avoid "action in action".
        if (item.val.endsWith(' action')) extra = extra.slice(' in action'.length);
      }
      return this.errorf(`${item.val}${extra}`);
    }
    return this.errorf(`unexpected ${itemString(item)} in ${context}`);
  }

  private errorf(msg: string): never {
    const line = (this.items[Math.min(this.furthest, this.items.length - 1)] as Item).line;
    throw new TemplateError(`template: ${this.name}:${line}: ${msg}`);
  }
}

function isEmpty(list: ListNode): boolean {
  return list.nodes.every((n) => n.kind === 'text' && n.text.trim() === '');
}

/** Go's item String(): keywords in angle brackets, others quoted and cut at 10 characters. */
function itemString(item: Item): string {
  if (item.type === 'EOF') return 'EOF';
  if (isKeyword(item.type)) return `<${item.val}>`;
  const chars = [...item.val];
  return chars.length > 10 ? `${quote(chars.slice(0, 10).join(''))}...` : quote(item.val);
}

/** strconv.ParseInt(s, 0, 64) syntax (0x, 0o, 0b, leading-0 octal, underscores after a prefix); undefined if not an integer. */
function parseGoInt(text: string): bigint | undefined {
  const m = /^([+-]?)(0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+|0(?:_?[0-7])+|[1-9](?:[0-9])*|0)$/.exec(text);
  if (m === null) return undefined;
  let digits = (m[2] as string).replace(/_/g, '');
  if (/^0[0-7]/.test(digits)) digits = `0o${digits.slice(1)}`;
  const v = BigInt(digits.replace(/^0([XOB])/, (_, p: string) => `0${p.toLowerCase()}`));
  return m[1] === '-' ? -v : v;
}
