/**
 * Execution of a parsed template (Go 1.19's text/template/exec.go), asynchronous because functions may
 * be (Prometheus' `query`): every function result is awaited. Errors read as Go's:
 * `template: <name>:<line>:<col>: executing "<name>" at <<node>>: <what>`, the column a byte offset.
 */
import { str, type ArgNode, type CommandNode, type FieldNode, type ChainNode, type IdentifierNode, type ListNode, type Node, type NumberNode, type PipeNode, type RangeNode, type TemplateNode, type VariableNode, type IfNode } from './ast.js';
import { printTemplateValue, sprint } from './fmt.js';
import { TemplateError, type TreeSet } from './parse.js';
import { quote } from './strconv.js';
import { timeMethods } from './time.js';
import { GoMap, GoStruct, GoTime, goTypeName, isGoFunc, sliceItems, type GoFunc, type ParamType, type Value } from './values.js';
import { BUILTINS, isTrue } from './builtins.js';

/** What a missing map key yields (text/template's `missingkey` option); Prometheus uses `zero`. */
export type MissingKey = 'invalid' | 'zero' | 'error';

export type FuncMap = ReadonlyMap<string, GoFunc>;

/** Go's exec depth limit (maxExecDepth), against runaway recursive templates. */
const MAX_EXEC_DEPTH = 100000;

/** The final value of a command that is not in a pipeline (Go's missingVal). */
const MISSING: unique symbol = Symbol('missing');
type Final = Value | typeof MISSING;

/** Unwinds to the enclosing range (Go panics with walkBreak / walkContinue). */
class LoopControl {
  constructor(readonly kind: 'break' | 'continue') {}
}

interface Variable {
  readonly name: string;
  value: Value;
}

/** One template's execution: the text it was parsed from (for error positions), its trees, functions and output. */
export interface ExecContext {
  readonly parseName: string;
  readonly text: string;
  readonly trees: TreeSet;
  readonly funcs: FuncMap;
  readonly missingKey: MissingKey;
  readonly out: string[];
}

export async function execute(ctx: ExecContext, name: string, data: Value): Promise<void> {
  const root = ctx.trees.get(name);
  const s = new State(ctx, name, [{ name: '$', value: data }], 0);
  if (root === undefined) return s.errorf(`${quote(name)} is an incomplete or empty template`);
  await s.walk(data, root);
}

class State {
  /** The node being evaluated, for error messages. */
  private node: Node | CommandNode | undefined;

  constructor(
    private readonly ctx: ExecContext,
    private readonly tmplName: string,
    private readonly vars: Variable[],
    private readonly depth: number,
  ) {}

  private at(node: Node | CommandNode): void {
    this.node = node;
  }

  errorf(msg: string): never {
    if (this.node === undefined) throw new TemplateError(`template: ${this.tmplName}: ${msg}`);
    throw new TemplateError(`template: ${this.location(this.node)}: executing ${quote(this.tmplName)} at <${this.context(this.node)}>: ${msg}`);
  }

  /** Go's ErrorContext: name:line:column, the column in bytes from the line's start. */
  private location(node: Node | CommandNode): string {
    const before = this.ctx.text.slice(0, node.pos);
    const nl = before.lastIndexOf('\n');
    const line = 1 + before.split('\n').length - 1;
    return `${this.ctx.parseName}:${line}:${Buffer.byteLength(before.slice(nl + 1))}`;
  }

  /** The node as Go prints it, cut to 20 characters when longer than 20 bytes. */
  private context(node: Node | CommandNode): string {
    const s = str(node);
    return Buffer.byteLength(s) > 20 ? `${[...s].slice(0, 20).join('')}...` : s;
  }

  // Variables.

  private push(name: string, value: Value): void {
    this.vars.push({ name, value });
  }

  private setVar(name: string, value: Value): void {
    const v = this.findVar(name);
    v.value = value;
  }

  private findVar(name: string): Variable {
    for (let i = this.vars.length - 1; i >= 0; i--) if ((this.vars[i] as Variable).name === name) return this.vars[i] as Variable;
    return this.errorf(`undefined variable: ${name}`);
  }

  // Walking the tree.

  async walk(dot: Value, node: Node): Promise<void> {
    this.at(node);
    switch (node.kind) {
      case 'action': {
        // Do not pop variables: they persist until the end of the enclosing control.
        const val = await this.evalPipeline(dot, node.pipe);
        if (node.pipe.decl.length === 0) this.printValue(node, val);
        return;
      }
      case 'break':
      case 'continue':
        throw new LoopControl(node.kind);
      case 'if':
      case 'with':
        return this.walkIfOrWith(dot, node);
      case 'list':
        for (const n of node.nodes) await this.walk(dot, n);
        return;
      case 'range':
        return this.walkRange(dot, node);
      case 'template':
        return this.walkTemplate(dot, node);
      case 'text':
        this.ctx.out.push(node.text);
        return;
      default:
        return this.errorf(`unknown node: ${str(node)}`);
    }
  }

  private printValue(node: Node, v: Value): void {
    this.at(node);
    if (isGoFunc(v)) this.errorf(`can't print ${str(node)} of type func`);
    this.ctx.out.push(printTemplateValue(v));
  }

  private async walkIfOrWith(dot: Value, node: IfNode): Promise<void> {
    const mark = this.vars.length;
    try {
      const val = await this.evalPipeline(dot, node.pipe);
      if (isTrue(val)) await this.walk(node.kind === 'with' ? val : dot, node.list);
      else if (node.elseList) await this.walk(dot, node.elseList);
    } finally {
      this.vars.length = mark;
    }
  }

  private async walkRange(dot: Value, r: RangeNode): Promise<void> {
    this.at(r);
    const mark0 = this.vars.length;
    try {
      let val = await this.evalPipeline(dot, r.pipe);
      if (val instanceof GoStruct && val.pointer) val = new GoStruct(val.typeName, val.fields);
      // Variables declared in the body are popped after each iteration.
      const mark = this.vars.length;
      const oneIteration = async (index: Value, elem: Value): Promise<void> => {
        // The element goes to the last declared variable, the index to the one before.
        if (r.pipe.decl.length > 0) (this.vars[mark - 1] as Variable).value = elem;
        if (r.pipe.decl.length > 1) (this.vars[mark - 2] as Variable).value = index;
        try {
          await this.walk(elem, r.list);
        } catch (e) {
          if (!(e instanceof LoopControl) || e.kind !== 'continue') throw e;
        } finally {
          this.vars.length = mark;
        }
      };
      const items = sliceItems(val);
      if (items !== undefined && items.length > 0) {
        for (let i = 0; i < items.length; i++) await oneIteration(BigInt(i), items[i]);
        return;
      }
      if (val instanceof GoMap && val.entries.size > 0) {
        for (const k of val.sortedKeys()) await oneIteration(k, val.entries.get(k));
        return;
      }
      // Empty slices and maps and invalid values (a nil map…) run the else branch; anything else is an error.
      if (items === undefined && !(val instanceof GoMap) && val !== undefined) this.errorf(`range can't iterate over ${sprint([val])}`);
      if (r.elseList) await this.walk(dot, r.elseList);
    } catch (e) {
      if (!(e instanceof LoopControl) || e.kind !== 'break') throw e;
    } finally {
      this.vars.length = mark0;
    }
  }

  private async walkTemplate(dot: Value, t: TemplateNode): Promise<void> {
    this.at(t);
    const tree = this.ctx.trees.get(t.name);
    if (tree === undefined) this.errorf(`template ${quote(t.name)} not defined`);
    if (this.depth === MAX_EXEC_DEPTH) this.errorf(`exceeded maximum template depth (${MAX_EXEC_DEPTH})`);
    const newDot = t.pipe ? await this.evalPipeline(dot, t.pipe) : undefined;
    await new State(this.ctx, t.name, [{ name: '$', value: newDot }], this.depth + 1).walk(newDot, tree as ListNode);
  }

  // Evaluation.

  private async evalPipeline(dot: Value, pipe: PipeNode): Promise<Value> {
    this.at(pipe);
    let value: Final = MISSING;
    for (const cmd of pipe.cmds) {
      value = await this.evalCommand(dot, cmd, value);
      // A nil interface{} result is no value (Go digs into interfaces: reflect.ValueOf(nil) is invalid).
      if (value === null) value = undefined;
    }
    const result = value as Value;
    for (const v of pipe.decl) {
      if (pipe.isAssign) this.setVar(v.ident[0] as string, result);
      else this.push(v.ident[0] as string, result);
    }
    return result;
  }

  private async evalCommand(dot: Value, cmd: CommandNode, final: Final): Promise<Value> {
    const first = cmd.args[0] as ArgNode;
    switch (first.kind) {
      case 'field':
        return this.evalFieldNode(dot, first, cmd.args, final);
      case 'chain':
        return this.evalChainNode(dot, first, cmd.args, final);
      case 'identifier':
        return this.evalFunction(dot, first, cmd, cmd.args, final);
      case 'pipe':
        // A parenthesized pipeline: its arguments are inside, so none may follow.
        this.notAFunction(cmd.args, final);
        return this.evalPipeline(dot, first);
      case 'variable':
        return this.evalVariableNode(dot, first, cmd.args, final);
    }
    this.at(first);
    this.notAFunction(cmd.args, final);
    switch (first.kind) {
      case 'bool':
        return first.value;
      case 'dot':
        return dot;
      case 'nil':
        return this.errorf('nil is not a command');
      case 'number':
        return this.idealConstant(first);
      case 'string':
        return first.text;
    }
  }

  private notAFunction(args: readonly ArgNode[], final: Final): void {
    if (args.length > 1 || final !== MISSING) this.errorf(`can't give argument to non-function ${str(args[0] as ArgNode)}`);
  }

  /** An untyped number constant where no type is asked for: float64 if written like one, else int. */
  private idealConstant(n: NumberNode): Value {
    this.at(n);
    const hexInt = /^0[xX]/.test(n.text) && !/[pP]/.test(n.text);
    if (n.float !== undefined && !hexInt && !n.text.startsWith("'") && /[.eEpP]/.test(n.text)) return n.float;
    if (n.int !== undefined) return n.int;
    return this.errorf(`${n.text} overflows int`);
  }

  private evalFieldNode(dot: Value, field: FieldNode, args: readonly ArgNode[], final: Final): Promise<Value> {
    this.at(field);
    return this.evalFieldChain(dot, dot, field, field.ident, args, final);
  }

  private async evalChainNode(dot: Value, chain: ChainNode, args: readonly ArgNode[], final: Final): Promise<Value> {
    this.at(chain);
    if (chain.node.kind === 'nil') this.errorf(`indirection through explicit nil in ${str(chain)}`);
    const pipe = await this.evalArg(dot, undefined, chain.node);
    return this.evalFieldChain(dot, pipe, chain, chain.field, args, final);
  }

  private async evalVariableNode(dot: Value, v: VariableNode, args: readonly ArgNode[], final: Final): Promise<Value> {
    this.at(v);
    const value = this.findVar(v.ident[0] as string).value;
    if (v.ident.length === 1) {
      this.notAFunction(args, final);
      return value;
    }
    return this.evalFieldChain(dot, value, v, v.ident.slice(1), args, final);
  }

  /** .A.B.C: fields of fields; only the last may be a method with arguments. */
  private async evalFieldChain(dot: Value, receiver: Value, node: Node, ident: readonly string[], args: readonly ArgNode[], final: Final): Promise<Value> {
    for (let i = 0; i < ident.length - 1; i++) receiver = await this.evalField(dot, ident[i] as string, node, [], MISSING, receiver);
    return this.evalField(dot, ident[ident.length - 1] as string, node, args, final, receiver);
  }

  private async evalField(dot: Value, fieldName: string, node: Node, args: readonly ArgNode[], final: Final, receiver: Value): Promise<Value> {
    if (receiver === undefined || receiver === null) {
      // Go treats an invalid receiver as a missing map key.
      if (this.ctx.missingKey === 'error') this.errorf(`nil data; no entry for key ${quote(fieldName)}`);
      return undefined;
    }
    const method = receiver instanceof GoTime ? timeMethods(receiver).get(fieldName) : undefined;
    if (method !== undefined) return this.evalCall(dot, method, false, node, fieldName, args, final);
    const hasArgs = args.length > 1 || final !== MISSING;
    if (receiver instanceof GoStruct && receiver.fields.has(fieldName)) {
      if (hasArgs) this.errorf(`${fieldName} has arguments but cannot be invoked as function`);
      return receiver.fields.get(fieldName);
    }
    if (receiver instanceof GoMap) {
      if (hasArgs) this.errorf(`${fieldName} is not a method but has arguments`);
      if (receiver.entries.has(fieldName)) return receiver.entries.get(fieldName);
      switch (this.ctx.missingKey) {
        case 'invalid':
          return undefined;
        case 'zero':
          return receiver.zero();
        case 'error':
          return this.errorf(`map has no entry for key ${quote(fieldName)}`);
      }
    }
    return this.errorf(`can't evaluate field ${fieldName} in type ${goTypeName(receiver)}`);
  }

  private evalFunction(dot: Value, node: IdentifierNode, cmd: Node | CommandNode, args: readonly ArgNode[], final: Final): Promise<Value> {
    this.at(node);
    const name = node.name;
    const user = this.ctx.funcs.get(name);
    const fn = user ?? BUILTINS.get(name);
    if (fn === undefined) return this.errorf(`${quote(name)} is not a defined function`);
    return this.evalCall(dot, fn, user === undefined, cmd, name, args, final);
  }

  /** Calls fn with the command's arguments (after the function's own node) and the pipeline's value last. */
  private async evalCall(dot: Value, fn: GoFunc, isBuiltin: boolean, node: Node | CommandNode, name: string, allArgs: readonly ArgNode[], final: Final): Promise<Value> {
    const args = allArgs.slice(1);
    const nParams = fn.params.length;
    const numIn = args.length + (final !== MISSING ? 1 : 0);
    let numFixed = args.length;
    if (fn.variadic) {
      numFixed = nParams - 1;
      if (numIn < numFixed) this.errorf(`wrong number of args for ${name}: want at least ${nParams - 1} got ${args.length}`);
    } else if (numIn !== nParams) this.errorf(`wrong number of args for ${name}: want ${nParams} got ${numIn}`);

    const paramAt = (i: number): ParamType => fn.params[Math.min(i, nParams - 1)] as ParamType;
    // and/or evaluate their arguments only until the result is known.
    if (isBuiltin && (name === 'and' || name === 'or')) {
      let v: Value = undefined;
      for (const arg of args) {
        v = await this.evalArg(dot, paramAt(0), arg);
        if (isTrue(v) === (name === 'or')) return v;
      }
      if (final !== MISSING) v = final;
      return v;
    }
    const argv: Value[] = [];
    for (let i = 0; i < args.length; i++) argv.push(await this.evalArg(dot, paramAt(i), args[i] as ArgNode));
    if (final !== MISSING) argv.push(this.validateType(final, paramAt(numIn - 1)));
    try {
      return await fn.call(...argv);
    } catch (e) {
      if (e instanceof TemplateError) throw e;
      this.at(node);
      return this.errorf(`error calling ${name}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /** An argument evaluated for a parameter of type typ (undefined: any type, as Go's nil type). */
  private async evalArg(dot: Value, typ: ParamType | undefined, n: ArgNode): Promise<Value> {
    this.at(n);
    switch (n.kind) {
      case 'dot':
        return this.validateType(dot, typ);
      case 'nil':
        if (typ === undefined || typ.reflect) return undefined;
        if (typ.nil) return typ.nil();
        return this.errorf(`cannot assign nil to ${typ.name}`);
      case 'field':
        return this.validateType(await this.evalFieldNode(dot, n, [n], MISSING), typ);
      case 'variable':
        return this.validateType(await this.evalVariableNode(dot, n, [], MISSING), typ);
      case 'pipe':
        return this.validateType(await this.evalPipeline(dot, n), typ);
      case 'identifier':
        return this.validateType(await this.evalFunction(dot, n, n, [n], MISSING), typ);
      case 'chain':
        return this.validateType(await this.evalChainNode(dot, n, [], MISSING), typ);
    }
    // A constant: converted to the parameter's type where Go can.
    if (typ === undefined || typ.reflect || typ.name === 'interface {}') {
      if (n.kind === 'number') return this.idealConstant(n);
      return n.kind === 'bool' ? n.value : n.text;
    }
    switch (typ.name) {
      case 'bool':
        if (n.kind === 'bool') return n.value;
        return this.errorf(`expected bool; found ${str(n)}`);
      case 'float64':
        if (n.kind === 'number' && n.float !== undefined) return n.float;
        return this.errorf(`expected float; found ${str(n)}`);
      case 'int':
        if (n.kind === 'number' && n.int !== undefined) return n.int;
        return this.errorf(`expected integer; found ${str(n)}`);
      case 'string':
        if (n.kind === 'string') return n.text;
        return this.errorf(`expected string; found ${str(n)}`);
    }
    return this.errorf(`can't handle ${str(n)} for arg of type ${typ.name}`);
  }

  /** Go's validateType: a value must be assignable to the parameter; a missing one is nil where nil fits. */
  private validateType(value: Value, typ: ParamType | undefined): Value {
    if (typ === undefined || typ.reflect) return value;
    if (value === undefined) {
      if (typ.nil) return typ.nil();
      return this.errorf(`invalid value; expected ${typ.name}`);
    }
    if (!typ.accepts(value)) this.errorf(`wrong type for value; expected ${typ.name}; got ${goTypeName(value)}`);
    return value;
  }
}

