/** Formatting lives in the model so that the CLI prints the same units as the UI. */
export * from '../../../src/model/units.ts'
