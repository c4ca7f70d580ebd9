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
