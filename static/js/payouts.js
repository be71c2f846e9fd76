// Creator payouts: the cash a request pays, shown as the creator types; the payout method
// form shows only the fields of the chosen kind. No inline scripts (CSP).
(function () {
  "use strict";

  const input = document.querySelector("input[data-cents-num]");
  if (input) {
    const num = BigInt(input.dataset.centsNum);
    const den = BigInt(input.dataset.centsDen);
    const cash = document.querySelector("[data-preview-cash]");
    const left = document.querySelector("[data-preview-left]");
    const format = new Intl.NumberFormat(input.dataset.locale || "en", { style: "currency", currency: "USD" });
    const update = () => {
      const raw = input.value.trim();
      if (!/^\d+$/.test(raw)) {
        cash.textContent = "—";
        left.textContent = "";
        return;
      }
      const asked = BigInt(raw);
      const moved = (asked / den) * den; // whole cents only, as the server rounds
      const cents = (moved * num) / den;
      cash.textContent = format.format(Number(cents) / 100);
      const rest = asked - moved;
      left.textContent = rest > 0n ? `; ${rest} diamond${rest === 1n ? "" : "s"} stay${rest === 1n ? "s" : ""} for next time` : "";
    };
    input.addEventListener("input", update);
    update();
  }

  const form = document.querySelector(".method-form");
  if (form) {
    const groups = form.querySelectorAll(".method-fields");
    const show = () => {
      const chosen = form.querySelector("input[name=kind]:checked");
      groups.forEach((group) => {
        group.hidden = chosen ? group.dataset.kind !== chosen.value : false;
      });
    };
    form.querySelectorAll("input[name=kind]").forEach((radio) => radio.addEventListener("change", show));
    show();
  }
})();
