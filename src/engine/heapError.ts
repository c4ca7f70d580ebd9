// How a run that outgrew tfjs's WASM heap fails, and what to tell the user. On the 'native' and 'wasm' backends
// tensors live in a wasm32 heap capped at 4 GiB; running out shows up not as an allocation error but as an
// Emscripten abort or a memory trap, whose bare text ("Aborted()") says nothing about the cause.

/** Messages of a WASM heap that ran out (an abort, an out-of-bounds memory access or table index). */
export const WASM_HEAP_EXHAUSTED = /memory access out of bounds|table index is out of bounds|Aborted\(\)/;

/** What to do about it, for an error message; null when the message is not a heap exhaustion. */
export function wasmHeapHint(message: string): string | null {
  if (!WASM_HEAP_EXHAUSTED.test(message)) return null;
  return "tfjs's WASM heap (4 GiB in wasm32) ran out: train with --micro-batch N or a smaller --batch-size, " +
    'sample or evaluate with a smaller --batch, or run with --backend native-js (the same kernels, tensors outside that heap)';
}
