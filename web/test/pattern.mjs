// Mirrors tests/interop/test_pattern.hpp: message i has a size from a fixed cycle that
// includes 256 KiB, and bytes derived from i.
export const SIZES = [1, 17, 100, 1200, 5000, 16384, 65535, 262144];
export const patternSize = (i) => SIZES[i % SIZES.length];
export function patternMessage(i) {
  const b = new Uint8Array(patternSize(i));
  for (let j = 0; j < b.length; j++) b[j] = (i * 31 + j * 7) & 0xff;
  return b;
}
export function matchesPattern(i, data) {
  if (data.length !== patternSize(i)) return false;
  for (let j = 0; j < data.length; j++) if (data[j] !== ((i * 31 + j * 7) & 0xff)) return false;
  return true;
}
