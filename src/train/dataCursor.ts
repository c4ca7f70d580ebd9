// The shuffled walk over a training set that every trainer uses: a fresh permutation per epoch from a
// seeded RNG, with the whole position (RNG states, epoch, cursor) saved in checkpoints for exact resume.
import { Rng, permutation, type RngState } from '../util/rng.js';

export class DataCursor {
  /** Draws the permutations (and, for the model trainer, the class drop-outs, in between). */
  rng: Rng;
  private epochStart: Rng;
  private order: Int32Array;
  epoch = 0;
  cursor = 0;

  constructor(readonly count: number, seed: number) {
    this.rng = new Rng(seed);
    this.epochStart = new Rng(this.rng.state());
    this.order = permutation(count, this.rng);
  }

  /** The next example's index; a new epoch starts with a new permutation. */
  next(): number {
    if (this.cursor >= this.count) {
      this.epoch++;
      this.cursor = 0;
      this.epochStart = new Rng(this.rng.state());
      this.order = permutation(this.count, this.rng);
    }
    return this.order[this.cursor++]!;
  }

  state(): { rng: { data: RngState; epochStart: RngState }; data: { epoch: number; cursor: number } } {
    return { rng: { data: this.rng.state(), epochStart: this.epochStart.state() }, data: { epoch: this.epoch, cursor: this.cursor } };
  }

  /** Back to a saved position: the epoch's permutation is redrawn from the RNG state it was drawn with. */
  restore(rng: { data: RngState; epochStart: RngState }, data: { epoch: number; cursor: number }): void {
    this.epochStart = new Rng(rng.epochStart);
    this.order = permutation(this.count, new Rng(rng.epochStart));
    this.rng = new Rng(rng.data);
    this.epoch = data.epoch;
    this.cursor = data.cursor;
  }
}
