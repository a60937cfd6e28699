/** Ingest: conversion of every input to series and the durable write, shared by every way data arrives. */
export { Ingester, type IngestConfig } from './ingester.ts'
export { checkWrites, prepareUpload, type Job, type WriteRules } from './prepare.ts'
export { ingestWrites, pushWrites, InflateBudget, type DecodeLimits, type IngestParams, type PushSeries } from './request.ts'
export { legacyWrites, pprofWrites, splitAppName, type IngestMeta, type SampleTypeConfig } from './convert.ts'
export { IngestPool } from './pool.ts'
