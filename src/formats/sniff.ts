/** True when the bytes look like text: no NUL or other control bytes in the first 4 KiB. */
export function sniffText(bytes: Uint8Array): boolean {
  const n = Math.min(bytes.length, 4096)
  for (let i = 0; i < n; i++) {
    const c = bytes[i]!
    if (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return false
  }
  return true
}
