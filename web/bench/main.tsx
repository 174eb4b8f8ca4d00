// The benchmark page: the real app on the in-page fake server (bench/fake.ts).
import { install } from './fake';

install();
await import('../src/main');
