/**
 * HPACK's Huffman code (RFC 7541 Appendix B). The code is canonical: codes are assigned in order
 * of length, then symbol, so the 257 code lengths below define it (and checks against the RFC's
 * table — '0' = 00000, 'a' = 00011, EOS = 30 ones — hold by construction).
 */

/** Code length in bits of symbols 0–255 (RFC 7541 Appendix B), 16 per line; EOS (256) is 30. */
const lengths = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28, 6, 10, 10,
  12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10, 13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
  7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6, 15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7,
  7, 15, 11, 14, 13, 28, 20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22,
  23, 23, 24, 22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22,
  23, 26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, 20,
  24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, 30,
]

/** The canonical codes: symbol → [code, length]. */
export function huffmanCodes(): [number, number][] {
  const order = lengths.map((len, sym) => ({ len, sym })).sort((a, b) => a.len - b.len || a.sym - b.sym)
  const codes: [number, number][] = new Array(257)
  let code = 0
  let prevLen = order[0]!.len
  for (const { len, sym } of order) {
    code *= 2 ** (len - prevLen)
    prevLen = len
    codes[sym] = [code, len]
    code++
  }
  return codes
}

/** A binary trie over the codes: node i has children at left[i]/right[i] (0 = none) and a symbol (-1 = inner). */
const left: number[] = [0]
const right: number[] = [0]
const symbol: number[] = [-1]
for (const [sym, [code, len]] of huffmanCodes().entries()) {
  let n = 0
  for (let i = len - 1; i >= 0; i--) {
    const bit = Math.floor(code / 2 ** i) % 2
    const next = bit ? right : left
    if (!next[n]) {
      next[n] = symbol.length
      left.push(0)
      right.push(0)
      symbol.push(-1)
    }
    n = next[n]!
  }
  symbol[n] = sym
}

/**
 * Decodes a Huffman-coded string, or returns null when it is invalid: EOS inside, padding longer
 * than 7 bits or not all ones (RFC 7541 §5.2).
 */
export function huffmanDecode(b: Buffer): Buffer | null {
  const out: number[] = []
  let n = 0
  let depth = 0
  let ones = true
  for (const byte of b) {
    for (let i = 7; i >= 0; i--) {
      const bit = (byte >> i) & 1
      n = bit ? right[n]! : left[n]!
      depth++
      ones &&= bit === 1
      if (n === 0) return null
      const s = symbol[n]!
      if (s >= 0) {
        if (s === 256) return null
        out.push(s)
        n = 0
        depth = 0
        ones = true
      }
    }
  }
  if (depth > 7 || !ones) return null
  return Buffer.from(out)
}
