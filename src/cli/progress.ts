/** Step-by-step progress for commands that take time: "▸ label … done (12 ms)". */
export async function step<T>(label: string, fn: () => Promise<T>): Promise<T> {
  const started = performance.now();
  process.stderr.write(`▸ ${label} … `);
  try {
    const value = await fn();
    process.stderr.write(`done (${Math.round(performance.now() - started)} ms)\n`);
    return value;
  } catch (err) {
    process.stderr.write("failed\n");
    throw err;
  }
}
