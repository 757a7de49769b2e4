// kyso's citizen app: the only script. It registers the service worker
// that makes the app installable; the pages work without it.
"use strict";
if ("serviceWorker" in navigator) {
	navigator.serviceWorker.register("/app/sw.js", { scope: "/app/" }).catch(() => {});
}

// Placing an own document's stamp: a tap on the page's image shows the
// stamp's box there (centred on the tap, kept within the page, as the
// server places it) and fills the form's page, x and y: fractions of the
// image from its top left corner. Without script the corner select
// does it.
(() => {
	const img = document.getElementById("page-img");
	const box = document.getElementById("stamp-box");
	const form = document.getElementById("stamp-form");
	if (!img || !box || !form) {
		return;
	}
	const w = parseFloat(img.dataset.stampW), h = parseFloat(img.dataset.stampH);
	const show = (left, top) => {
		box.style.left = (left * 100) + "%";
		box.style.top = (top * 100) + "%";
		box.style.width = (w * 100) + "%";
		box.style.height = (h * 100) + "%";
		box.hidden = false;
	};
	const now = (img.dataset.box || "").split(" ").map(Number);
	if (now.length === 2 && now.every(Number.isFinite)) {
		show(now[0], now[1]);
	}
	const clamp = (v, lo, hi) => Math.min(Math.max(v, lo), hi);
	img.addEventListener("click", (ev) => {
		const r = img.getBoundingClientRect();
		const x = (ev.clientX - r.left) / r.width, y = (ev.clientY - r.top) / r.height;
		if (!(x >= 0 && x <= 1 && y >= 0 && y <= 1)) {
			return;
		}
		form.elements.x.value = x.toFixed(6);
		form.elements.y.value = y.toFixed(6);
		show(clamp(x - w / 2, 0, 1 - w), clamp(y - h / 2, 0, 1 - h));
		const note = document.getElementById("stamp-note");
		if (note) {
			note.textContent = img.dataset.tapped;
		}
	});
	// A corner chosen after a tap wins: the tap is forgotten.
	form.elements.corner.addEventListener("change", () => {
		form.elements.x.value = "";
		form.elements.y.value = "";
	});
})();
