import { defineConfig } from 'vite'

// The UI is a static bundle that `kiln server` serves at `/` (no CDN at run time). During
// development, `npx vite ui` proxies the API to a local `kiln server` on port 4040.
export default defineConfig({
  root: import.meta.dirname,
  base: './',
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 1000 },
  server: {
    proxy: { '/api': 'http://127.0.0.1:4040', '/ingest': 'http://127.0.0.1:4040' },
    fs: { allow: ['..'] },
  },
})
