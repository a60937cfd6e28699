/** Query: one Selection builder, time and step rules, node limit, merged trees, for every read route. */
export {
  selection,
  timeRange,
  stepOf,
  maxNodesOf,
  DEFAULT_MAX_NODES,
  MAX_NODES_LIMIT,
  MAX_POINTS,
  type SelectionInput,
  type TimeInput,
} from './selection.ts'
export { mergedTree, filterCallSite } from './merge.ts'
export { legacyTimeline, type LegacyTimeline } from './timeline.ts'
export { framesToProfile } from './export.ts'
