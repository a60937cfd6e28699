// A node:test reporter beside TAP: one JSON line per failed test (todo tests excluded), with its
// file, so scripts/test.js can run a failed file a second time and say so; and one line per file
// with the time its process took (the runner's own test named after the file), for the table of
// the slowest files scripts/test.js prints at the end.
export default async function* failures(source) {
  for await (const event of source) {
    const { name, file, nesting, details } = event.data ?? {}
    if (event.type === 'test:complete' && file && name === file && details)
      yield JSON.stringify({ fileMs: details.duration_ms, file }) + '\n'
    if (event.type !== 'test:fail' || event.data.todo !== undefined) continue
    yield JSON.stringify({ name, file, nesting }) + '\n'
  }
}
