// Element types of the IR: the five dtypes of the design and their properties.

export const DTYPES = ['f32', 'f16', 'i32', 'u32', 'bool'] as const;
export type DType = (typeof DTYPES)[number];

export function isDType(s: string): s is DType {
  return (DTYPES as readonly string[]).includes(s);
}

export function isFloat(d: DType): boolean {
  return d === 'f32' || d === 'f16';
}

export function isInteger(d: DType): boolean {
  return d === 'i32' || d === 'u32';
}

/** Numeric: takes part in arithmetic (everything but bool). */
export function isNumeric(d: DType): boolean {
  return d !== 'bool';
}

/** Bytes one element occupies in a GPU buffer (bool is stored as u32). */
export function byteSize(d: DType): number {
  return d === 'f16' ? 2 : 4;
}

/** The wider of two float dtypes (f32 over f16). */
export function widerFloat(a: DType, b: DType): DType {
  return a === 'f32' || b === 'f32' ? 'f32' : a;
}
