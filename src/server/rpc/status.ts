/** version.v1, status.v1 and capabilities.v1: what clients ask a Pyroscope server about itself. */
import { readFileSync } from 'node:fs'
import { create, toJson } from '@bufbuild/protobuf'
import type { ServiceImpl } from '@connectrpc/connect'
import type { Version } from './gen/version/v1/version_pb.ts'
import { GetBuildInfoResponseSchema, type StatusService } from './gen/status/v1/status_pb.ts'
import type { FeatureFlagsService } from './gen/capabilities/v1/feature_flags_pb.ts'

// src/server/rpc/ and dist/server/rpc/ are both three levels below the package root.
const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }

// Kiln answers querier.v1 as Pyroscope's version 1 of it (the only one clients check for).
const QUERIER_API = 1n

/** Build information; go_version carries the runtime Kiln runs on (Node's version). */
function buildInfo() {
  return create(GetBuildInfoResponseSchema, {
    status: 'success',
    data: { version: pkg.version, revision: '', branch: '', buildUser: '', buildDate: '', goVersion: process.version },
  })
}

export const versionService: Partial<ServiceImpl<typeof Version>> = {
  version: () => ({ QuerierAPI: QUERIER_API }),
}

export const statusService: Partial<ServiceImpl<typeof StatusService>> = {
  getBuildInfo: () => buildInfo(),
}

// No optional Pyroscope feature is behind a flag in Kiln: an empty list tells clients none is on.
export const featureFlagsService: Partial<ServiceImpl<typeof FeatureFlagsService>> = {
  getFeatureFlags: () => ({ featureFlags: [] }),
}

/** GET /api/v1/status/buildinfo: the same message in protobuf's JSON form, as Pyroscope serves it. */
export const buildInfoJson = () => toJson(GetBuildInfoResponseSchema, buildInfo())
