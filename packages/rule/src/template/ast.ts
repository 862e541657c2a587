/**
 * The parse tree of text/template (text/template/parse's nodes). `str` renders a node as Go's String()
 * does, which execution errors quote (`executing "x" at <.Labels.foo>`).
 */

export interface Pos {
  /** Offset in the template text (UTF-16 code units). */
  readonly pos: number;
}

export interface TextNode extends Pos {
  readonly kind: 'text';
  readonly text: string;
}
export interface ActionNode extends Pos {
  readonly kind: 'action';
  readonly pipe: PipeNode;
}
export interface IfNode extends Pos {
  readonly kind: 'if' | 'with';
  readonly pipe: PipeNode;
  readonly list: ListNode;
  readonly elseList: ListNode | undefined;
}
export interface RangeNode extends Pos {
  readonly kind: 'range';
  readonly pipe: PipeNode;
  readonly list: ListNode;
  readonly elseList: ListNode | undefined;
}
export interface TemplateNode extends Pos {
  readonly kind: 'template';
  readonly name: string;
  readonly pipe: PipeNode | undefined;
}
export interface LoopControlNode extends Pos {
  readonly kind: 'break' | 'continue';
}
export interface ListNode extends Pos {
  readonly kind: 'list';
  readonly nodes: Node[];
}

/** A pipeline with its declarations (`$x := …`, or `$x = …` when isAssign). */
export interface PipeNode extends Pos {
  readonly kind: 'pipe';
  readonly isAssign: boolean;
  readonly decl: VariableNode[];
  readonly cmds: CommandNode[];
}
export interface CommandNode extends Pos {
  readonly kind: 'command';
  readonly args: ArgNode[];
}

export interface FieldNode extends Pos {
  readonly kind: 'field';
  readonly ident: string[];
}
export interface VariableNode extends Pos {
  readonly kind: 'variable';
  readonly ident: string[];
}
export interface IdentifierNode extends Pos {
  readonly kind: 'identifier';
  readonly name: string;
}
export interface ChainNode extends Pos {
  readonly kind: 'chain';
  readonly node: ArgNode;
  readonly field: string[];
}
export interface DotNode extends Pos {
  readonly kind: 'dot';
}
export interface NilNode extends Pos {
  readonly kind: 'nil';
}
export interface BoolNode extends Pos {
  readonly kind: 'bool';
  readonly value: boolean;
}
/** A number constant and what Go can take it as: an int (IsInt) and/or a float64 (IsFloat). */
export interface NumberNode extends Pos {
  readonly kind: 'number';
  readonly text: string;
  readonly int: bigint | undefined;
  readonly float: number | undefined;
  /** Representable as a uint64 but not as an int64 (Go's IsUint without IsInt). */
  readonly uintOnly: boolean;
}
export interface StringNode extends Pos {
  readonly kind: 'string';
  /** The literal as written, with its quotes. */
  readonly quoted: string;
  readonly text: string;
}

export type ArgNode = FieldNode | VariableNode | IdentifierNode | ChainNode | DotNode | NilNode | BoolNode | NumberNode | StringNode | PipeNode;
export type Node = TextNode | ActionNode | IfNode | RangeNode | TemplateNode | LoopControlNode | ListNode | ArgNode;

/** Go's String() of a node. */
export function str(n: Node | CommandNode): string {
  switch (n.kind) {
    case 'text':
      return JSON.stringify(n.text);
    case 'action':
      return `{{${str(n.pipe)}}}`;
    case 'if':
    case 'with':
    case 'range':
      return `{{${n.kind} ${str(n.pipe)}}}${listStr(n.list)}${n.elseList ? `{{else}}${listStr(n.elseList)}` : ''}{{end}}`;
    case 'template':
      return `{{template ${JSON.stringify(n.name)}${n.pipe ? ` ${str(n.pipe)}` : ''}}}`;
    case 'break':
    case 'continue':
      return `{{${n.kind}}}`;
    case 'list':
      return listStr(n);
    case 'pipe': {
      const decl = n.decl.length > 0 ? `${n.decl.map(str).join(', ')} := ` : '';
      return decl + n.cmds.map(str).join(' | ');
    }
    case 'command':
      return n.args.map((a) => (a.kind === 'pipe' ? `(${str(a)})` : str(a))).join(' ');
    case 'field':
      return n.ident.map((id) => `.${id}`).join('');
    case 'variable':
      return n.ident.join('.');
    case 'identifier':
      return n.name;
    case 'chain':
      return `${n.node.kind === 'pipe' ? `(${str(n.node)})` : str(n.node)}${n.field.map((f) => `.${f}`).join('')}`;
    case 'dot':
      return '.';
    case 'nil':
      return 'nil';
    case 'bool':
      return String(n.value);
    case 'number':
      return n.text;
    case 'string':
      return n.quoted;
  }
}

function listStr(l: ListNode): string {
  return l.nodes.map(str).join('');
}
