// The CLI's verbs, in the order `nestar --help` lists them (main.ts dispatches on them; the package test runs
// `nestar <verb> --help` for each from an installed tarball).
export const VERBS = ['train', 'sample', 'eval', 'diagnose', 'web', 'export', 'train-tokenizer', 'eval-tokenizer', 'encode', 'train-features', 'demo', 'bench'] as const;
