// The contract's prediction rule (docs/protocol.md, "Prediction rule").

/**
 * predictValue returns wrap32(prev + trunc(v * num / den)), the division truncating toward zero
 * exactly as Go's int64 division does. |v × num| < 2^53 by contract, so v*num is exact, and the
 * float quotient's rounding error stays below 1/|den|, so Math.trunc is exact; the remainder
 * check guards that reasoning at the cost of one multiplication.
 */
export function predictValue(prev: number, v: number, num: number, den: number): number {
  const a = v * num;
  let q = Math.trunc(a / den);
  const r = a - q * den;
  if (r !== 0 && r < 0 !== a < 0) q -= Math.sign(q);
  return (prev + q) | 0;
}
