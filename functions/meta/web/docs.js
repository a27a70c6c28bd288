// The docs page: Swagger UI (served by this stack, as Powertools ships it) on this API's OpenAPI
// document. Nothing is fetched from another host: Swagger UI's validator badge is off.
"use strict";

const docs = document.getElementById("docs");
window.ui = SwaggerUIBundle({
  url: new URL(docs.dataset.spec, location.href).href,
  dom_id: "#docs",
  validatorUrl: null,
  deepLinking: true,
  docExpansion: "list",
});
