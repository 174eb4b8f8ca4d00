import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The benchmark build: the real app plus an in-page fake server (bench/fake.ts).
export default defineConfig({
  base: '/ui/',
  plugins: [react()],
  worker: { format: 'es' },
  build: {
    outDir: 'bench-output/dist',
    emptyOutDir: true,
    target: 'es2022',
    rolldownOptions: { input: 'bench/index.html' },
  },
});
