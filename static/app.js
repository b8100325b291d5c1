// The little script the pages need; the CSP forbids inline scripts.
(function () {
  "use strict";

  // htmx gives swapped-in elements their hx- behaviour only when the swap settles (20 ms
  // later); a click in between followed the plain link instead (a full page, not the
  // dialog). The clicked element is processed first, so its own handler runs (a processed
  // element is left as it is).
  document.addEventListener("click", function (event) {
    var elt = event.target.closest && event.target.closest("[hx-get],[hx-post],[hx-put],[hx-patch],[hx-delete]");
    if (elt && window.htmx) window.htmx.process(elt);
  }, true);

  // Copy buttons: <button data-copy-target="input-id" data-copied-text="Copied">.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-target]");
    if (!button) return;
    var input = document.getElementById(button.dataset.copyTarget);
    if (!input) return;
    input.select();
    var done = function () {
      var original = button.textContent;
      button.textContent = button.dataset.copiedText || original;
      setTimeout(function () { button.textContent = original; }, 2000);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(done);
    } else {
      document.execCommand("copy");
      done();
    }
  });

  // Tabs: arrow keys move between tabs (WAI-ARIA tabs pattern); Enter follows the link.
  document.addEventListener("keydown", function (event) {
    var tab = event.target.closest('[role="tab"]');
    if (!tab || (event.key !== "ArrowRight" && event.key !== "ArrowLeft" &&
                 event.key !== "Home" && event.key !== "End")) return;
    var tabs = Array.prototype.slice.call(tab.closest('[role="tablist"]').querySelectorAll('[role="tab"]'));
    var index = tabs.indexOf(tab);
    if (event.key === "ArrowRight") index = (index + 1) % tabs.length;
    if (event.key === "ArrowLeft") index = (index - 1 + tabs.length) % tabs.length;
    if (event.key === "Home") index = 0;
    if (event.key === "End") index = tabs.length - 1;
    event.preventDefault();
    tabs[index].focus();
  });

  // After a tab swap, keep keyboard focus on the selected tab.
  document.addEventListener("htmx:afterSwap", function (event) {
    var selected = event.detail.target && document.querySelector('#customer-tabs [aria-selected="true"]');
    if (selected && event.detail.elt && event.detail.elt.getAttribute("role") === "tab") selected.focus();
  });

  // A failed htmx request says so instead of doing nothing.
  document.addEventListener("htmx:responseError", function (event) {
    var region = document.getElementById("flash");
    if (!region) return;
    var message = document.documentElement.lang === "sv"
      ? "Något gick fel. Ladda om sidan och försök igen."
      : "Something went wrong. Reload the page and try again.";
    region.innerHTML = "";
    var p = document.createElement("p");
    p.className = "flash flash-error";
    p.textContent = message + " (" + event.detail.xhr.status + ")";
    region.appendChild(p);
  });
  // Modal dialogs swapped in by htmx (<dialog data-modal>): opened modal, Esc or Close
  // closes and removes them, and focus returns to the button that opened them.
  var dialogOpener = null;
  document.addEventListener("htmx:beforeRequest", function (event) {
    if (event.detail.elt.hasAttribute("data-opens-dialog")) dialogOpener = event.detail.elt;
  });
  function returnFocus() {
    // A refreshed list may have replaced the opener meanwhile: then its successor (same id).
    var opener = dialogOpener && !document.body.contains(dialogOpener) && dialogOpener.id
      ? document.getElementById(dialogOpener.id) : dialogOpener;
    if (opener && document.body.contains(opener)) opener.focus();
    dialogOpener = null;
  }
  document.addEventListener("htmx:load", function (event) {
    var root = event.detail.elt;
    var dialog = root.matches && root.matches("dialog[data-modal]") ? root
      : (root.querySelector ? root.querySelector("dialog[data-modal]") : null);
    if (!dialog || dialog.open) return;
    dialog.addEventListener("close", function () {
      dialog.remove();
      returnFocus();
      restoreSectionFocus();
    });
    dialog.showModal();
    var invalid = dialog.querySelector('[aria-invalid="true"]');
    if (invalid) invalid.focus();
  });
  document.addEventListener("click", function (event) {
    var closer = event.target.closest("[data-close-dialog]");
    if (closer) closer.closest("dialog").close();
  });
  // A route that finished a dialog's work answers HX-Reswap: none (its out-of-band updates
  // still swap) and HX-Trigger-After-Settle: vip:dialog-close (vip/web/htmx.py close_dialog):
  // the dialog that sent the request closes, as Esc would.
  document.addEventListener("vip:dialog-close", function (event) {
    var dialog = (event.target.closest && event.target.closest("dialog[data-modal]")) ||
      document.querySelector("dialog[data-modal][open]");
    if (dialog) dialog.close();
  });
  document.addEventListener("htmx:afterSettle", function () {
    if (dialogOpener && !document.querySelector("dialog[data-modal]")) returnFocus();
  });

  // Översikt (the dashboard): each section ([data-refresh], hx-trigger "vip:refresh from:body")
  // reloads every 60 s while the tab is visible, and at once when the tab shows again after
  // being hidden. (htmx's "every 60s [filter]" would need eval, which the CSP forbids.)
  var REFRESH_SECONDS = 60;
  function refreshSections() {
    if (document.querySelector("[data-refresh]")) {
      document.body.dispatchEvent(new CustomEvent("vip:refresh", { bubbles: true }));
    }
  }
  setInterval(function () {
    if (document.visibilityState === "visible") refreshSections();
  }, REFRESH_SECONDS * 1000);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") refreshSections();
  });
  // A refreshed section keeps keyboard focus: on the same control if it is still there (same
  // id), else on the section's heading; also after a dialog opened from it did its work.
  var sectionFocus = null;
  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt;
    var section = elt.closest && elt.closest("[data-refresh]");
    if (section && elt.hasAttribute("data-opens-dialog")) sectionFocus = { id: elt.id, section: section.id };
  });
  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    var active = document.activeElement;
    if (target && target.matches && target.matches("[data-refresh]") && active && target.contains(active)) {
      sectionFocus = { id: active.id, section: target.id };
    }
  });
  document.addEventListener("htmx:afterSettle", restoreSectionFocus);
  function restoreSectionFocus() {
    if (!sectionFocus || document.querySelector("dialog[data-modal]")) return;
    var active = document.activeElement;
    if (!active || active === document.body || !document.body.contains(active)) {
      var again = (sectionFocus.id && document.getElementById(sectionFocus.id)) ||
        document.querySelector("#" + sectionFocus.section + " h2");
      if (again) again.focus();
    }
    sectionFocus = null;
  }

  // Screen readers hear what a swap changed: the text of a swapped-in element marked
  // data-announce (a list's result count, say) is put into the page's live region
  // #announcer. (A live region that arrives with the swap itself is not read out.)
  // data-announce="changes" (a polled progress) is read out only when its text changed.
  var lastAnnounced = "";
  function announce(text, onlyChanges) {
    var region = document.getElementById("announcer");
    if (!region || !text || (onlyChanges && text === lastAnnounced)) return;
    lastAnnounced = text;
    if (region.textContent !== text) {  // new words: read out now
      region.textContent = text;
      return;
    }
    // The same words again (the same count twice): emptied first, so they are read again.
    region.textContent = "";
    setTimeout(function () { region.textContent = text; }, 30);
  }
  document.addEventListener("htmx:load", function (event) {
    var root = event.detail.elt;
    if (!root || root === document.body || !root.querySelector) return;
    var marked = root.matches("[data-announce]") ? root : root.querySelector("[data-announce]");
    if (marked) {
      announce(marked.textContent.trim().replace(/\s+/g, " "),
               marked.getAttribute("data-announce") === "changes");
    }
  });

  // A request that took keyboard focus away (its button disabled meanwhile, or the focused
  // element swapped out) gives it back: to the same element if it is still there, else to
  // its successor (the same id), else to the swapped-in element; keyboard users keep their place.
  var focusBefore = null;
  document.addEventListener("htmx:beforeRequest", function (event) {
    var active = document.activeElement;
    focusBefore = active && active !== document.body ? { element: active, id: active.id } : null;
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    var lost = focusBefore;
    focusBefore = null;
    var active = document.activeElement;
    if (!lost || document.querySelector("dialog[open]") ||
        (active && active !== document.body && document.body.contains(active))) return;
    var target = event.detail.target;
    var successor = (document.body.contains(lost.element) && lost.element) ||
      (lost.id && document.getElementById(lost.id)) ||
      (target && target.id && document.getElementById(target.id));
    if (!successor) return;
    if (!successor.hasAttribute("tabindex") && successor.tabIndex < 0) successor.setAttribute("tabindex", "-1");
    successor.focus();
  });

  // The header's menu (a <details> on narrow screens): Esc closes it, focus on its button.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" || document.querySelector("dialog[open]")) return;
    var menu = document.querySelector("details.nav-menu[open]");
    if (!menu) return;
    menu.open = false;
    menu.querySelector("summary").focus();
  });

  // The language switcher returns to the URL htmx last pushed, not the one first loaded.
  document.addEventListener("submit", function (event) {
    var form = event.target.closest(".language-switcher");
    if (form) form.elements.next.value = location.pathname + location.search;
  }, true);
})();
