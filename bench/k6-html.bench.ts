/**
 * k6/html: where parsing runs. The same work on a generated 100 KB page — parse, select
 * `div.r3 a`, read each link's href — by Kiln's host-side HtmlStore (what `parseHTML` uses, the
 * VM holding only ids; parse5) against htmlparser2 + css-select bundled by esbuild and run inside
 * a QuickJS VM like a VU's. Method: bench/README.md.
 */
import { loadavg } from 'node:os'
import { performance } from 'node:perf_hooks'
import { build } from 'esbuild'
import { newQuickJSAsyncWASMModuleFromVariant, type QuickJSAsyncVariant } from 'quickjs-emscripten-core'
import variant from '@jitl/quickjs-wasmfile-release-asyncify'
import { HtmlStore } from '../src/loadtest/modules/html/html.ts'
import { fmt, root } from './support.ts'

function page(kb: number): string {
  let s = '<!DOCTYPE html><html><head><title>T</title></head><body>'
  for (let i = 0; s.length < kb * 1024; i++) {
    s += `<div class="row r${i % 7}" data-id="${i}"><a href="/p/${i}">link ${i}</a><p>Some text &amp; more <b>bold</b> ${i}</p><ul><li>one</li><li>two</li></ul></div>\n`
  }
  return s + '</body></html>'
}
const html = page(100)
const seconds = Number(process.env.BENCH_SECONDS ?? 6)

// Host: one HtmlStore call per step, as vm/html.js makes them.
const store = new HtmlStore()
store.keepNew = false
function host(): number {
  const d = store.parse(html, '')
  const ids = JSON.parse(store.call(JSON.stringify(['find', d, [0], 'div.r3 a', null]))) as number[]
  let n = 0
  for (const id of ids) n += (JSON.parse(store.call(JSON.stringify(['attr', d, [id], 'href', null]))) as string).length
  store.endIteration()
  return n
}

// VM: the parser itself inside QuickJS.
const bundle = await build({
  stdin: {
    contents:
      "import { parseDocument } from 'htmlparser2'; import { selectAll } from 'css-select'; globalThis.P = { parseDocument, selectAll }",
    resolveDir: root,
    loader: 'js',
  },
  bundle: true,
  format: 'iife',
  write: false,
  minify: true,
  platform: 'neutral',
  mainFields: ['module', 'main'],
})
const mod = await newQuickJSAsyncWASMModuleFromVariant(
  ((variant as unknown as { default?: QuickJSAsyncVariant }).default ?? variant) as QuickJSAsyncVariant,
)
const ctx = mod.newContext()
let t0 = performance.now()
ctx.unwrapResult(ctx.evalCode(bundle.outputFiles[0]!.text)).dispose()
const loadMs = performance.now() - t0
const src = ctx.newString(html)
ctx.setProp(ctx.global, 'PAGE', src)
src.dispose()
function vm(): number {
  const r = ctx.unwrapResult(ctx.evalCode('P.selectAll("div.r3 a", P.parseDocument(PAGE)).reduce((n, a) => n + a.attribs.href.length, 0)'))
  const n = ctx.getNumber(r)
  r.dispose()
  return n
}

if (host() !== vm()) throw new Error('the two sides disagree on the page')
const spent = { host: 0, vm: 0 }
const passes = { host: 0, vm: 0 }
const deadline = Date.now() + seconds * 1000
while (Date.now() < deadline) {
  for (const [name, run] of [
    ['host', host],
    ['vm', vm],
  ] as const) {
    t0 = performance.now()
    run()
    spent[name] += performance.now() - t0
    passes[name]++
  }
}
const ms = (k: 'host' | 'vm') => spent[k] / passes[k]
console.log(`page ${fmt(html.length / 1024)} KB; load average ${loadavg()[0]!.toFixed(2)}`)
console.log(`host (HtmlStore):   ${fmt(ms('host'), 2)} ms per page (${passes.host} passes)`)
console.log(
  `inside the QuickJS VM: ${fmt(ms('vm'), 1)} ms per page (${passes.vm} passes), plus ${fmt(loadMs)} ms to load the ${fmt(bundle.outputFiles[0]!.text.length / 1024)} KB parser bundle per VU`,
)
console.log(`ratio vm / host: ${fmt(ms('vm') / ms('host'))}×`)
ctx.dispose()
