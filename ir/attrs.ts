// Attribute values, their declared kinds, and the checks that turn what a
// parser or a tracer supplies into a node's complete attribute record.

import { isDType } from './dtype.ts';
import { AmpcError } from './errors.ts';

/** A stored attribute value. dtypes are stored as their names. */
export type AttrValue = number | boolean | string | readonly number[];
export type Attrs = Readonly<Record<string, AttrValue>>;

export type AttrKind = 'int' | 'float' | 'bool' | 'string' | 'dtype' | 'ints' | 'floats';

export interface AttrSpec {
  readonly kind: AttrKind;
  /** Omitted: the attribute is required. */
  readonly default?: AttrValue;
  /** For strings: the allowed values. */
  readonly oneOf?: readonly string[];
  /** Printed even when equal to its default (precision-relevant attributes). */
  readonly alwaysPrint?: boolean;
}

/**
 * An attribute as written in text, before its op's spec is known: integer and
 * float literals stay distinct so that `stride = 1.5` can be rejected.
 */
export type AttrLiteral =
  | { readonly kind: 'int'; readonly value: number }
  | { readonly kind: 'float'; readonly value: number }
  | { readonly kind: 'bool'; readonly value: boolean }
  | { readonly kind: 'string'; readonly value: string }
  | { readonly kind: 'ident'; readonly value: string }
  | { readonly kind: 'list'; readonly items: readonly AttrLiteral[] };

function describe(lit: AttrLiteral): string {
  if (lit.kind === 'ident') return `identifier '${lit.value}'`;
  return lit.kind === 'list' ? 'a list' : lit.kind === 'int' ? 'an integer' : `a ${lit.kind}`;
}

/** Converts a literal to the value of an attribute of kind `spec.kind`. */
export function literalToValue(op: string, name: string, spec: AttrSpec, lit: AttrLiteral): AttrValue {
  const wrong = (): never => {
    throw new AmpcError('E0102', `${op}: attribute '${name}' expects ${kindText(spec)}, got ${describe(lit)}`);
  };
  switch (spec.kind) {
    case 'int':
      return lit.kind === 'int' ? lit.value : wrong();
    case 'float':
      return lit.kind === 'int' || lit.kind === 'float' ? lit.value : wrong();
    case 'bool':
      return lit.kind === 'bool' ? lit.value : wrong();
    case 'string':
      return lit.kind === 'string' ? lit.value : wrong();
    case 'dtype':
      return lit.kind === 'ident' && isDType(lit.value) ? lit.value : wrong();
    case 'ints':
      if (lit.kind !== 'list') return wrong();
      return lit.items.map((it) => (it.kind === 'int' ? it.value : wrong()));
    case 'floats':
      if (lit.kind !== 'list') return wrong();
      return lit.items.map((it) => (it.kind === 'int' || it.kind === 'float' ? it.value : wrong()));
  }
}

function kindText(spec: AttrSpec): string {
  switch (spec.kind) {
    case 'int': return 'an integer';
    case 'float': return 'a number';
    case 'bool': return 'true or false';
    case 'string': return spec.oneOf ? `one of ${spec.oneOf.map((s) => `"${s}"`).join(', ')}` : 'a string';
    case 'dtype': return 'a dtype';
    case 'ints': return 'a list of integers';
    case 'floats': return 'a list of numbers';
  }
}

/** Checks that a JS value fits a spec (the tracer's and passes' path). */
export function checkValue(op: string, name: string, spec: AttrSpec, v: AttrValue): AttrValue {
  const bad = (): never => {
    throw new AmpcError('E0102', `${op}: attribute '${name}' expects ${kindText(spec)}, got ${JSON.stringify(v)}`);
  };
  switch (spec.kind) {
    case 'int':
      if (typeof v !== 'number' || !Number.isInteger(v)) bad();
      break;
    case 'float':
      if (typeof v !== 'number') bad();
      break;
    case 'bool':
      if (typeof v !== 'boolean') bad();
      break;
    case 'string':
    case 'dtype':
      if (typeof v !== 'string' || (spec.kind === 'dtype' && !isDType(v))) bad();
      break;
    case 'ints':
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isInteger(x))) bad();
      return [...(v as number[])];
    case 'floats':
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'number')) bad();
      return [...(v as number[])];
  }
  if (spec.kind === 'string' && spec.oneOf && !spec.oneOf.includes(v as string)) {
    throw new AmpcError('E0104', `${op}: attribute '${name}' must be ${kindText(spec)}, got "${String(v)}"`);
  }
  return v;
}

/** Fills defaults, rejects unknown or missing attributes, checks kinds. */
export function completeAttrs(
  op: string,
  specs: Readonly<Record<string, AttrSpec>>,
  given: Readonly<Record<string, AttrValue | undefined>>,
): Attrs {
  const out: Record<string, AttrValue> = {};
  for (const name of Object.keys(given)) {
    if (given[name] !== undefined && !Object.hasOwn(specs, name)) {
      const known = Object.keys(specs);
      throw new AmpcError('E0101', `${op}: unknown attribute '${name}'` + (known.length ? ` (known: ${known.join(', ')})` : ' (it takes none)'));
    }
  }
  for (const [name, spec] of Object.entries(specs)) {
    const v = given[name];
    if (v === undefined) {
      if (spec.default === undefined) throw new AmpcError('E0103', `${op}: missing required attribute '${name}'`);
      out[name] = spec.default;
    } else {
      out[name] = checkValue(op, name, spec, v);
    }
  }
  return out;
}

export function attrValuesEqual(a: AttrValue, b: AttrValue): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => x === b[i]);
  if (typeof a === 'number' && typeof b === 'number' && Number.isNaN(a) && Number.isNaN(b)) return true;
  return a === b;
}

/** Text of a float so that parsing it gives the same number: `1.0`, `1e-7`, `inf`, `nan`. */
export function formatFloat(v: number): string {
  if (Number.isNaN(v)) return 'nan';
  if (v === Infinity) return 'inf';
  if (v === -Infinity) return '-inf';
  if (Object.is(v, -0)) return '-0.0';
  const s = String(v);
  return /[.e]/.test(s) ? s : `${s}.0`;
}

export function formatAttr(spec: AttrSpec, v: AttrValue): string {
  switch (spec.kind) {
    case 'float':
      return formatFloat(v as number);
    case 'string':
      return JSON.stringify(v);
    case 'ints':
      return `[${(v as readonly number[]).join(', ')}]`;
    case 'floats':
      return `[${(v as readonly number[]).map(formatFloat).join(', ')}]`;
    default:
      return String(v);
  }
}
