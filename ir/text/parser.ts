// Parser of the textual IR (design.md, "Textual IR"). A chevrotain grammar
// with embedded actions reads tokens into small syntax records that keep
// every token (for places); as each piece is complete (graph name, input,
// result type, instruction, return) a Builder adds it to the graph through
// `Graph.addInput` / `Graph.addNode`, so the op table checks types and
// attributes exactly as for traced graphs, and errors come in file order (a
// syntax error inside an instruction wins over that instruction's own
// semantic errors, not over those of earlier instructions). Every error is an AmpcError placed at FILE:LINE:COL;
// chevrotain's own errors never escape. A comment that ends an instruction's
// line becomes that node's note (as passes write them: `// f16: allow(matmul)`),
// so dumps parse back to the graph they came from; other comments are dropped.

import type { IToken, TokenType } from 'chevrotain';
import { EmbeddedActionsParser, EOF } from 'chevrotain';
import type { AttrLiteral, AttrValue } from '../attrs.ts';
import { literalToValue } from '../attrs.ts';
import { DTYPES, isDType } from '../dtype.ts';
import { closeMatches } from '../suggest.ts';
import { AmpcError } from '../errors.ts';
import type { Loc } from '../errors.ts';
import type { Node, Value } from '../graph.ts';
import { Graph, Module } from '../graph.ts';
import { isOpName, OP_NAMES, OPS } from '../ops.ts';
import type { TensorType } from '../types.ts';
import { typesEqual, typeToString } from '../types.ts';
import {
  ALL_TOKENS, Arrow, Colon, Comma, Equals, Float, GraphKw, GraphName, Ident, Int, LBrace, LBracket, LParen,
  lex, NegInf, RBrace, RBracket, ReturnKw, RParen, Str, ValueName,
} from './lexer.ts';

/** Largest extent a type may have (what a u32/i32 index in a kernel can address). */
export const MAX_EXTENT = 2 ** 31 - 1;
/** Deepest nesting of list literals (keeps the recursive grammar off the stack limit). */
export const MAX_LIST_DEPTH = 32;

// ---------------------------------------------------------------- syntax tree

interface TypeAst {
  readonly dtype: IToken;
  readonly extents: IToken[];
  /** The closing bracket. */
  readonly end: IToken;
}

interface InputAst {
  readonly name: IToken;
  readonly type: TypeAst;
  readonly flag: IToken | undefined;
}

type LitAst =
  | { readonly kind: 'token'; readonly tok: IToken }
  | { readonly kind: 'list'; readonly tok: IToken; readonly items: LitAst[] };

interface AttrAst {
  readonly key: IToken;
  readonly value: LitAst;
}

interface InstrAst {
  readonly results: IToken[];
  readonly op: IToken;
  readonly operands: IToken[];
  readonly attrs: AttrAst[];
  readonly types: TypeAst[];
  /** A fused node's body. */
  readonly body: Graph | undefined;
}

// ---------------------------------------------------------------- messages

function label(t: TokenType): string {
  return t === EOF ? 'end of input' : t.LABEL ?? t.name;
}

function found(tok: IToken | undefined): string {
  if (!tok || tok.tokenType === EOF) return 'end of input';
  const img = tok.image.length > 40 ? `${tok.image.slice(0, 37)}...` : tok.image;
  return `'${img}'`;
}

function oneOf(types: readonly TokenType[]): string {
  const labels = [...new Set(types.map(label))];
  if (labels.length <= 1) return labels[0] ?? 'something else';
  return `${labels.slice(0, -1).join(', ')} or ${labels[labels.length - 1]}`;
}

const MESSAGES = {
  buildMismatchTokenMessage: (o: { expected: TokenType; actual: IToken }) => `expected ${label(o.expected)} but found ${found(o.actual)}`,
  buildNotAllInputParsedMessage: (o: { firstRedundant: IToken }) => `expected 'graph' or end of input but found ${found(o.firstRedundant)}`,
  buildNoViableAltMessage: (o: { expectedPathsPerAlt: TokenType[][][]; actual: IToken[]; ruleName: string }) => {
    const what = o.ruleName === 'literal' ? 'an attribute value' : oneOf(o.expectedPathsPerAlt.flatMap((alt) => alt.map((p) => p[0]!)));
    return `expected ${what} but found ${found(o.actual[0])}`;
  },
  buildEarlyExitMessage: (o: { expectedIterationPaths: TokenType[][]; actual: IToken[] }) =>
    `expected ${oneOf(o.expectedIterationPaths.map((p) => p[0]!))} but found ${found(o.actual[0])}`,
};

// ---------------------------------------------------------------- grammar

class IrParser extends EmbeddedActionsParser {
  /** Receives each piece as soon as it is parsed; set by `parseModule`. */
  builder: Builder | undefined;
  /** Current nesting of list literals. */
  depth = 0;

  constructor() {
    super(ALL_TOKENS, { recoveryEnabled: false, maxLookahead: 1, errorMessageProvider: MESSAGES });
    this.performSelfAnalysis();
  }

  module = this.RULE('module', (): void => {
    this.MANY(() => this.SUBRULE(this.graph));
  });

  graph = this.RULE('graph', (): Graph | undefined => {
    const returns: IToken[] = [];
    this.CONSUME(GraphKw);
    const name = this.CONSUME(GraphName);
    const st = this.ACTION(() => this.builder!.beginGraph(name));
    this.CONSUME(LParen);
    this.MANY_SEP({ SEP: Comma, DEF: () => {
      const i = this.SUBRULE(this.graphInput);
      this.ACTION(() => this.builder!.input(st!, i));
    } });
    this.CONSUME(RParen);
    this.CONSUME(Arrow);
    this.CONSUME2(LParen);
    this.MANY_SEP2({ SEP: Comma, DEF: () => {
      const t = this.SUBRULE(this.tensorType);
      this.ACTION(() => this.builder!.outputType(st!, t));
    } });
    this.CONSUME2(RParen);
    this.CONSUME(LBrace);
    this.MANY(() => {
      const ins = this.SUBRULE(this.instr);
      this.ACTION(() => this.builder!.instr(st!, ins));
    });
    const ret = this.CONSUME(ReturnKw);
    this.MANY_SEP3({ SEP: Comma, DEF: () => {
      returns.push(this.CONSUME(ValueName));
    } });
    this.ACTION(() => this.builder!.ret(st!, ret, returns));
    this.CONSUME(RBrace);
    return this.ACTION(() => this.builder!.endGraph(st!));
  });

  graphInput = this.RULE('graphInput', (): InputAst => {
    const name = this.CONSUME(ValueName);
    this.CONSUME(Colon);
    const type = this.SUBRULE(this.tensorType);
    let flag: IToken | undefined;
    this.OPTION(() => {
      this.CONSUME(LBrace);
      flag = this.CONSUME(Ident);
      this.CONSUME(RBrace);
    });
    return { name, type, flag };
  });

  instr = this.RULE('instr', (): InstrAst => {
    const results: IToken[] = [];
    const operands: IToken[] = [];
    const attrs: AttrAst[] = [];
    const types: TypeAst[] = [];
    this.AT_LEAST_ONE_SEP({ SEP: Comma, DEF: () => {
      results.push(this.CONSUME(ValueName));
    } });
    this.CONSUME(Equals);
    const op = this.CONSUME(Ident);
    this.MANY_SEP({ SEP: Comma, DEF: () => {
      operands.push(this.CONSUME2(ValueName));
    } });
    this.OPTION(() => {
      this.CONSUME(LBrace);
      this.MANY_SEP2({ SEP: Comma, DEF: () => {
        const a = this.SUBRULE(this.attr);
        this.ACTION(() => attrs.push(a));
      } });
      this.CONSUME(RBrace);
    });
    this.CONSUME(Colon);
    this.AT_LEAST_ONE_SEP2({ SEP: Comma, DEF: () => {
      const t = this.SUBRULE(this.tensorType);
      this.ACTION(() => types.push(t));
    } });
    // A fused node's body graph (ir/ops-fused.ts).
    let body: Graph | undefined;
    this.OPTION2(() => {
      body = this.SUBRULE(this.graph);
    });
    return { results, op, operands, attrs, types, body };
  });

  attr = this.RULE('attr', (): AttrAst => {
    const key = this.CONSUME(Ident);
    this.CONSUME(Equals);
    const value = this.SUBRULE(this.literal);
    return { key, value };
  });

  literal = this.RULE('literal', (): LitAst => this.OR([
    { ALT: () => ({ kind: 'token' as const, tok: this.CONSUME(Int) }) },
    { ALT: () => ({ kind: 'token' as const, tok: this.CONSUME(Float) }) },
    { ALT: () => ({ kind: 'token' as const, tok: this.CONSUME(NegInf) }) },
    { ALT: () => ({ kind: 'token' as const, tok: this.CONSUME(Ident) }) },
    { ALT: () => ({ kind: 'token' as const, tok: this.CONSUME(Str) }) },
    { ALT: () => this.SUBRULE(this.list) },
  ]));

  list = this.RULE('list', (): LitAst => {
    const items: LitAst[] = [];
    const tok = this.CONSUME(LBracket);
    this.ACTION(() => {
      if (++this.depth > MAX_LIST_DEPTH) throw new AmpcError('E0002', `lists nested more than ${MAX_LIST_DEPTH} deep`, this.builder!.loc(tok));
    });
    this.MANY_SEP({ SEP: Comma, DEF: () => {
      const it = this.SUBRULE(this.literal);
      this.ACTION(() => items.push(it));
    } });
    this.CONSUME(RBracket);
    this.ACTION(() => this.depth--);
    return { kind: 'list', tok, items };
  });

  tensorType = this.RULE('tensorType', (): TypeAst => {
    const extents: IToken[] = [];
    const dtype = this.CONSUME(Ident);
    this.CONSUME(LBracket);
    this.MANY_SEP({ SEP: Comma, DEF: () => {
      extents.push(this.OR([{ ALT: () => this.CONSUME(Int) }, { ALT: () => this.CONSUME(Float) }]));
    } });
    const end = this.CONSUME(RBracket);
    return { dtype, extents, end };
  });
}

/** One parser for the process: chevrotain's grammar analysis is done once. */
const parser = new IrParser();

// ---------------------------------------------------------------- entry point

/** Parses a module of the textual IR; errors are AmpcErrors placed at FILE:LINE:COL. */
export function parseModule(text: string, file?: string): Module {
  // A leading byte-order mark counts as a space, so columns stay those of the file.
  const { tokens, comments } = lex(text.charCodeAt(0) === 0xfeff ? ` ${text.slice(1)}` : text, file);
  const builder = new Builder(file);
  parser.input = tokens;
  parser.builder = builder;
  parser.depth = 0;
  try {
    parser.module();
  } finally {
    parser.builder = undefined;
  }
  const err = parser.errors[0];
  if (err) throw new AmpcError('E0002', err.message, errorLoc(err.token, tokens, file));
  attachNotes(builder, tokens, comments);
  return builder.module;
}

/**
 * A comment that ends the line of a node's last token is that node's note
 * (`%h = matmul ... : f16[8,32]  // f16: allow(matmul)`), so a dump with
 * notes parses back to the same graph and prints unchanged. Comments on
 * lines of their own, or beside anything else, are dropped.
 */
function attachNotes(b: Builder, tokens: readonly IToken[], comments: readonly IToken[]): void {
  if (comments.length === 0) return;
  const byLine = new Map<number, string>();
  for (const c of comments) {
    const text = c.image.replace(/^\/\/\s?/, '').trim();
    if (text) byLine.set(c.startLine!, text);
  }
  // The last token of each line that has a comment: a node's note only if it is the node's last token.
  const lastOnLine = new Map<number, IToken>();
  for (const t of tokens) if (byLine.has(t.endLine!)) lastOnLine.set(t.endLine!, t);
  for (const [node, end] of b.nodeEnds) {
    if (lastOnLine.get(end.endLine!) === end) node.note = byLine.get(end.endLine!);
  }
}

function locOf(tok: IToken, file: string | undefined): Loc {
  return { file, line: tok.startLine ?? 1, col: tok.startColumn ?? 1 };
}

/** Where a syntax error goes: at the offending token, or just after the last token when input ended early. */
function errorLoc(tok: IToken | undefined, tokens: readonly IToken[], file: string | undefined): Loc {
  if (tok && tok.tokenType !== EOF && Number.isFinite(tok.startLine)) return locOf(tok, file);
  const last = tokens[tokens.length - 1];
  if (!last) return { file, line: 1, col: 1 };
  return { file, line: last.endLine ?? last.startLine ?? 1, col: (last.endColumn ?? last.startColumn ?? 0) + 1 };
}

// ---------------------------------------------------------------- building graphs

interface Binding {
  readonly value: Value;
  readonly loc: Loc;
}

/** A graph being built: its values by text name and its declared result types. */
interface GraphState {
  readonly g: Graph;
  readonly scope: Map<string, Binding>;
  readonly outputTypes: TensorType[];
}

/** Builds the module piece by piece, in file order, as the grammar hands pieces over. */
class Builder {
  readonly module: Module;
  /** The last token of each node's instruction (for trailing notes). */
  readonly nodeEnds = new Map<Node, IToken>();
  private readonly graphLocs = new Map<string, Loc>();
  /** Graphs being built: more than one while inside a fused node's body. */
  private depth = 0;

  constructor(private readonly file: string | undefined) {
    this.module = new Module(file);
  }

  loc(tok: IToken): Loc {
    return locOf(tok, this.file);
  }

  beginGraph(nameTok: IToken): GraphState {
    const name = nameTok.image.slice(1);
    const loc = this.loc(nameTok);
    // A body's name is local to its node; module graphs need distinct names.
    if (this.depth++ === 0) {
      const prev = this.graphLocs.get(name);
      if (prev) throw new AmpcError('E0403', `graph @${name} is defined twice (first at ${prev.line}:${prev.col})`, loc);
      this.graphLocs.set(name, loc);
    }
    return { g: new Graph(name, loc), scope: new Map(), outputTypes: [] };
  }

  input(st: GraphState, inp: InputAst): void {
    const n = this.define(st, inp.name, 'input');
    const type = this.type(inp.type);
    if (inp.flag && inp.flag.image !== 'param') {
      throw new AmpcError('E0002', `expected 'param' but found '${inp.flag.image}'`, this.loc(inp.flag));
    }
    const loc = this.loc(inp.name);
    st.scope.set(n, { value: st.g.addInput(n, type, { param: !!inp.flag, loc }), loc });
  }

  outputType(st: GraphState, t: TypeAst): void {
    st.outputTypes.push(this.type(t));
  }

  instr(st: GraphState, ins: InstrAst): void {
    const names: string[] = [];
    for (const r of ins.results) {
      const n = this.define(st, r, 'value');
      if (names.includes(n)) throw new AmpcError('E0005', `value %${n} is defined twice in one instruction`, this.loc(r));
      names.push(n);
    }
    const opName = ins.op.image;
    const opLoc = this.loc(ins.op);
    if (!isOpName(opName)) throw new AmpcError('E0003', `unknown op '${opName}'${suggestOp(opName)}`, opLoc);
    const operands = ins.operands.map((tok) => this.use(st, tok));
    const specs = OPS[opName].attrs;
    const attrs: Record<string, AttrValue> = {};
    for (const a of ins.attrs) {
      const key = a.key.image;
      if (!Object.hasOwn(specs, key)) {
        const known = Object.keys(specs);
        throw new AmpcError('E0101', `${opName}: unknown attribute '${key}'` + (known.length ? ` (known: ${known.join(', ')})` : ' (it takes none)'), this.loc(a.key));
      }
      if (Object.hasOwn(attrs, key)) throw new AmpcError('E0007', `${opName}: attribute '${key}' is given twice`, this.loc(a.key));
      attrs[key] = this.attrValue(opName, key, a.value);
    }
    const declared = ins.types.map((t) => this.type(t));
    if (declared.length !== names.length) {
      throw new AmpcError('E0302', `${opName}: ${names.length} result name(s) on the left but ${declared.length} type(s) declared`, opLoc);
    }
    const node = st.g.addNode(opName, operands, attrs, { loc: opLoc, declared, names, ...(ins.body ? { body: ins.body } : {}) });
    this.nodeEnds.set(node, ins.types[ins.types.length - 1]!.end);
    node.results.forEach((v, i) => st.scope.set(names[i]!, { value: v, loc: this.loc(ins.results[i]!) }));
  }

  ret(st: GraphState, retTok: IToken, returns: readonly IToken[]): void {
    const name = st.g.name;
    const outs = returns.map((tok) => this.use(st, tok));
    if (outs.length !== st.outputTypes.length) {
      throw new AmpcError('E0401', `graph @${name}: return has ${outs.length} value(s) but the signature declares ${st.outputTypes.length} result(s)`, this.loc(retTok));
    }
    outs.forEach((v, i) => {
      const want = st.outputTypes[i]!;
      if (!typesEqual(v.type, want)) {
        throw new AmpcError('E0301', `graph @${name}: returned value ${returns[i]!.image} is ${typeToString(v.type)}, but the signature declares ${typeToString(want)}`, this.loc(returns[i]!));
      }
    });
    st.g.setOutputs(outs);
  }

  /** Adds a top-level graph to the module; a body is returned to its fused node instead. */
  endGraph(st: GraphState): Graph {
    if (--this.depth === 0) this.module.add(st.g);
    return st.g;
  }

  private define(st: GraphState, tok: IToken, what: string): string {
    const n = tok.image.slice(1);
    const prev = st.scope.get(n);
    if (prev) throw new AmpcError('E0005', `${what} %${n} is already defined (at ${prev.loc.line}:${prev.loc.col})`, this.loc(tok));
    return n;
  }

  private use(st: GraphState, tok: IToken): Value {
    const b = st.scope.get(tok.image.slice(1));
    if (!b) throw new AmpcError('E0004', `use of undefined value ${tok.image}`, this.loc(tok));
    return b.value;
  }

  private type(t: TypeAst): TensorType {
    const d = t.dtype.image;
    if (!isDType(d)) throw new AmpcError('E0006', `unknown dtype '${d}' (known: ${DTYPES.join(', ')})`, this.loc(t.dtype));
    const shape = t.extents.map((tok) => {
      const n = Number(tok.image);
      if (tok.tokenType !== Int || !Number.isInteger(n)) throw new AmpcError('E0006', `extent ${tok.image} is not an integer`, this.loc(tok));
      if (n < 0) throw new AmpcError('E0006', `negative extent ${tok.image}`, this.loc(tok));
      if (n > MAX_EXTENT) throw new AmpcError('E0006', `extent ${tok.image} is too large (at most ${MAX_EXTENT})`, this.loc(tok));
      return n === 0 ? 0 : n; // -0 -> 0
    });
    return { dtype: d, shape };
  }

  private attrValue(op: string, key: string, lit: LitAst): AttrValue {
    const spec = OPS[op as keyof typeof OPS].attrs[key]!;
    const where = this.loc(lit.tok);
    let v: AttrValue;
    try {
      v = literalToValue(op, key, spec, toLiteral(lit));
    } catch (e) {
      throw e instanceof AmpcError ? e.at(where) : e;
    }
    const ints = spec.kind === 'int' ? [v as number] : spec.kind === 'ints' ? (v as readonly number[]) : [];
    const big = ints.find((x) => !Number.isSafeInteger(x));
    if (big !== undefined) throw new AmpcError('E0104', `${op}: attribute '${key}': integer ${big} is out of range`, where);
    return v;
  }
}

function toLiteral(lit: LitAst): AttrLiteral {
  if (lit.kind === 'list') return { kind: 'list', items: lit.items.map(toLiteral) };
  const { tok } = lit;
  switch (tok.tokenType) {
    case Int:
      return { kind: 'int', value: Number(tok.image) };
    case Float:
      return { kind: 'float', value: Number(tok.image) };
    case NegInf:
      return { kind: 'float', value: -Infinity };
    case Str:
      return { kind: 'string', value: JSON.parse(tok.image) as string };
    default:
      switch (tok.image) {
        case 'true': return { kind: 'bool', value: true };
        case 'false': return { kind: 'bool', value: false };
        case 'inf': return { kind: 'float', value: Infinity };
        case 'nan': return { kind: 'float', value: NaN };
        default: return { kind: 'ident', value: tok.image };
      }
  }
}

// ---------------------------------------------------------------- suggestions

/** ` (did you mean 'matmul'?)` for a near miss, or nothing. */
function suggestOp(name: string): string {
  const close = closeMatches(name, OP_NAMES, 1);
  return close.length ? ` (did you mean '${close[0]}'?)` : '';
}
