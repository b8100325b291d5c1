// The API reference page (/api/v1/docs): Swagger UI draws the OpenAPI document named in
// the page's data-openapi-url. A file, not an inline script: the CSP forbids those.
(function () {
  "use strict";
  var root = document.getElementById("api-reference");
  if (!root || typeof window.SwaggerUIBundle !== "function") {
    return;
  }
  window.SwaggerUIBundle({
    url: root.getAttribute("data-openapi-url"),
    domNode: root,
    deepLinking: true,
    tryItOutEnabled: false,
    supportedSubmitMethods: [],
    validatorUrl: null,
  });
})();
