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

// "Show password": the box appears only where this script runs, and flips the field's type.
for (const label of document.querySelectorAll("label.show-password")) {
  const box = label.querySelector("input[data-shows]");
  const field = document.getElementById(box.dataset.shows);
  box.addEventListener("change", () => { field.type = box.checked ? "text" : "password"; });
  label.hidden = false;
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

// Loading progress (web/glue/boot.js), in the page's own sentences (rendered by the server in
// the person's language): the megabytes still coming while the face path's files download,
// then that Python starts; Python itself then reports the models and says when it is ready,
// after which nothing here touches the text again.
const loading = document.getElementById("loading");
function say(what, percent) {
  if (!loading || loading.dataset.ready || loading.dataset.models) return;  // Python's turn
  document.getElementById("loading-text").textContent = loading.dataset.template.replace("%s", what);
  const bar = document.getElementById("loading-bar");
  bar.value = Math.max(Number(bar.value), percent);
}
const megabytes = (bytes) => (bytes / 1e6).toFixed(1);
document.addEventListener("ownface:loading", ({ detail }) => {
  if (!loading) return;
  if (detail.stage === "download") {
    say(loading.dataset.download.replace("%d", megabytes(detail.done))
      .replace("%t", megabytes(detail.total)), Math.round(70 * detail.done / detail.total));
  } else if (detail.stage === "runtime" || detail.stage === "downloaded") {
    say(loading.dataset.starting, detail.stage === "downloaded" ? 70 : 0);
  } else if (detail.stage === "unavailable" || detail.stage === "failed") {
    loading.dataset.unavailable = detail.reason;
    document.getElementById("loading-text").textContent = loading.dataset.failedText;
    emit("fallback", { reason: detail.stage === "failed" ? "loading" : detail.reason });
  }
});

if (parentOrigin && window.parent !== window) {
  new ResizeObserver(() => {
    window.parent.postMessage({ source: "ownface", type: "resize",
      detail: { height: app.getBoundingClientRect().height + 16 } }, parentOrigin);
  }).observe(app);
}
