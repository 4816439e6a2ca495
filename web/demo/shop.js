// The example business's own script: listen to the widget's events and let the shop's
// backend check the signed assertion. (Business code; OwnFace's own logic is Python.)
const widget = document.getElementById("verify");
const events = document.getElementById("events");
const signedIn = document.getElementById("signed-in");

function log(text) {
  const item = document.createElement("li");
  item.textContent = text;
  events.append(item);
}

const said = (detail) => (detail && (detail.method || detail.face || detail.reason)) || "";
for (const type of ["ready", "verified", "cancelled", "fallback", "error", "declined",
  "withdrawn"]) {
  widget.addEventListener(type, async (event) => {
    const what = said(event.detail);
    log(`event: ${type}${what ? ` (${what})` : ""}`);
    if (type !== "verified") return;
    const response = await fetch("/login", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ assertion: event.detail.assertion }),
    });
    const answer = await response.json();
    if (response.ok) {
      signedIn.textContent = `Backend checked the assertion: signed in as ${answer.user} ` +
        `(${answer.method === "face" ? "face" : "password"}).`;
      signedIn.dataset.user = answer.user;
      signedIn.dataset.method = answer.method;
    } else {
      signedIn.textContent = `Backend refused the assertion: ${answer.error}.`;
      signedIn.dataset.refused = answer.error;
    }
  });
}
