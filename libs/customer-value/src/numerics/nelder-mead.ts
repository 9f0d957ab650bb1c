// Nelder–Mead simplex minimisation with restarts. The likelihoods here are smooth and have few
// parameters, so a derivative-free method on log-parameters is simple and robust: it never
// leaves the positive orthant and needs no gradient code to keep in step with the likelihood.
// Restarting from the best vertex with a fresh simplex guards against the simplex collapsing
// onto a subspace before the optimum (a known weakness of the method).

// Jest runs code in a vm context where every global lookup is slow; a module binding is not.
const Math = globalThis.Math;

export interface MinimizeOptions {
  /** Initial simplex edge length. */
  readonly step: number;
  /** Converged when every vertex is within xTol of the best one (max norm)... */
  readonly xTol: number;
  /** ...and the function values differ by at most fTol. */
  readonly fTol: number;
  readonly maxIterations: number;
  readonly maxRestarts: number;
}

export interface MinimizeResult {
  readonly x: Float64Array;
  readonly value: number;
  readonly iterations: number;
  readonly converged: boolean;
}

function safe(f: (x: Float64Array) => number, x: Float64Array): number {
  const v = f(x);
  return Number.isFinite(v) ? v : Infinity;
}

function runSimplex(
  f: (x: Float64Array) => number,
  start: Float64Array,
  step: number,
  xTol: number,
  fTol: number,
  maxIterations: number,
): MinimizeResult {
  const n = start.length;
  const pts: Float64Array[] = [];
  const vals = new Float64Array(n + 1);
  for (let i = 0; i <= n; i++) {
    const p = Float64Array.from(start);
    if (i > 0) p[i - 1]! += step;
    pts.push(p);
    vals[i] = safe(f, p);
  }
  const order = Array.from({ length: n + 1 }, (_, i) => i);
  const centroid = new Float64Array(n);
  const xr = new Float64Array(n);
  const xe = new Float64Array(n);
  const xc = new Float64Array(n);
  let iterations = 0;
  let converged = false;

  while (iterations < maxIterations) {
    order.sort((i, j) => vals[i]! - vals[j]!);
    const best = order[0]!;
    const worst = order[n]!;
    const secondWorst = order[n - 1]!;
    const bestPt = pts[best]!;
    let spread = 0;
    for (let i = 0; i <= n; i++) {
      const p = pts[i]!;
      for (let k = 0; k < n; k++) spread = Math.max(spread, Math.abs(p[k]! - bestPt[k]!));
    }
    if (spread <= xTol && vals[worst]! - vals[best]! <= fTol) {
      converged = true;
      break;
    }
    iterations++;

    centroid.fill(0);
    for (let i = 0; i <= n; i++) {
      if (i === worst) continue;
      const p = pts[i]!;
      for (let k = 0; k < n; k++) centroid[k]! += p[k]! / n;
    }
    const worstPt = pts[worst]!;
    for (let k = 0; k < n; k++) xr[k] = centroid[k]! + (centroid[k]! - worstPt[k]!);
    const fr = safe(f, xr);
    if (fr < vals[best]!) {
      for (let k = 0; k < n; k++) xe[k] = centroid[k]! + 2 * (xr[k]! - centroid[k]!);
      const fe = safe(f, xe);
      if (fe < fr) {
        worstPt.set(xe);
        vals[worst] = fe;
      } else {
        worstPt.set(xr);
        vals[worst] = fr;
      }
      continue;
    }
    if (fr < vals[secondWorst]!) {
      worstPt.set(xr);
      vals[worst] = fr;
      continue;
    }
    // Contract towards the better of the reflected and the worst point.
    const outside = fr < vals[worst]!;
    const towards = outside ? xr : worstPt;
    for (let k = 0; k < n; k++) xc[k] = centroid[k]! + 0.5 * (towards[k]! - centroid[k]!);
    const fc = safe(f, xc);
    if (fc < (outside ? fr : vals[worst]!)) {
      worstPt.set(xc);
      vals[worst] = fc;
      continue;
    }
    // Shrink everything towards the best vertex.
    for (let i = 0; i <= n; i++) {
      if (i === best) continue;
      const p = pts[i]!;
      for (let k = 0; k < n; k++) p[k] = bestPt[k]! + 0.5 * (p[k]! - bestPt[k]!);
      vals[i] = safe(f, p);
    }
  }
  let bestIndex = 0;
  for (let i = 1; i <= n; i++) if (vals[i]! < vals[bestIndex]!) bestIndex = i;
  return { x: Float64Array.from(pts[bestIndex]!), value: vals[bestIndex]!, iterations, converged };
}

/** Minimise f from x0; restarts until a restart no longer improves the value by more than fTol. */
export function nelderMead(
  f: (x: Float64Array) => number,
  x0: readonly number[],
  options: MinimizeOptions,
): MinimizeResult {
  let result = runSimplex(
    f,
    Float64Array.from(x0),
    options.step,
    options.xTol,
    options.fTol,
    options.maxIterations,
  );
  let iterations = result.iterations;
  for (
    let restart = 0;
    restart < options.maxRestarts && iterations < options.maxIterations;
    restart++
  ) {
    const next = runSimplex(
      f,
      result.x,
      options.step / 4,
      options.xTol,
      options.fTol,
      options.maxIterations - iterations,
    );
    iterations += next.iterations;
    const improvement = result.value - next.value;
    if (next.value <= result.value) result = next;
    if (improvement <= options.fTol && next.converged) {
      return { ...result, iterations, converged: true };
    }
  }
  return { ...result, iterations, converged: false };
}
