// Starts Swagger UI on the page's OpenAPI document (no inline script: the page's CSP forbids it).
"use strict";
const root = document.getElementById("swagger-ui");
window.ui = SwaggerUIBundle({
  url: root.dataset.openapi,
  dom_id: "#swagger-ui",
  deepLinking: true,
});
