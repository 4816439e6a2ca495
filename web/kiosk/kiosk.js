// Glue the browser demands for the kiosk page: the events Python's screen emits go to the
// page itself (a kiosk is never embedded), and the start screen says when loading failed.
// Everything else (screens, flows, the idle reset) is Python: pyapp.browser.kiosk.
const root = document.getElementById("ownface-kiosk");
function emit(type, detail = {}) {
  const plain = detail && typeof detail.toJs === "function" ? detail.toJs() : detail;
  root.dispatchEvent(new CustomEvent(`ownface:${type}`, { detail: plain, bubbles: true }));
}
window.ownfaceGlue = Object.assign(window.ownfaceGlue || {}, { emit });
document.addEventListener("ownface:loading", ({ detail }) => {
  if (detail.stage === "failed" || detail.stage === "unavailable") root.dataset.failed = detail.stage;
});
// the forms are answered by Python (in a worker, too late to stop the browser's navigation)
for (const form of document.querySelectorAll("form.k-form")) {
  form.addEventListener("submit", (event) => event.preventDefault());
}
