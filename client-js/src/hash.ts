// FNV-1a 64 without BigInt: the hash is kept as two uint32 halves. The state hash (docs/protocol.md,
// "State hash") is computed by the mirror with this hasher.

const PRIME_LO = 0x1b3; // FNV prime 0x100000001b3 = 2^40 + 0x1b3
const TWO32 = 4294967296;

/** Fnv64 is an FNV-1a 64 hasher over little-endian integers and bytes. */
export class Fnv64 {
  /** hi is the upper 32 bits of the hash (uint32). */
  hi = 0xcbf29ce4;
  /** lo is the lower 32 bits of the hash (uint32). */
  lo = 0x84222325;

  /** reset restores the offset basis. */
  reset(): this {
    this.hi = 0xcbf29ce4;
    this.lo = 0x84222325;
    return this;
  }

  /** byte feeds one byte. */
  byte(b: number): void {
    const lo = (this.lo ^ (b & 0xff)) >>> 0;
    // h * (2^40 + 0x1b3) mod 2^64, with h = hi·2^32 + lo: lo·0x1b3 < 2^41 is exact in a double.
    const p = lo * PRIME_LO;
    const carry = Math.floor(p / TWO32);
    this.lo = p >>> 0;
    this.hi = (Math.imul(this.hi, PRIME_LO) + carry + (lo << 8)) >>> 0;
  }

  /** u16 feeds v as 2 bytes, little-endian. */
  u16(v: number): void {
    this.byte(v);
    this.byte(v >>> 8);
  }

  /** u32 feeds v (int32 or uint32) as 4 bytes, little-endian. */
  u32(v: number): void {
    this.byte(v);
    this.byte(v >>> 8);
    this.byte(v >>> 16);
    this.byte(v >>> 24);
  }

  /** bytes feeds b as the state hash lays out a bytes field: u16 length, then the bytes. */
  bytes(b: Uint8Array | null): void {
    if (b === null) {
      this.u16(0);
      return;
    }
    this.u16(b.length);
    for (let i = 0; i < b.length; i++) this.byte(b[i]);
  }

  /** raw feeds b[0..n) as it is (no length prefix); n defaults to b.length. */
  raw(b: Uint8Array, n: number = b.length): void {
    // The hot loop of the state hash, in four 16-bit limbs: small-integer arithmetic only.
    // prime = 2^40 + 0x1b3: limb 0 is 0x1b3 and limb 2 is 0x100.
    let h0 = this.lo & 0xffff;
    let h1 = this.lo >>> 16;
    let h2 = this.hi & 0xffff;
    let h3 = this.hi >>> 16;
    for (let i = 0; i < n; i++) {
      h0 ^= b[i];
      const r0 = h0 * 0x1b3;
      const r1 = h1 * 0x1b3 + (r0 >>> 16);
      const r2 = h2 * 0x1b3 + (h0 << 8) + (r1 >>> 16);
      h3 = (h3 * 0x1b3 + (h1 << 8) + (r2 >>> 16)) & 0xffff;
      h0 = r0 & 0xffff;
      h1 = r1 & 0xffff;
      h2 = r2 & 0xffff;
    }
    this.lo = ((h1 << 16) | h0) >>> 0;
    this.hi = ((h3 << 16) | h2) >>> 0;
  }

  /** hex returns the hash as 16 lowercase hex digits. */
  hex(): string {
    return hashHex(this.hi, this.lo);
  }
}

/** hashHex formats a 64-bit hash given as two uint32 halves as 16 lowercase hex digits. */
export function hashHex(hi: number, lo: number): string {
  return (hi >>> 0).toString(16).padStart(8, "0") + (lo >>> 0).toString(16).padStart(8, "0");
}

/** fnv1a64 returns the FNV-1a 64 hash of b as 16 lowercase hex digits. */
export function fnv1a64(b: Uint8Array): string {
  const h = new Fnv64();
  h.raw(b);
  return h.hex();
}

/** splitU64 splits a bigint (e.g. protobuf-es's fixed64) into uint32 halves. */
export function splitU64(v: bigint): { hi: number; lo: number } {
  return { hi: Number((v >> 32n) & 0xffffffffn), lo: Number(v & 0xffffffffn) };
}
