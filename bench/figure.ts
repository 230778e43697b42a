/** One benchmark figure, printed as a JSON line. */
export interface Figure {
  /** Dotted name. */
  name: string;
  /** The measurement. */
  value: number;
  /** Its unit. */
  unit: string;
  /** The figure this one is a ratio against, when it is a ratio. */
  floor?: string;
  /** The target, as text. */
  target?: string;
  /** Whether the target is met. */
  ok?: boolean;
}

/** The median of some samples. */
export function median(samples: readonly number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Whether a program runs here (`BINARY --version` succeeds). */
export function installed(binary: string): boolean {
  try {
    return new Deno.Command(binary, { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}
