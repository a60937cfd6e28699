/** `kiln scale --vus N`: sets the VUs of a running externally-controlled scenario. */
import { controlCommand, patchStatus, printStatus } from './control.ts'
import { str } from './args.ts'
import { KilnError } from '../model/errors.ts'

export const { spec, run } = controlCommand(
  'scale',
  'Change the VUs of a running externally-controlled load test',
  { vus: { type: 'string', short: 'u', arg: 'N', help: 'the number of active VUs' } },
  async (address, p) => {
    const v = str(p, 'vus')
    if (v === undefined || !/^\d+$/.test(v))
      throw new KilnError('KILN_USAGE', "kiln scale needs --vus N (a whole number), e.g. 'kiln scale --vus 20'")
    printStatus(await patchStatus(address, { vus: Number(v) }))
  },
)
