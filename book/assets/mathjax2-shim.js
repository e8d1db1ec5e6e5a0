// The ipywidgets HTML manager typesets widget labels with the MathJax 2 call
// MathJax.Hub.Queue(["Typeset", MathJax.Hub, element]). The book serves MathJax 3, which has no
// Hub, so every label on a page with mathematics would throw. This maps that one call onto
// MathJax 3's typesetPromise. Loaded deferred, after MathJax (see _config.yml).
(function () {
  const mathjax = window.MathJax;
  if (!mathjax || !mathjax.startup || mathjax.Hub) {
    return;
  }
  mathjax.Hub = {
    Queue: function () {
      for (const command of arguments) {
        const element = Array.isArray(command) ? command[2] : null;
        if (element) {
          mathjax.startup.promise.then(() => mathjax.typesetPromise([element]));
        }
      }
    },
  };
})();
