/** Engine-wide switches set by backend selection and read by the layers. */
export const engineFlags = {
  /**
   * Whether matmul gradients should transpose explicitly. Stock WASM runs transposed matmuls in a naive
   * ~1.5 GFLOP/s loop but untransposed 2-D ones in XNNPACK, so an explicit transpose is ~5x faster there;
   * OpenBLAS handles transposes natively, so the native path passes the flags through.
   */
  explicitTranspose: false,
  /** Use the backend's fused LayerNorm/AdaLN kernel when it has one (tests switch it off to check the closed-form path). */
  fusedNorm: true,
  /** Use the backend's fused AdamW, EMA and gradient-norm kernels when it has them (same bits as the op-by-op
   * path; tests and `nestar bench profile` switch them off to compare). */
  fusedOptimizer: true,
  /** Use the backend's fused matmul + bias kernel for linear layers' forward pass when it has one. */
  fusedLinear: true,
  /** Use the backend's fused multi-head attention kernel (forward and gradient) when it has one. */
  fusedAttention: true,
  /** Run a bound patch flow head's whole velocity evaluation as one kernel when the backend has one (sampling). */
  fusedHead: true,
};
