// The OwnFace widget: <ownface-verify site="shop" user="u-123"></ownface-verify>
// For a user's first face or password on a site that requires enrolment tickets, add
// ticket="..." as your backend made it for this user (docs/api.md); it is passed on after the
// "#" of the frame's address, which browsers never send, so it stays out of servers' logs.
//
// Embeds the OwnFace verification app (served from the OwnFace origin this script comes
// from) in an iframe that may use the camera, keeps it sized to its content, and re-emits
// what happens there as DOM events on the element:
//   verified  (detail: {method, assertion}: send the assertion to your backend to check)
//   declined  (the person chose the password path instead of their face)
//   fallback  (the face path is unavailable: no camera, or paused after several tries)
//   withdrawn (the person withdrew consent; their face template was erased)
//   error     (the widget could not load)
// Theme it with CSS custom properties on the element, e.g. --ownface-accent: #8a2be2.
// This file carries no protocol and no cryptography: the app inside the frame does that.
(() => {
  const script = document.currentScript;
  const ownface = new URL(script.src).origin;
  const THEME = ["accent", "accent-text", "text", "muted", "background", "surface", "radius"];
  const EVENTS = new Set(["verified", "declined", "fallback", "withdrawn", "error"]);

  class OwnFaceVerify extends HTMLElement {
    static observedAttributes = ["site", "user", "lang", "action", "ticket"];

    connectedCallback() {
      if (!this.shadowRoot) {
        const root = this.attachShadow({ mode: "open" });
        const sheet = new CSSStyleSheet();  // no inline <style>: works under a strict CSP
        sheet.replaceSync(":host{display:block}iframe{display:block;width:100%;border:0;" +
          "min-height:28rem;color-scheme:normal}");
        root.adoptedStyleSheets = [sheet];
        this.frame = document.createElement("iframe");
        this.frame.allow = "camera; cross-origin-isolated";
        this.frame.title = this.getAttribute("title") || "Identity verification";
        this.frame.addEventListener("error", () => this.fire("error", { reason: "load" }));
        root.append(this.frame);
        this.onMessage = (event) => this.receive(event);
        window.addEventListener("message", this.onMessage);
      }
      this.load();
    }

    disconnectedCallback() {
      window.removeEventListener("message", this.onMessage);
    }

    attributeChangedCallback() {
      if (this.frame) this.load();
    }

    load() {
      const site = this.getAttribute("site");
      const user = this.getAttribute("user");
      if (!site || !user) {
        this.fire("error", { reason: "missing site or user attribute" });
        return;
      }
      const query = new URLSearchParams({ site, user, embed: location.origin });
      for (const name of ["lang", "action"]) {
        if (this.hasAttribute(name)) query.set(name, this.getAttribute(name));
      }
      const styles = getComputedStyle(this);
      for (const name of THEME) {
        const value = styles.getPropertyValue(`--ownface-${name}`).trim();
        if (value) query.set(`theme-${name}`, value);
      }
      const ticket = this.getAttribute("ticket");
      const src = `${ownface}/app/?${query}` +
        (ticket ? `#ticket=${encodeURIComponent(ticket)}` : "");
      if (this.frame.src !== src) {
        this.frame.src = src;
        clearTimeout(this.timer);  // the app reports its size as soon as it has rendered
        this.timer = setTimeout(() => this.fire("error", { reason: "timeout" }), 20000);
      }
    }

    receive(event) {
      if (event.origin !== ownface || event.source !== this.frame.contentWindow) return;
      const { source, type, detail } = event.data || {};
      if (source !== "ownface") return;
      clearTimeout(this.timer);
      if (type === "resize") {
        this.frame.style.height = `${Math.ceil(detail.height) + 2}px`;
      } else if (EVENTS.has(type)) {
        this.fire(type, detail);
      }
    }

    fire(type, detail) {
      this.dispatchEvent(new CustomEvent(type, { detail, bubbles: true, composed: true }));
    }
  }

  if (!customElements.get("ownface-verify")) customElements.define("ownface-verify", OwnFaceVerify);
})();
