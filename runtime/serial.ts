// One call at a time: async work queued so that each runs after every earlier
// one has settled (failed ones included), as the Trainer and a loaded
// artifact need: a step must never interleave with a read-back or a load.

export class SerialQueue {
  #tail: Promise<unknown> = Promise.resolve();

  /** Runs `work` after the earlier work; `check` runs first, when its turn comes (e.g. refusing work on a destroyed object). */
  run<T>(work: () => Promise<T> | T, check?: () => void): Promise<T> {
    const run = this.#tail.then(() => {
      check?.();
      return work();
    });
    this.#tail = run.catch(() => undefined);
    return run;
  }
}
