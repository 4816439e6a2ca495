// Glue the browser demands for the app page, none of it needed for the notice or the
// password path (those work without any script):
//  * focus moves to the screen the URL fragment shows (keyboard and screen-reader users);
//  * inside the widget's frame, events go to the business's page with postMessage, addressed
//    to the one origin the server checked (never "*"), carrying the nonce that page chose, and
//    the frame reports its height;
//  * where the frame cannot run the face path (no storage, no isolation), "Use my face" opens
//    OwnFace's own first-party pop-up, and the frame waits for its result through the server
//    (server/handoff.py); in that pop-up, the result is handed over and the window closes.
// The widget's protocol (message source and kinds, the nonce's shape, the hand-off's paths
// and timing) comes from the server (#ownface-widget, pyapp.protocol.widget_glue); the hand-off
// bodies are pyapp.protocol.HandoffPut and HandoffTake.
const context = JSON.parse(document.getElementById("ownface-context").textContent);
const widgetData = document.getElementById("ownface-widget");
const widget = widgetData ? JSON.parse(widgetData.textContent) : null;
const app = document.getElementById("ownface-app");
const parentOrigin = context.embed;
const framed = Boolean(widget && !widget.popup && window.parent !== window);
const inPopup = Boolean(widget && widget.popup && window.parent === window);

// After the "#", the widget passes what must reach no server log (browsers never send a
// fragment): the enrolment ticket its business made, the nonce the business's page chose
// (framed), the hand-off secret of the frame that opened this pop-up. They leave the address
// bar at once; the ticket goes into the page's context (for the face path) and its password
// forms, whose POST bodies carry it; the language link keeps ticket and nonce in its own.
const fragment = location.hash.includes("=") ? new URLSearchParams(location.hash.slice(1))
  : new URLSearchParams();
if (["ticket", "nonce", "handoff"].some((name) => fragment.has(name))) {
  history.replaceState(null, "", location.pathname + location.search);
}
const b64url = /^[A-Za-z0-9_-]+$/;
const given = (name) => (b64url.test(fragment.get(name) || "") ? fragment.get(name) : null);
const ticket = given("ticket") || context.ticket;
const nonceShape = widget ? new RegExp(`^(?:${widget.nonce})$`) : null;
// (after a password form's round trip, the server gives it back: it travelled in the form)
const nonceGiven = fragment.get("nonce") || (widget && widget.given) || "";
const nonce = framed && nonceShape.test(nonceGiven) ? nonceGiven : null;
// a frame talks only to the page the server allowed, and only if that page embeds it
const ancestors = location.ancestorOrigins;
const parentOk = framed && nonce !== null && (!ancestors || ancestors[0] === parentOrigin);
let handoff = null;
if (inPopup) {  // first-party storage: it survives the password form's round trip
  if (given("handoff")) {
    sessionStorage.setItem("ownface/handoff", given("handoff"));
    location.replace("#face");  // the person chose their face in the widget already
  }
  handoff = sessionStorage.getItem("ownface/handoff");
}
if (ticket) {
  context.ticket = ticket;
  document.getElementById("ownface-context").textContent = JSON.stringify(context);
}
for (const [name, value] of [["ticket", ticket], ["nonce", nonce]]) {
  for (const form of value ? document.querySelectorAll("form.password-form") : []) {
    if (!form.elements.namedItem(name)) {
      form.append(Object.assign(document.createElement("input"),
        { type: "hidden", name, value }));
    }
  }
}
if (ticket || nonce) {
  const keep = new URLSearchParams();
  if (nonce) keep.set("nonce", nonce);
  if (ticket) keep.set("ticket", ticket);
  for (const link of document.querySelectorAll("a.lang")) link.hash = keep.toString();
}

function emit(type, detail = {}) {
  const plain = detail && typeof detail.toJs === "function" ? detail.toJs() : detail;
  if (parentOk) {
    window.parent.postMessage({ source: widget.source, type, nonce, detail: { ...plain } },
      parentOrigin);
  }
  if (inPopup && handoff && type === "verified") handOver("verified", plain.assertion);
  app.dispatchEvent(new CustomEvent(`ownface:${type}`, { detail: plain, bubbles: true }));
}

window.ownfaceGlue = Object.assign(window.ownfaceGlue || {}, { emit });

const post = (path, body) => fetch(path, {
  method: "POST", headers: { "Content-Type": "application/json" },
  body: JSON.stringify({ v: widget.v, site: context.site, ...body }),
});

// --- the pop-up: hand the result to the frame that opened it, then close -----------------
async function handOver(outcome, assertion) {
  const body = { handoff, outcome, ...(assertion ? { assertion } : {}) };
  let response = null;
  for (let tries = 0; tries < 3 && !(response && response.status < 500); tries++) {
    response = await post(widget.handoff.put, body).catch(() => null);
  }
  sessionStorage.removeItem("ownface/handoff");
  handoff = null;
  const done = document.getElementById("popup-done");
  done.textContent = done.dataset[outcome];
  done.hidden = false;
  done.dataset.outcome = outcome;
  done.dataset.delivered = String(Boolean(response && response.ok));
  document.getElementById("popup-cancel").hidden = true;
  done.focus();
  setTimeout(() => window.close(), 1500);  // the person can close it too
}
if (inPopup && handoff) {
  const cancel = document.getElementById("popup-cancel");
  cancel.hidden = false;
  cancel.addEventListener("click", () => handOver("cancelled"));
}

// --- the frame: decide where the face path runs, open and await the pop-up ----------------
const faceChoice = document.getElementById("choose-face");
let facePath = null;  // "frame" or "popup", once boot.js has probed this frame
if (faceChoice && !framed) faceChoice.classList.remove("is-checking");
let waiting = 0;  // the current pop-up's generation (a newer one, or cancel, ends a wait)

function say(id, key) {
  const element = document.getElementById(id);
  element.textContent = element.dataset[key];
  element.dataset.state = key;
}

function secret(bytes) {
  const raw = crypto.getRandomValues(new Uint8Array(bytes));
  return btoa(String.fromCharCode(...raw)).replace(/\+/g, "-").replace(/\//g, "_")
    .replace(/=+$/, "");
}

function openPopup() {
  const mine = ++waiting;
  const key = secret(widget.handoff.bytes);
  const query = new URLSearchParams(location.search);
  query.set("popup", "1");
  const after = new URLSearchParams({ handoff: key });
  if (ticket) after.set("ticket", ticket);
  // (no handle to look at: cross-origin isolation on both sides severs the pop-up from its
  // opener, so window.open answers null whether it opened or was blocked; the waiting text
  // says what to do when no window appeared)
  window.open(`${location.pathname}?${query}#${after}`, "ownface-popup",
    "popup,width=520,height=760");
  if (location.hash !== "#popup") location.hash = "#popup";
  say("popup-status", "waiting");
  awaitPopup(key, mine);
}

async function awaitPopup(key, mine) {
  const [pending, verified] = widget.handoff.states;
  const deadline = performance.now() + 1000 * widget.handoff.seconds;
  let failures = 0;
  while (mine === waiting && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, widget.handoff.poll_ms));
    if (mine !== waiting) return;
    let answer;
    try {
      const response = await post(widget.handoff.take, { handoff: key });
      answer = await response.json();
      if (!response.ok) {
        waiting++;
        emit("error", { reason: answer.error || `http_${response.status}` });
        return;
      }
    } catch {
      if (++failures >= 5) {  // the network is gone: say so, the person may try again
        waiting++;
        emit("error", { reason: "network" });
        return;
      }
      continue;
    }
    if (answer.state === pending) continue;
    waiting++;
    if (answer.state === verified) {
      say("popup-status", "verified");
      for (const id of ["popup-again", "popup-stop"]) document.getElementById(id).hidden = true;
      emit("verified", { method: answer.method, assertion: answer.assertion });
    } else {
      emit("cancelled", {});
      location.hash = "#choice";
    }
    return;
  }
  if (mine === waiting) {
    waiting++;
    emit("cancelled", { reason: "timeout" });
    location.hash = "#choice";
  }
}

function decided(path) {
  facePath = path;
  faceChoice.classList.remove("is-checking");
  faceChoice.removeAttribute("aria-disabled");
  if (path === "popup") {
    faceChoice.querySelector(".choice-note").textContent = faceChoice.dataset.popupNote;
    faceChoice.href = "#popup";
    faceChoice.addEventListener("click", (event) => {
      event.preventDefault();
      openPopup();
    });
    document.getElementById("popup-again").addEventListener("click", openPopup);
    document.getElementById("popup-stop").addEventListener("click", () => {
      waiting++;
      emit("cancelled", {});
      location.hash = "#choice";
    });
  }
  app.dataset.facePath = path;
  emit("ready", { face: path });
}

// "Show password": the box appears only where this script runs, and flips the field's type.
for (const label of document.querySelectorAll("label.show-password")) {
  const box = label.querySelector("input[data-shows]");
  const field = document.getElementById(box.dataset.shows);
  box.addEventListener("change", () => { field.type = box.checked ? "text" : "password"; });
  label.hidden = false;
}

function focusScreen() {
  if (facePath === "popup" && location.hash === "#face") {  // it cannot work here
    location.replace("#choice");
    return;
  }
  const target = location.hash ? document.getElementById(location.hash.slice(1)) : null;
  if (target && target.classList.contains("screen")) {
    target.focus();
    if (location.hash === "#password") emit("declined");
  }
}
window.addEventListener("hashchange", focusScreen);

if (app.dataset.emit) {  // the server answered a password form with a result to pass on
  const { type, ...detail } = JSON.parse(app.dataset.emit);
  emit(type, detail);
}

// Loading progress (web/glue/boot.js), in the page's own sentences (rendered by the server in
// the person's language): the megabytes still coming while the face path's files download,
// then that Python starts; Python itself then reports the models and says when it is ready,
// after which nothing here touches the text again.
const loading = document.getElementById("loading");
function progress(what, percent) {
  if (!loading || loading.dataset.ready || loading.dataset.models) return;  // Python's turn
  document.getElementById("loading-text").textContent = loading.dataset.template.replace("%s", what);
  const bar = document.getElementById("loading-bar");
  bar.value = Math.max(Number(bar.value), percent);
}
const megabytes = (bytes) => (bytes / 1e6).toFixed(1);
const popupAlways = fragment.get("face") === (widget && widget.paths[1]);  // face="popup"
document.addEventListener("ownface:loading", ({ detail }) => {
  if (detail.stage === "usable") {
    if (framed) decided(widget.paths[popupAlways ? 1 : 0]);
    return;
  }
  if (detail.stage === "unavailable" && framed) {  // the pop-up can: it is first-party
    decided(widget.paths[1]);
    return;
  }
  if (!loading) return;
  if (detail.stage === "download") {
    progress(loading.dataset.download.replace("%d", megabytes(detail.done))
      .replace("%t", megabytes(detail.total)), Math.round(70 * detail.done / detail.total));
  } else if (detail.stage === "runtime" || detail.stage === "downloaded") {
    progress(loading.dataset.starting, detail.stage === "downloaded" ? 70 : 0);
  } else if (detail.stage === "unavailable" || detail.stage === "failed") {
    loading.dataset.unavailable = detail.reason;
    document.getElementById("loading-text").textContent = loading.dataset.failedText;
    emit("fallback", { reason: detail.stage === "failed" ? "loading" : detail.reason });
  }
});

if (parentOk) {
  new ResizeObserver(() => {
    window.parent.postMessage({ source: widget.source, type: widget.resize, nonce,
      detail: { height: app.getBoundingClientRect().height + 16 } }, parentOrigin);
  }).observe(app);
}
