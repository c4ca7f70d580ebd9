"""nestar_torch: the PyTorch twin of nestar's NestAR, for training past one machine (torchrun + DDP).

Same config schema (state.json's model/data/tokenizer/train sections), same parameter names and shapes,
same safetensors checkpoint layout and the same loss as the TypeScript implementation in src/; sampling,
evaluation and the browser stay in TypeScript. Needs only Debian's python3-torch and python3-numpy.
"""
