// kyso's citizen app: the only script. It registers the service worker
// that makes the app installable, and runs passkeys (WebAuthn); the pages
// work without it, with the PIN and one-time code.
"use strict";
if ("serviceWorker" in navigator) {
	navigator.serviceWorker.register("/app/sw.js", { scope: "/app/" }).catch(() => {});
}

// Passkeys. A form marked data-passkey ("get": log in or approve;
// "create": add a passkey) carries the service's options in data-options
// (JSON, binary members in base64url, as WebAuthn's toJSON writes them).
// Its button asks the authenticator; the answer goes into the form's
// credential field, as JSON, and the form is posted. The service checks
// everything: this script only carries the bytes.
const fromB64u = (s) => {
	const b = atob(s.replace(/-/g, "+").replace(/_/g, "/"));
	const out = new Uint8Array(b.length);
	for (let i = 0; i < b.length; i++) out[i] = b.charCodeAt(i);
	return out.buffer;
};
const toB64u = (buf) => {
	const b = new Uint8Array(buf);
	let s = "";
	for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
	return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
};
const descriptors = (list) => (list || []).map((c) => Object.assign({}, c, { id: fromB64u(c.id) }));

async function passkey(kind, o) {
	o.challenge = fromB64u(o.challenge);
	if (kind === "create") {
		o.user.id = fromB64u(o.user.id);
		o.excludeCredentials = descriptors(o.excludeCredentials);
		const c = await navigator.credentials.create({ publicKey: o });
		return {
			id: c.id, rawId: toB64u(c.rawId), type: c.type,
			response: {
				clientDataJSON: toB64u(c.response.clientDataJSON),
				attestationObject: toB64u(c.response.attestationObject),
				transports: c.response.getTransports ? c.response.getTransports() : [],
			},
			clientExtensionResults: c.getClientExtensionResults(),
		};
	}
	o.allowCredentials = descriptors(o.allowCredentials);
	const c = await navigator.credentials.get({ publicKey: o });
	return {
		id: c.id, rawId: toB64u(c.rawId), type: c.type,
		response: {
			clientDataJSON: toB64u(c.response.clientDataJSON),
			authenticatorData: toB64u(c.response.authenticatorData),
			signature: toB64u(c.response.signature),
			userHandle: c.response.userHandle ? toB64u(c.response.userHandle) : null,
		},
		clientExtensionResults: c.getClientExtensionResults(),
	};
}

if (window.PublicKeyCredential && navigator.credentials) {
	for (const form of document.querySelectorAll("form[data-passkey]")) {
		form.hidden = false;
		for (const p of document.querySelectorAll(".passkey-noscript")) p.hidden = true;
		const button = form.querySelector(".passkey-go");
		const error = form.querySelector(".passkey-error");
		button.addEventListener("click", async () => {
			button.disabled = true;
			error.hidden = true;
			try {
				const answer = await passkey(form.dataset.passkey, JSON.parse(form.dataset.options));
				form.querySelector("input[name=credential]").value = JSON.stringify(answer);
				form.submit();
			} catch (e) {
				error.textContent = form.dataset.failed;
				error.hidden = false;
				button.disabled = false;
			}
		});
	}
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

// A household visit's claim link (/app/register/claim?ref=…#SECRET)
// carries its secret after "#", which the browser never sends to the
// server: fill the claim form's secret with it, and drop it from the
// address bar and the history.
const claimSecret = document.querySelector("#claim-form #secret");
if (claimSecret && location.hash.length > 1) {
	claimSecret.value = decodeURIComponent(location.hash.slice(1));
	history.replaceState(null, "", location.pathname + location.search);
}
