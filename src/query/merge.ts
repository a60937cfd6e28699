/** Merged call trees of a selection, optionally only the stacks through a call site. */
import type { CallTree } from '../model/tree.ts'
import type { Reader, Selection } from '../store/index.ts'

/** Keeps only stacks that pass through the call site (a root-first prefix of function names). */
export function filterCallSite(tree: CallTree, callSite: string[]): CallTree {
  if (!callSite.length) return tree
  const out = new (tree.constructor as new () => CallTree)()
  for (const [stack, v] of tree.stacks()) {
    if (stack.length >= callSite.length && callSite.every((f, i) => stack[i] === f)) out.add(stack, v)
  }
  return out
}

/** The merged tree of every sample in the selection (through `callSite` when given). */
export async function mergedTree(reader: Reader, sel: Selection, callSite: string[] = []): Promise<CallTree> {
  return filterCallSite(await reader.mergedTree(sel), callSite)
}
