// Bounds-checked big-endian reading and a growable writer, shared by every wire codec.

export type Bytes = Uint8Array;

// Reads without ever running past the end: a read that does not fit returns undefined
// and leaves the position where it was.
export class ByteReader {
  private readonly view: DataView;
  private pos: number;

  constructor(
    private readonly data: Uint8Array,
    offset = 0,
  ) {
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    this.pos = offset;
  }

  get position(): number {
    return this.pos;
  }
  get remaining(): number {
    return this.data.length - this.pos;
  }

  u8(): number | undefined {
    if (this.remaining < 1) return undefined;
    return this.view.getUint8(this.pos++);
  }
  u16(): number | undefined {
    if (this.remaining < 2) return undefined;
    const v = this.view.getUint16(this.pos);
    this.pos += 2;
    return v;
  }
  u32(): number | undefined {
    if (this.remaining < 4) return undefined;
    const v = this.view.getUint32(this.pos);
    this.pos += 4;
    return v;
  }
  // A view into the input, not a copy.
  bytes(n: number): Uint8Array | undefined {
    if (this.remaining < n) return undefined;
    const out = this.data.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
}

// Appends big-endian fields to a buffer that grows geometrically.
export class ByteWriter {
  private buf: Uint8Array;
  private view: DataView;
  private len = 0;

  constructor(capacity = 256) {
    this.buf = new Uint8Array(Math.max(capacity, 16));
    this.view = new DataView(this.buf.buffer);
  }

  get length(): number {
    return this.len;
  }

  reserve(extra: number): void {
    const needed = this.len + extra;
    if (needed <= this.buf.length) return;
    const grown = new Uint8Array(Math.max(needed, 2 * this.buf.length));
    grown.set(this.buf.subarray(0, this.len));
    this.buf = grown;
    this.view = new DataView(grown.buffer);
  }

  u8(v: number): void {
    this.reserve(1);
    this.view.setUint8(this.len, v);
    this.len += 1;
  }
  u16(v: number): void {
    this.reserve(2);
    this.view.setUint16(this.len, v);
    this.len += 2;
  }
  u32(v: number): void {
    this.reserve(4);
    this.view.setUint32(this.len, v >>> 0);
    this.len += 4;
  }
  bytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  // Drops everything from `length` on.
  truncate(length: number): void {
    this.len = Math.min(this.len, length);
  }
  // A copy of the bytes from `start` to the end.
  copy(start = 0): Uint8Array {
    return this.buf.slice(start, this.len);
  }
  // The bytes written, as a view (valid until the next write).
  written(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }
}

export function loadU32(b: Uint8Array, offset: number): number {
  return ((b[offset]! << 24) | (b[offset + 1]! << 16) | (b[offset + 2]! << 8) | b[offset + 3]!) >>> 0;
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let size = 0;
  for (const p of parts) size += p.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
