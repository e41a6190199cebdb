// Starts ReDoc on /api/redoc/ (templates/api/redoc.html): the schema URL and settings come from
// the container's data attributes; ReDoc's run-time <style> elements get this script's CSP
// nonce, so the Content-Security-Policy needs no 'unsafe-inline'.
(() => {
  const container = document.getElementById("redoc-container");
  const options = JSON.parse(container.dataset.settings || "{}");
  options.nonce = document.currentScript.nonce;
  Redoc.init(container.dataset.schemaUrl, options, container);
})();
