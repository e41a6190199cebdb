// Loaded on /api/redoc/ before ReDoc's bundle (templates/api/redoc.html), so ReDoc runs under
// the portal's Content-Security-Policy without weakening it:
// - The bundle inserts <style> elements from script: its own CSS as it loads (before any
//   option can reach it) and styled-components' as it renders. Each gets this response's CSP
//   nonce as it is inserted, so the policy needs no 'unsafe-inline'. Only elements inserted by
//   scripts, which the policy already limits to the portal's own files, are touched.
// - ReDoc shows a logo from its CDN; the portal loads nothing from other hosts, so an image
//   source on another origin is never set (no request, no violation; api-docs.css hides it).
(() => {
  const nonce = document.currentScript.nonce;
  for (const name of ["appendChild", "insertBefore"]) {
    const original = Node.prototype[name];
    Node.prototype[name] = function (node, ...rest) {
      if (node instanceof HTMLStyleElement && !node.nonce) node.setAttribute("nonce", nonce);
      return original.call(this, node, ...rest);
    };
  }
  const elsewhere = (value) => new URL(String(value), document.baseURI).origin !== location.origin;
  const setAttribute = Element.prototype.setAttribute;
  Element.prototype.setAttribute = function (name, value) {
    if (this instanceof HTMLImageElement && name.toLowerCase() === "src" && elsewhere(value)) return;
    setAttribute.call(this, name, value);
  };
  const src = Object.getOwnPropertyDescriptor(HTMLImageElement.prototype, "src");
  Object.defineProperty(HTMLImageElement.prototype, "src", {
    ...src,
    set(value) {
      if (!elsewhere(value)) src.set.call(this, value);
    },
  });
})();
