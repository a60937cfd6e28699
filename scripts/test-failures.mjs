// A node:test reporter beside TAP: one JSON line per failed test (todo tests excluded), with its
// file, so scripts/test.js can run a failed file a second time and say so.
export default async function* failures(source) {
  for await (const event of source) {
    if (event.type !== 'test:fail' || event.data.todo !== undefined) continue
    const { name, file, nesting } = event.data
    yield JSON.stringify({ name, file, nesting }) + '\n'
  }
}
