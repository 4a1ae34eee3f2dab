import { defineConfig } from "vite";

// The studio window is served from the app bundle (no dev server in tests or packages).
export default defineConfig({
  clearScreen: false,
  build: {
    target: "safari15",
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
  },
});
