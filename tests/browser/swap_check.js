// Injected into every browser test's pages (tests/browser/conftest.py): every htmx swap a
// user caused (a click, a key, a submit, a change) must move keyboard focus, or be heard: a
// change inside a live region that was on the page before the request, or a new role=alert.
// What fails is reported to the test through window.__vipSwapProblem.
(function () {
  "use strict";
  var USER_EVENTS = ["click", "submit", "change", "input", "keyup", "keydown", "search"];
  var LIVE = '[aria-live]:not([aria-live="off"]), [role="status"], [role="alert"], [role="log"]';
  var WAIT_MS = 180;  // after the request's settle (htmx's settle delay): after-settle triggers
  function waitAfterRequest() {
    return WAIT_MS + (window.htmx ? window.htmx.config.defaultSettleDelay : 20);
  }

  function describe(element) {
    if (!element || !element.tagName) return String(element);
    var text = (element.getAttribute("aria-label") || element.textContent || "").trim().slice(0, 40);
    return element.tagName.toLowerCase() + (element.id ? "#" + element.id : "") +
      (text ? ' "' + text.replace(/\s+/g, " ") + '"' : "");
  }

  function watch(state) {
    var regions = Array.prototype.slice.call(document.querySelectorAll(LIVE));
    state.onRecords = function (records) {
      records.forEach(function (record) {
        var target = record.target.nodeType === 1 ? record.target : record.target.parentElement;
        if (regions.some(function (region) { return region.contains(target); })) {
          said(state, target.closest(LIVE));
        }
        Array.prototype.forEach.call(record.addedNodes, function (node) {
          if (node.nodeType !== 1) return;
          var alert = node.matches('[role="alert"]') ? node : node.querySelector('[role="alert"]');
          if (alert) said(state, alert);
        });
      });
    };
    state.observer = new MutationObserver(state.onRecords);
    state.observer.observe(document.body, { childList: true, subtree: true, characterData: true });
    // Focus that moved at any moment counts (a test may close a dialog again at once).
    state.onFocus = function (event) {
      if (event.target !== state.active && event.target !== document.body) state.focusMoved = true;
    };
    document.addEventListener("focusin", state.onFocus, true);
  }

  // A live region changed and had something to say (a screen reader reads it then).
  function said(state, region) {
    if (region && document.contains(region) && region.textContent.trim() !== "") state.heard = true;
  }

  function movedFocus(state) {
    var active = document.activeElement;
    return active && active !== document.body && active !== state.active &&
      document.contains(active);
  }

  function check(state) {
    state.onRecords(state.observer.takeRecords());
    state.observer.disconnect();
    var active = document.activeElement;
    document.removeEventListener("focusin", state.onFocus, true);
    if (state.focusMoved || movedFocus(state) || state.heard) return;
    var problem = state.what + " (" + state.event + " -> " + state.url + "): focus " +
      (active === state.active ? "stayed on " : "went to ") + describe(active) +
      " and no live region changed";
    if (window.__vipSwapProblem) window.__vipSwapProblem(problem);
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    var trigger = event.detail.requestConfig && event.detail.requestConfig.triggeringEvent;
    if (!trigger || USER_EVENTS.indexOf(trigger.type) < 0) return;
    var state = {
      active: document.activeElement,
      heard: false,
      what: describe(event.detail.elt),
      event: trigger.type,
      url: event.detail.requestConfig.path,
    };
    watch(state);
    event.detail.xhr.__vipSwapCheck = state;
  });

  var pending = [];
  function settle(state) {
    var index = pending.indexOf(state);
    if (index < 0) return;
    pending.splice(index, 1);
    clearTimeout(state.timer);
    check(state);
  }
  document.addEventListener("htmx:afterRequest", function (event) {
    var state = event.detail.xhr && event.detail.xhr.__vipSwapCheck;
    if (!state) return;
    delete event.detail.xhr.__vipSwapCheck;
    pending.push(state);
    state.timer = setTimeout(function () { settle(state); }, waitAfterRequest());
  });
  // The test's teardown: the checks still waiting, once their swaps have settled.
  window.__vipSwapFlush = function () {
    if (!pending.length) return null;
    return new Promise(function (resolve) {
      setTimeout(function () { pending.slice().forEach(settle); resolve(); }, waitAfterRequest());
    });
  };
})();
