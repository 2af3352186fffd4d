// A small seeded generator (xorshift128+), so tests can replay channel-id choices.
// Not for secrets.

export class Random {
  private s0: bigint;
  private s1: bigint;

  // seed 0 = seeded from Math.random.
  constructor(seed = 0) {
    let x = BigInt.asUintN(64, BigInt(seed === 0 ? Math.floor(Math.random() * 2 ** 52) + 1 : seed));
    // splitmix64 spreads a small seed over both words.
    const next = (): bigint => {
      x = BigInt.asUintN(64, x + 0x9e3779b97f4a7c15n);
      let z = x;
      z = BigInt.asUintN(64, (z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n);
      z = BigInt.asUintN(64, (z ^ (z >> 27n)) * 0x94d049bb133111ebn);
      return z ^ (z >> 31n);
    };
    this.s0 = next();
    this.s1 = next();
  }

  private nextU64(): bigint {
    let a = this.s0;
    const b = this.s1;
    this.s0 = b;
    a = BigInt.asUintN(64, a ^ (a << 23n));
    this.s1 = a ^ b ^ (a >> 17n) ^ (b >> 26n);
    return BigInt.asUintN(64, this.s1 + b);
  }

  // A whole number in lo..hi, both included.
  int(lo: number, hi: number): number {
    return lo + Number(this.nextU64() % BigInt(hi - lo + 1));
  }
}
