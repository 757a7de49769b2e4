// kyso's citizen app: the only script. It registers the service worker
// that makes the app installable; the pages work without it.
"use strict";
if ("serviceWorker" in navigator) {
	navigator.serviceWorker.register("/app/sw.js", { scope: "/app/" }).catch(() => {});
}
