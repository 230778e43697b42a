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
  /** What it ran on, when that is not this machine's Deno alone (the QEMU binary and version). */
  on?: string;
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

/**
 * Which QEMU a binary is, for the figures measured on it:
 * `QEMU 7.2.22 (qemu-system-riscv64)`.
 */
export function qemuVersion(binary: string): string {
  const out = new Deno.Command(binary, { args: ["--version"], stdout: "piped", stderr: "null" })
    .outputSync();
  const first = new TextDecoder().decode(out.stdout).split("\n")[0] ?? "";
  const version = /version (\S+)/.exec(first)?.[1] ?? "unknown version";
  return `QEMU ${version} (${binary})`;
}

/** Runs the garbage collector when the bench runs with `--expose-gc`. */
export function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}
