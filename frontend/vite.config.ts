/// <reference types="vitest/config" />
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";
import { VitePWA } from "vite-plugin-pwa";

// The gateway serves the built files (one URL for the whole product); in `npm run dev` Vite proxies
// the API to a gateway on :8000.
export default defineConfig({
  plugins: [
    react(),
    VitePWA({
      registerType: "autoUpdate",
      includeAssets: ["icon.svg"],
      manifest: {
        name: "Customer-service AI agents",
        short_name: "CS Agents",
        description: "Supervise AI agents live, read KPIs, and call them from the mock dialer.",
        start_url: "/",
        display: "standalone",
        background_color: "#f6f7f9",
        theme_color: "#1f4e79",
        icons: [
          { src: "/icon-192.png", sizes: "192x192", type: "image/png" },
          { src: "/icon-512.png", sizes: "512x512", type: "image/png" },
          { src: "/icon-512.png", sizes: "512x512", type: "image/png", purpose: "maskable" },
        ],
      },
      workbox: {
        // The shell loads offline; the API and live streams always go to the network.
        navigateFallback: "/index.html",
        navigateFallbackDenylist: [/^\/api\//, /^\/docs/, /^\/health/, /^\/metrics/, /^\/openapi\.json/],
      },
    }),
  ],
  server: { proxy: { "/api": "http://localhost:8000", "/health": "http://localhost:8000" } },
  test: {
    environment: "jsdom",
    setupFiles: ["./src/test-setup.ts"],
    include: ["src/**/*.test.{ts,tsx}"],
    // After-each hooks in the order written: the setup file's cleanup (unmounting, which stops the
    // pages' streams and timers) runs before a test file's own, which put back the stubbed globals.
    sequence: { hooks: "list" },
    // Typing into forms with user-event takes seconds on a busy two-core machine.
    testTimeout: 15_000,
  },
});
