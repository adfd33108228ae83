// Scrollable boxes (wide display equations, long code lines) get a tab stop and a name, so a
// keyboard can reach and scroll them (tests/test_browser.py checks this).
(function () {
  function tabStops() {
    document.querySelectorAll('div.math > mjx-container, div.highlight pre').forEach(function (box) {
      if (box.scrollWidth > box.clientWidth + 1 && !box.hasAttribute('tabindex')) {
        box.setAttribute('tabindex', '0');
        box.setAttribute('role', 'region');
        box.setAttribute('aria-label', box.tagName === 'PRE' ? 'code, scrolls sideways'
                                                             : 'equation, scrolls sideways');
      }
    });
  }
  function whenTypeset() {
    var startup = window.MathJax && window.MathJax.startup;
    (startup && startup.promise ? startup.promise : Promise.resolve()).then(tabStops);
  }
  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', whenTypeset);
  } else {
    whenTypeset();
  }
  window.addEventListener('resize', tabStops);
})();
