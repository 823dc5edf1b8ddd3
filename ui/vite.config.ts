import { defineConfig } from 'vite';
import preact from '@preact/preset-vite';

// The build output is committed under ../assets and embedded into the daemon by rust-embed.
// Everything must be deterministic: CI rebuilds and fails on any difference.
export default defineConfig({
  plugins: [preact({ devToolsInProdBuild: false, prefreshEnabled: false })],
  base: '/',
  build: {
    outDir: '../assets',
    emptyOutDir: true,
    assetsDir: 'assets',
    target: 'es2020',
    sourcemap: false,
    modulePreload: { polyfill: false },
    cssCodeSplit: false,
    reportCompressedSize: false,
    rollupOptions: {
      output: {
        // One entry chunk plus a vendor chunk: app changes do not bust the cached vendor file.
        manualChunks(id) {
          if (id.includes('node_modules')) return 'vendor';
          return undefined;
        },
      },
    },
  },
  server: {
    proxy: {
      '/api': 'http://127.0.0.1:8090',
      '/logout': 'http://127.0.0.1:8090',
      '/socket.io': { target: 'http://127.0.0.1:8090', ws: true },
    },
  },
});
