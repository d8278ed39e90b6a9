// Scalar math of the reference interpreter that JavaScript's Math lacks or
// gets different from C/numpy: erf and erfc to about 1e-15, GELU in both
// forms, a stable sigmoid, and pow with C's special cases.

const TWO_OVER_SQRT_PI = 1.1283791670955126; // 2/√π
const ONE_OVER_SQRT_PI = 0.5641895835477563; // 1/√π
const SQRT1_2 = Math.SQRT1_2;
const SQRT_2_OVER_PI = 0.7978845608028654; // √(2/π)

/**
 * erf for |x| < 2 from the series with positive terms
 * erf(x) = 2/√π · e^{-x²} · Σ x (2x²)^n / (1·3·…·(2n+1)), which has no cancellation.
 */
function erfSeries(x: number): number {
  const x2 = 2 * x * x;
  let term = x;
  let sum = x;
  for (let n = 1; n < 200; n++) {
    term *= x2 / (2 * n + 1);
    sum += term;
    if (Math.abs(term) <= 1e-17 * Math.abs(sum)) break;
  }
  return TWO_OVER_SQRT_PI * Math.exp(-x * x) * sum;
}

/**
 * erfc for x >= 1 from the continued fraction
 * erfc(x) = e^{-x²}/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))), by modified Lentz.
 */
function erfcContinuedFraction(x: number): number {
  const tiny = 1e-300;
  let f = x;
  let c = x;
  let d = 0;
  for (let n = 1; n < 5000; n++) {
    const a = n / 2;
    d = x + a * d;
    if (d === 0) d = tiny;
    d = 1 / d;
    c = x + a / c;
    if (c === 0) c = tiny;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return (ONE_OVER_SQRT_PI * Math.exp(-x * x)) / f;
}

/** The error function, accurate to about 1e-15 relative. */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const ax = Math.abs(x);
  if (ax < 2) return erfSeries(x);
  if (ax > 6) return Math.sign(x); // erfc(6) ≈ 2e-17 is below half an ulp of 1
  // Beyond 2, 1 - erfc loses nothing: erfc < 0.005 there.
  const r = 1 - erfcContinuedFraction(ax);
  return x < 0 ? -r : r;
}

/** The complementary error function 1 - erf(x), accurate also where it is tiny (large x). */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x < 1) return 1 - erf(x);
  if (x > 27.3) return 0; // below the smallest subnormal f64
  return erfcContinuedFraction(x);
}

/** GELU with erf: 0.5·x·(1 + erf(x/√2)); written with erfc for x < 0 so that the tail stays accurate. */
export function geluErf(x: number): number {
  if (x === -Infinity) return -0;
  if (x >= 0 || Number.isNaN(x)) return 0.5 * x * (1 + erf(x * SQRT1_2));
  return 0.5 * x * erfc(-x * SQRT1_2);
}

/** GELU, tanh approximation: 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))). */
export function geluTanh(x: number): number {
  if (x === -Infinity) return -0;
  if (x === Infinity) return Infinity;
  return 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)));
}

/** 1/(1+e^{-x}) without overflow for large |x|. */
export function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/** pow with C/numpy special cases where JavaScript differs: 1^y = 1 (also y = NaN), (-1)^±inf = 1. */
export function powC(a: number, b: number): number {
  if (a === 1) return 1;
  if (a === -1 && (b === Infinity || b === -Infinity)) return 1;
  return Math.pow(a, b);
}
