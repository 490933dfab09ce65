// `import { createClient } from '@supabase/supabase-js'` in the browser, as the guide
// writes it: guide.html maps the bare name here (an import map), and this hands out
// the installed package's own UMD bundle (node_modules/.../dist/umd/supabase.js),
// loaded by guide.html before any module runs. No CDN.
export const { createClient } = globalThis.supabase;
