/** Kiln's profile formats: one module per format, each `decode(bytes) → Profile | null`, plus detection. */
export { maybeGunzip, gzip, isGzip, defaultMaxBytes, type GunzipOptions } from './gzip.ts'
export { decodePprof, encodePprof, sniffPprof, type DecodeOptions, type EncodeOptions } from './pprof.ts'
export { decodeFolded, decodeLines, encodeFolded, type FoldedOptions } from './folded.ts'
export {
  decodeSpeedscope,
  encodeSpeedscope,
  SPEEDSCOPE_SCHEMA,
  type SpeedscopeOptions,
  type SpeedscopeEncodeOptions,
} from './speedscope.ts'
export { decodeJfr, decodeLabelsSnapshot, sniffJfr, type JfrOptions, type JfrProfile } from './jfr.ts'
export { decodeAny, formatForName, sniffFormat, formats, type AnyOptions, type Format, type FormatName } from './registry.ts'
