// The OwnFace widget: <ownface-verify site="shop" user="u-123"></ownface-verify>
// For a user's first face or password on a site that requires enrolment tickets, add
// ticket="..." as your backend made it for this user (docs/api.md); it is passed on after the
// "#" of the frame's address, which browsers never send, so it stays out of servers' logs.
//
// Embeds the OwnFace verification app (served from the OwnFace origin this script comes
// from) in an iframe that may use the camera, keeps it sized to its content, and re-emits
// what happens there as DOM events on the element (docs/widget.md):
//   ready     (detail: {face: "frame" | "popup"}: where "Use my face" will run)
//   verified  (detail: {method, assertion}: send the assertion to your backend to check)
//   cancelled (the person closed the OwnFace pop-up's flow without a result)
//   fallback  (detail: {reason}: the face path is unavailable; the password still works)
//   error     (detail: {reason}: the widget could not load, or the server refused)
//   declined  (the person chose the password path), withdrawn (consent withdrawn)
// Where the browser gives the frame no storage (Chromium's default for frames of other sites)
// "Use my face" opens OwnFace's own pop-up; the frame gets its result and passes it on here.
// Only messages from that frame, from the OwnFace origin, carrying the nonce this element
// chose for it are heard. Theme it with CSS custom properties on the element, e.g.
// --ownface-accent: #8a2be2. No protocol and no cryptography here: the server writes the
// widget's part of the protocol into PROTOCOL (pyapp.protocol.widget_glue).
(() => {
  const PROTOCOL = /* protocol.widget_glue() */ {};
  const script = document.currentScript;
  const ownface = new URL(script.src).origin;
  const THEME = ["accent", "accent-text", "text", "muted", "background", "surface", "radius"];
  const EVENTS = new Set(PROTOCOL.events);

  function nonce() {  // 18 random bytes, base64url: 24 characters
    const raw = crypto.getRandomValues(new Uint8Array(18));
    return btoa(String.fromCharCode(...raw)).replace(/\+/g, "-").replace(/\//g, "_");
  }

  class OwnFaceVerify extends HTMLElement {
    static observedAttributes = ["site", "user", "lang", "action", "ticket", "face"];

    connectedCallback() {
      if (!this.shadowRoot) {
        const root = this.attachShadow({ mode: "open" });
        const sheet = new CSSStyleSheet();  // no inline <style>: works under a strict CSP
        sheet.replaceSync(":host{display:block;min-width:0}iframe{display:block;width:100%;" +
          "border:0;height:16rem;color-scheme:normal}");
        root.adoptedStyleSheets = [sheet];
        this.onMessage = (event) => this.receive(event);
      }
      window.addEventListener("message", this.onMessage);
      this.load();
    }

    disconnectedCallback() {
      window.removeEventListener("message", this.onMessage);
      clearTimeout(this.timer);
    }

    attributeChangedCallback() {
      if (this.shadowRoot) this.load();
    }

    load() {
      const site = this.getAttribute("site");
      const user = this.getAttribute("user");
      if (!site || !user) {
        this.fire("error", { reason: "attributes" });
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
      const face = this.getAttribute("face");  // "popup": always OwnFace's own window
      const page = `${ownface}/app/?${query}`;
      if (this.page === page && this.ticket === ticket && this.face === face) return;
      this.page = page;
      this.ticket = ticket;
      this.face = face;
      // a new frame each time: a new document (only the fragment would differ otherwise,
      // which a browser takes as a jump within the same document), with a new nonce
      const frame = document.createElement("iframe");
      frame.allow = "camera; cross-origin-isolated";
      frame.title = this.getAttribute("title") || "Identity verification";
      frame.addEventListener("error", () => this.fire("error", { reason: "load" }));
      this.nonce = nonce();
      const after = new URLSearchParams({ nonce: this.nonce });
      if (ticket) after.set("ticket", ticket);
      if (face === PROTOCOL.paths[1]) after.set("face", face);
      frame.src = `${page}#${after}`;
      if (this.frame) this.frame.replaceWith(frame);
      else this.shadowRoot.append(frame);
      this.frame = frame;
      clearTimeout(this.timer);  // the app reports its size as soon as it has rendered
      this.timer = setTimeout(() => this.fire("error", { reason: "timeout" }), 20000);
    }

    receive(event) {
      if (event.origin !== ownface || event.source !== this.frame.contentWindow) return;
      const data = event.data;
      if (!data || data.source !== PROTOCOL.source || data.nonce !== this.nonce) return;
      clearTimeout(this.timer);
      if (data.type === PROTOCOL.resize) {
        const height = Number(data.detail && data.detail.height);
        if (height > 0 && height < 10000) this.frame.style.height = `${Math.ceil(height) + 2}px`;
      } else if (EVENTS.has(data.type)) {
        this.fire(data.type, { ...data.detail });
      }
    }

    fire(type, detail) {
      this.dispatchEvent(new CustomEvent(type, { detail, bubbles: true, composed: true }));
    }
  }

  if (!customElements.get("ownface-verify")) customElements.define("ownface-verify", OwnFaceVerify);
})();
