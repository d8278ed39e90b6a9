// A progress bar for the examples: a cli-progress bar on stderr, drawn only
// when stderr is a terminal, that printed lines do not break: the bar is
// cleared, the line printed on stdout, and the bar drawn again below it
// (cli-progress restores the cursor to where a bar started). When stderr is
// not a terminal (a pipe, a test, a log file) there is no bar and lines are
// printed as they come. The format is cli-progress's: `{bar}`, `{value}`,
// `{total}`, `{eta_formatted}` and the payload's own keys.
//
// (Written for examples/charlm; examples/mnist/train.ts has its own copy of
// the same idea.)

import cliProgress from 'cli-progress';

export type Payload = Record<string, string | number>;

export class Progress {
  readonly #bar: cliProgress.SingleBar | undefined;
  readonly #line: (text: string) => void;
  #active = false;
  #total = 0;
  #value = 0;
  #payload: Payload = {};

  /** `format`: the bar's cli-progress format; `line`: prints a line on stdout (default console.log). */
  constructor(format: string, line: (text: string) => void = (t) => console.log(t)) {
    this.#line = line;
    if (process.stderr.isTTY) {
      this.#bar = new cliProgress.SingleBar(
        { format, hideCursor: true, clearOnComplete: true, stream: process.stderr, etaBuffer: 50 },
        cliProgress.Presets.shades_classic,
      );
    }
  }

  start(total: number, payload: Payload): void {
    this.#total = total;
    this.#value = 0;
    this.#payload = payload;
    this.#bar?.start(total, 0, payload);
    this.#active = this.#bar !== undefined;
  }

  update(value: number, payload: Payload): void {
    this.#value = value;
    this.#payload = payload;
    this.#bar?.update(value, payload);
  }

  /** Prints a line to stdout above the bar. */
  print(text: string): void {
    if (!this.#active) return this.#line(text);
    this.#bar!.stop();
    this.#line(text);
    this.#bar!.start(this.#total, this.#value, this.#payload);
  }

  /** Clears the bar. */
  stop(): void {
    if (this.#active) this.#bar!.stop();
    this.#active = false;
  }
}
