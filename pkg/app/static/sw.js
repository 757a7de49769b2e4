// kyso's citizen app's service worker. It caches the app's shell — the
// style sheet, this script's page script, the icon and the manifest — and
// nothing else: never a page, a document's image or anything that holds
// a secret. Every other request goes to the network as if it were not
// here.
"use strict";
const SHELL = "kyso-shell-v2";
const FILES = ["/app/static/app.css", "/app/static/app.js", "/app/static/icon.svg", "/app/manifest.webmanifest"];

self.addEventListener("install", (event) => {
	event.waitUntil(caches.open(SHELL).then((c) => c.addAll(FILES)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
	event.waitUntil(caches.keys()
		.then((keys) => Promise.all(keys.filter((k) => k !== SHELL).map((k) => caches.delete(k))))
		.then(() => self.clients.claim()));
});

self.addEventListener("fetch", (event) => {
	const url = new URL(event.request.url);
	if (event.request.method !== "GET" || url.origin !== self.location.origin || !FILES.includes(url.pathname)) {
		return; // the network, uncached
	}
	event.respondWith(caches.match(event.request).then((hit) => hit || fetch(event.request)));
});
