/**
 * Scripts the Live view offers before (and beside) the server's script library: the seed's four
 * Pixie examples, titled in English (Kiln runs their pandas forms and friendlier columns, issue 10 §1).
 */
import { exampleScript, pxlExamples } from '../../../src/model/pxl-examples.ts'

export interface PxlScript {
  name: string
  description: string
  script: string
  /** vis.json, as text or parsed. */
  vis?: unknown
}

export const examples: readonly PxlScript[] = pxlExamples.map((e) => ({
  name: e.name,
  description: e.description,
  script: exampleScript(e),
}))
