{
  "targets": [
    {
      "target_name": "nestar_native",
      "sources": ["nestar_native.c", "napi_args.c", "elementwise.c", "norm.c", "attention.c", "tile.c", "gemm.c", "reduce.c", "headStep.c", "conv.c", "strided.c", "parallel.c"],
      "cflags": ["-O3", "-std=c11", "-fopenmp-simd"],
      "include_dirs": ["/usr/include/x86_64-linux-gnu/openblas-pthread", "/usr/include/openblas"],
      "libraries": ["-lopenblas", "-lm", "-lpthread"]
    }
  ]
}
