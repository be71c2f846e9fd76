// Picture fields (components/picture_field.html): show the chosen file before it is sent.
// Loaded once per field on the page; each input is wired once.
(function () {
  "use strict";

  function wire(field) {
    const input = field.querySelector("[data-picture-input]");
    if (!input || input.dataset.pictureWired) return;
    input.dataset.pictureWired = "1";
    const preview = field.querySelector("[data-picture-preview] img");
    const name = field.querySelector("[data-picture-name]");
    const clear = field.querySelector("[data-picture-clear]");
    const button = field.querySelector(".picker-button");
    const original = {
      src: preview.src, alt: preview.alt, name: name.textContent, button: button.textContent,
    };
    let objectUrl = null;

    function show(src, alt, text, buttonText) {
      if (objectUrl && src !== objectUrl) {
        URL.revokeObjectURL(objectUrl);
        objectUrl = null;
      }
      preview.src = src;
      preview.alt = alt;
      name.textContent = text;
      button.textContent = buttonText || original.button;
    }

    input.addEventListener("change", function () {
      const file = input.files && input.files[0];
      if (!file) {
        show(original.src, original.alt, original.name);
        return;
      }
      if (clear) clear.checked = false;
      const url = URL.createObjectURL(file);
      show(url, "Chosen picture", file.name, "Choose another");
      objectUrl = url;
    });
    if (clear) {
      clear.addEventListener("change", function () {
        if (clear.checked) {
          input.value = "";
          show(original.src, "", "The picture will be removed when you save");
          field.classList.add("picker-removing");
        } else {
          show(original.src, original.alt, original.name);
          field.classList.remove("picker-removing");
        }
      });
    }
  }

  function wireAll() {
    document.querySelectorAll(".field-picture").forEach(wire);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", wireAll);
  else wireAll();
})();
