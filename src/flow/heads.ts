// Builds the flow head a model's config asks for; the models hold it as a VelocityHead.
import type { ParamStore } from '../model/params.js';
import { FlowHead } from './flowHead.js';
import { PatchFlowHead } from './patchFlowHead.js';
import type { HeadKind, VelocityHead } from './head.js';

/** The head settings of a model config. */
export interface HeadSettings { headKind: HeadKind; headWidth: number; headDepth: number; headHeads: number }

export function createHead(ps: ParamStore, name: string, kind: HeadKind, s: HeadSettings,
  dims: { tokenDim: number; condDim: number; slotPositions: Array<[number, number]>; gridSize: number }): VelocityHead {
  if (kind === 'token') return new FlowHead(ps, name, { tokenDim: dims.tokenDim, condDim: dims.condDim, width: s.headWidth, depth: s.headDepth });
  return new PatchFlowHead(ps, name, {
    tokenDim: dims.tokenDim, condDim: dims.condDim, width: s.headWidth, depth: s.headDepth, heads: s.headHeads,
    slotPositions: dims.slotPositions, gridSize: dims.gridSize,
  });
}
