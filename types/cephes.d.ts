// cephes ships index.d.ts, but its package.json "exports" does not name it, so TypeScript's NodeNext
// resolution cannot find it. These are the signatures src/core/reports/stats.ts uses, copied from that file.
// It lives outside src/, where every .ts is a module built into dist/ (test/install.test.ts checks).
declare module 'cephes' {
  /** Resolves once the WebAssembly is compiled; the functions throw before. */
  export const compiled: Promise<void>;
  /** P(X ≤ k) for X ~ Binomial(n, p); k in 0..n-1. */
  export function bdtr(k: number, n: number, p: number): number;
  /** P(X > k) for X ~ Binomial(n, p). */
  export function bdtrc(k: number, n: number, p: number): number;
  /** log |Γ(x)|. */
  export function lgam(x: number): number;
  /** The standard normal CDF. */
  export function ndtr(x: number): number;
  /** The standard normal quantile. */
  export function ndtri(p: number): number;
  /** The quantile of Student's t with k (whole) degrees of freedom. */
  export function stdtri(k: number, p: number): number;
}
