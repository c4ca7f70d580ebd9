// Parameter counts in closed form (checked against the built models in tests), used to give the
// baselines the same budget as NestAR at the same width.
export function transformerParams(width: number, depth: number, mlpRatio: number, tokenDim: number, numClasses: number, seqLen: number, noiseInput = false): number {
  const C = width, r = mlpRatio;
  const block = 4 * (C * C + C) + 4 * C + (C * r * C + r * C) + (r * C * C + C);
  return tokenDim * C + C + (numClasses + 1) * C + 2 * seqLen * C + depth * block + 2 * C + (noiseInput ? 2 * C : 0);
}

export function flowHeadParams(tokenDim: number, condDim: number, width: number, depth: number): number {
  const W = width, lin = (i: number, o: number) => i * o + o;
  return lin(256, W) + lin(W, W) + lin(condDim, W) + lin(tokenDim, W) + depth * 5 * lin(W, W) + 2 * lin(W, W) + lin(W, tokenDim);
}

/** The patch flow head (src/flow/patchFlowHead.ts) with `slots` in-patch positions and MLP ratio `mlpRatio`. */
export function patchFlowHeadParams(tokenDim: number, condDim: number, width: number, depth: number, slots: number, mlpRatio: number): number {
  const W = width, lin = (i: number, o: number) => i * o + o;
  const block = 6 * lin(W, W) + 4 * lin(W, W) + lin(W, mlpRatio * W) + lin(mlpRatio * W, W);
  return lin(256, W) + lin(W, W) + lin(condDim, W) + lin(tokenDim, W) + slots * W + depth * block + 2 * lin(W, W) + lin(W, tokenDim);
}
