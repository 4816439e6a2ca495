// Glue the browser demands for the app page, none of it needed for the notice or the
// password path (those work without any script):
//  * focus moves to the screen the URL fragment shows (keyboard and screen-reader users);
//  * inside the widget, events go to the embedding page with postMessage, addressed to the
//    one origin the server checked (never "*"), and the frame reports its height.
const context = JSON.parse(document.getElementById("ownface-context").textContent);
const app = document.getElementById("ownface-app");
const parentOrigin = context.embed;

function emit(type, detail = {}) {
  const plain = detail && typeof detail.toJs === "function" ? detail.toJs() : detail;
  if (parentOrigin && window.parent !== window) {
    window.parent.postMessage({ source: "ownface", type, detail: { ...plain } }, parentOrigin);
  }
  app.dispatchEvent(new CustomEvent(`ownface:${type}`, { detail: plain, bubbles: true }));
}

window.ownfaceGlue = Object.assign(window.ownfaceGlue || {}, { emit });

// An enrolment ticket arrives after the "#" (the widget puts it there: browsers never send a
// fragment, so it stays out of servers' logs). It leaves the address bar and goes into the
// page's context (for the face path) and its password forms, whose POST bodies carry it; the
// language link keeps it in its own fragment.
const given = /^#ticket=([A-Za-z0-9_-]+)$/.exec(location.hash);
if (given) history.replaceState(null, "", location.pathname + location.search);
const ticket = given ? given[1] : context.ticket;
if (ticket) {
  context.ticket = ticket;
  document.getElementById("ownface-context").textContent = JSON.stringify(context);
  for (const form of document.querySelectorAll("form.password-form")) {
    if (!form.elements.namedItem("ticket")) {
      const input = Object.assign(document.createElement("input"),
        { type: "hidden", name: "ticket", value: ticket });
      form.append(input);
    }
  }
  for (const link of document.querySelectorAll("a.lang")) link.hash = `ticket=${ticket}`;
}

function focusScreen() {
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

// PyScript reports what it loads ("Loading numpy", ...) as py:progress events: show them,
// inside the page's own sentence ("Getting face verification ready: %s").
window.addEventListener("py:progress", (event) => {
  const loading = document.getElementById("loading");
  if (!loading || loading.dataset.ready) return;
  const what = String(event.detail).replace(/^Load(ing|ed) /, "");
  if (what === "Storage" || what === "JS modules") return;  // internal steps: nothing to say
  document.getElementById("loading-text").textContent =
    loading.dataset.template.replace("%s", what === "Pyodide" ? "Python (Pyodide)" : what);
  const bar = document.getElementById("loading-bar");
  bar.value = Math.min(35, Number(bar.value) + 5);
});

document.addEventListener("ownface:loading", (event) => {
  if (event.detail.stage === "ready") {
    document.getElementById("loading-bar").value = 40;
  } else if (event.detail.stage === "unavailable") {
    const loading = document.getElementById("loading");
    loading.dataset.unavailable = event.detail.detail;
    document.getElementById("loading-text").textContent = loading.dataset.failedText;
    emit("fallback", { reason: event.detail.detail });
  }
});

if (parentOrigin && window.parent !== window) {
  new ResizeObserver(() => {
    window.parent.postMessage({ source: "ownface", type: "resize",
      detail: { height: app.getBoundingClientRect().height + 16 } }, parentOrigin);
  }).observe(app);
}
