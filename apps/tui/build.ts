import { chmodSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { build, type Plugin } from "esbuild";

// Bundles `berth` into one file, dist/berth.js, run by Node 20+ (the `bin` of the package).

const here = fileURLToPath(new URL(".", import.meta.url));
const outfile = `${here}dist/berth.js`;

// Ink loads React DevTools only when DEV=true; the bundle leaves it out.
const noDevtools: Plugin = {
  name: "no-devtools",
  setup(b) {
    b.onResolve({ filter: /^react-devtools-core$/ }, () => ({ path: "rdc", namespace: "stub" }));
    b.onLoad({ filter: /.*/, namespace: "stub" }, () => ({
      contents: "export default { initialize() {}, connectToDevTools() {} };",
      loader: "js",
    }));
  },
};

await build({
  entryPoints: [`${here}src/main.tsx`],
  outfile,
  bundle: true,
  platform: "node",
  target: "node20",
  format: "esm",
  jsx: "automatic",
  // CommonJS dependencies inside an ES module bundle still call require().
  banner: {
    js: "#!/usr/bin/env node\nimport { createRequire as __berthRequire } from 'node:module';\nconst require = __berthRequire(import.meta.url);",
  },
  define: { "process.env.NODE_ENV": '"production"' },
  plugins: [noDevtools],
  legalComments: "none",
  logLevel: "warning",
});
chmodSync(outfile, 0o755);
console.log(`built ${outfile}`);
