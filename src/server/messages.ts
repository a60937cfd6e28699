/** Message schemas of Pyroscope's Connect APIs (field numbers from the Apache-2.0 api/ protos). */
import type { MessageDesc } from '../formats/protomsg.ts'

const d = (name: string, fields: MessageDesc['fields']): MessageDesc => ({ name, fields })

export const LabelPair = d('types.v1.LabelPair', [
  { no: 1, json: 'name', kind: 'string' },
  { no: 2, json: 'value', kind: 'string' },
])
export const Labels = d('types.v1.Labels', [{ no: 1, json: 'labels', kind: 'message', repeated: true, msg: () => LabelPair }])
export const ProfileType = d('types.v1.ProfileType', [
  { no: 1, json: 'ID', kind: 'string' },
  { no: 2, json: 'name', kind: 'string' },
  { no: 4, json: 'sampleType', kind: 'string' },
  { no: 5, json: 'sampleUnit', kind: 'string' },
  { no: 6, json: 'periodType', kind: 'string' },
  { no: 7, json: 'periodUnit', kind: 'string' },
])
export const Point = d('types.v1.Point', [
  { no: 1, json: 'value', kind: 'double' },
  { no: 2, json: 'timestamp', kind: 'int64' },
])
export const Series = d('types.v1.Series', [
  { no: 1, json: 'labels', kind: 'message', repeated: true, msg: () => LabelPair },
  { no: 2, json: 'points', kind: 'message', repeated: true, msg: () => Point },
])
const Location = d('types.v1.Location', [{ no: 1, json: 'name', kind: 'string' }])
export const StackTraceSelector = d('types.v1.StackTraceSelector', [{ no: 1, json: 'callSite', kind: 'message', repeated: true, msg: () => Location }])

export const LabelNamesRequest = d('types.v1.LabelNamesRequest', [
  { no: 1, json: 'matchers', kind: 'string', repeated: true },
  { no: 2, json: 'start', kind: 'int64' },
  { no: 3, json: 'end', kind: 'int64' },
])
export const LabelNamesResponse = d('types.v1.LabelNamesResponse', [{ no: 1, json: 'names', kind: 'string', repeated: true }])
export const LabelValuesRequest = d('types.v1.LabelValuesRequest', [
  { no: 1, json: 'name', kind: 'string' },
  { no: 2, json: 'matchers', kind: 'string', repeated: true },
  { no: 3, json: 'start', kind: 'int64' },
  { no: 4, json: 'end', kind: 'int64' },
])
export const LabelValuesResponse = LabelNamesResponse

export const ProfileTypesRequest = d('querier.v1.ProfileTypesRequest', [
  { no: 1, json: 'start', kind: 'int64' },
  { no: 2, json: 'end', kind: 'int64' },
])
export const ProfileTypesResponse = d('querier.v1.ProfileTypesResponse', [{ no: 1, json: 'profileTypes', kind: 'message', repeated: true, msg: () => ProfileType }])
export const SeriesRequest = d('querier.v1.SeriesRequest', [
  { no: 1, json: 'matchers', kind: 'string', repeated: true },
  { no: 2, json: 'labelNames', kind: 'string', repeated: true },
  { no: 3, json: 'start', kind: 'int64' },
  { no: 4, json: 'end', kind: 'int64' },
])
export const SeriesResponse = d('querier.v1.SeriesResponse', [{ no: 2, json: 'labelsSet', kind: 'message', repeated: true, msg: () => Labels }])

export const ProfileFormat = ['PROFILE_FORMAT_UNSPECIFIED', 'PROFILE_FORMAT_FLAMEGRAPH', 'PROFILE_FORMAT_TREE', 'PROFILE_FORMAT_DOT', 'PROFILE_FORMAT_PPROF']
export const SelectMergeStacktracesRequest = d('querier.v1.SelectMergeStacktracesRequest', [
  { no: 1, json: 'profileTypeID', kind: 'string' },
  { no: 2, json: 'labelSelector', kind: 'string' },
  { no: 3, json: 'start', kind: 'int64' },
  { no: 4, json: 'end', kind: 'int64' },
  { no: 5, json: 'maxNodes', kind: 'int64' },
  { no: 6, json: 'format', kind: 'enum', enumNames: ProfileFormat },
  { no: 7, json: 'stackTraceSelector', kind: 'message', msg: () => StackTraceSelector },
])
const Level = d('querier.v1.Level', [{ no: 1, json: 'values', kind: 'int64', repeated: true }])
export const FlameGraph = d('querier.v1.FlameGraph', [
  { no: 1, json: 'names', kind: 'string', repeated: true },
  { no: 2, json: 'levels', kind: 'message', repeated: true, msg: () => Level },
  { no: 3, json: 'total', kind: 'int64' },
  { no: 4, json: 'maxSelf', kind: 'int64' },
])
export const FlameGraphDiff = d('querier.v1.FlameGraphDiff', [
  ...FlameGraph.fields,
  { no: 5, json: 'leftTicks', kind: 'int64' },
  { no: 6, json: 'rightTicks', kind: 'int64' },
])
const PprofProfile = d('querier.v1.PprofProfile', [{ no: 1, json: 'profile', kind: 'bytes' }])
export const SelectMergeStacktracesResponse = d('querier.v1.SelectMergeStacktracesResponse', [
  { no: 1, json: 'flamegraph', kind: 'message', msg: () => FlameGraph },
  { no: 2, json: 'tree', kind: 'bytes' },
  { no: 5, json: 'pprof', kind: 'message', msg: () => PprofProfile },
])
export const Aggregation = ['TIME_SERIES_AGGREGATION_TYPE_SUM', 'TIME_SERIES_AGGREGATION_TYPE_AVERAGE']
export const SelectSeriesRequest = d('querier.v1.SelectSeriesRequest', [
  { no: 1, json: 'profileTypeID', kind: 'string' },
  { no: 2, json: 'labelSelector', kind: 'string' },
  { no: 3, json: 'start', kind: 'int64' },
  { no: 4, json: 'end', kind: 'int64' },
  { no: 5, json: 'groupBy', kind: 'string', repeated: true },
  { no: 6, json: 'step', kind: 'double' },
  { no: 7, json: 'aggregation', kind: 'enum', enumNames: Aggregation },
  { no: 8, json: 'stackTraceSelector', kind: 'message', msg: () => StackTraceSelector },
  { no: 9, json: 'limit', kind: 'int64' },
])
export const SelectSeriesResponse = d('querier.v1.SelectSeriesResponse', [{ no: 1, json: 'series', kind: 'message', repeated: true, msg: () => Series }])
export const SelectMergeProfileRequest = d('querier.v1.SelectMergeProfileRequest', [
  { no: 1, json: 'profileTypeID', kind: 'string' },
  { no: 2, json: 'labelSelector', kind: 'string' },
  { no: 3, json: 'start', kind: 'int64' },
  { no: 4, json: 'end', kind: 'int64' },
  { no: 5, json: 'maxNodes', kind: 'int64' },
  { no: 6, json: 'stackTraceSelector', kind: 'message', msg: () => StackTraceSelector },
])
export const DiffRequest = d('querier.v1.DiffRequest', [
  { no: 1, json: 'left', kind: 'message', msg: () => SelectMergeStacktracesRequest },
  { no: 2, json: 'right', kind: 'message', msg: () => SelectMergeStacktracesRequest },
])
export const DiffResponse = d('querier.v1.DiffResponse', [{ no: 1, json: 'flamegraph', kind: 'message', msg: () => FlameGraphDiff }])

const RawSample = d('push.v1.RawSample', [
  { no: 1, json: 'rawProfile', kind: 'bytes' },
  { no: 2, json: 'ID', kind: 'string' },
])
const RawProfileSeries = d('push.v1.RawProfileSeries', [
  { no: 1, json: 'labels', kind: 'message', repeated: true, msg: () => LabelPair },
  { no: 2, json: 'samples', kind: 'message', repeated: true, msg: () => RawSample },
])
export const PushRequest = d('push.v1.PushRequest', [{ no: 1, json: 'series', kind: 'message', repeated: true, msg: () => RawProfileSeries }])
export const PushResponse = d('push.v1.PushResponse', [])

export const GetProfileStatsRequest = d('types.v1.GetProfileStatsRequest', [])
export const GetProfileStatsResponse = d('types.v1.GetProfileStatsResponse', [
  { no: 1, json: 'dataIngested', kind: 'bool' },
  { no: 2, json: 'oldestProfileTime', kind: 'int64' },
  { no: 3, json: 'newestProfileTime', kind: 'int64' },
])
