/** Ingest: conversion of every input to series and the durable write, shared by every way data arrives. */
export { Ingester, checkWrites, type IngestConfig } from './ingester.ts'
export { ingestWrites, pushWrites, InflateBudget, type DecodeLimits, type IngestParams, type PushSeries } from './request.ts'
export { legacyWrites, pprofWrites, splitAppName, type IngestMeta, type SampleTypeConfig } from './convert.ts'
