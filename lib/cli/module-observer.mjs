// Module hooks (module.register) that only watch: the URL of every module the process loads is posted to
// the main thread. tsx loads modules on its hooks thread, where the main thread's read tracking
// (lib/stamps/read-tracker.ts) cannot see them; the up-to-date cache needs every one of them. Plain
// JavaScript: it runs on the hooks thread, registered after tsx.
let port;

export function initialize(data) {
  port = data.port;
}

export async function load(url, context, nextLoad) {
  const loaded = await nextLoad(url, context);
  if (url.startsWith('file:')) port.postMessage(url);
  return loaded;
}
