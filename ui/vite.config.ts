import { defineConfig } from "vitest/config";

// Two pages from one package: the studio window (served from the app bundle, no dev server in
// tests or packages) and, with `--mode viewer`, the viewer page the backend serves at
// /live/{username} (and its replays' page, /live/{username}/replays/{id}) with its assets
// under /live/assets/.
export default defineConfig(({ mode }) =>
  mode === "viewer"
    ? {
        clearScreen: false,
        base: "/live/",
        build: {
          target: "es2020",
          outDir: "dist-viewer",
          emptyOutDir: true,
          sourcemap: false,
          rollupOptions: { input: ["live.html", "replay.html"] },
          // livekit-client is most of it (585 kB, 155 kB gzip); the page needs all of it.
          chunkSizeWarningLimit: 700,
        },
      }
    : {
        clearScreen: false,
        build: {
          target: "safari15",
          outDir: "dist",
          emptyOutDir: true,
          sourcemap: false,
        },
        test: { include: ["src/**/*.test.ts"] },
      },
);
