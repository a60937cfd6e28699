import type { ServerResponse } from 'node:http'
import { existsSync, readFileSync, statSync } from 'node:fs'
import { extname, join, normalize, sep } from 'node:path'
import { sendBytes, type Req } from './http.ts'
import { KilnError } from '../model/errors.ts'

const types: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.map': 'application/json',
}

/** Serves the built web UI; unknown paths fall back to index.html (client-side routes). */
export function staticHandler(dir: string) {
  return (req: Req, res: ServerResponse): void => {
    if (/^\/(api|pyroscope|querier\.v1\.|push\.v1\.)/.test(req.path)) {
      throw new KilnError('KILN_NOT_FOUND', `no route ${req.method} ${req.path}; the APIs are listed in docs/api.md`)
    }
    const index = join(dir, 'index.html')
    if (!existsSync(index)) {
      sendBytes(res, 200, 'text/html; charset=utf-8', placeholder)
      return
    }
    let rel: string
    try {
      rel = decodeURIComponent(req.path)
    } catch {
      throw new KilnError(
        'KILN_BAD_REQUEST',
        `path ${JSON.stringify(req.path.slice(0, 200))} has malformed percent-encoding (a % not followed by two hex digits of UTF-8)`,
      )
    }
    if (rel.endsWith('/')) rel += 'index.html'
    const file = normalize(join(dir, rel))
    const inside = file.startsWith(dir.endsWith(sep) ? dir : dir + sep)
    if (inside && existsSync(file) && statSync(file).isFile()) {
      const immutable: Record<string, string> = rel.startsWith('/assets/') ? { 'cache-control': 'public, max-age=31536000, immutable' } : {}
      sendBytes(res, 200, types[extname(file)] ?? 'application/octet-stream', readFileSync(file), immutable)
      return
    }
    sendBytes(res, 200, 'text/html; charset=utf-8', readFileSync(index))
  }
}

const placeholder = `<!doctype html><meta charset="utf-8"><title>Kiln</title>
<body style="font-family:system-ui;max-width:44rem;margin:3rem auto;line-height:1.5">
<h1>Kiln is running</h1>
<p>The web UI has not been built. Run <code>npm run build:ui</code> (or <code>npm start</code>, which builds it) and reload.</p>
<p>The APIs work already: <a href="/api/v1/profile-types">/api/v1/profile-types</a>. Send a first profile:</p>
<pre>curl -X POST --data-binary 'main;work 100' 'http://localhost:4040/ingest?name=myapp.cpu&amp;format=folded'</pre>
</body>`
