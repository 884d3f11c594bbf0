// Loaded between RequireJS and the ipywidgets embed manager (see _config.yml); it makes the
// manager (@jupyter-widgets/html-manager 1.x) work on our offline pages.
(function () {
  // 1. Its webpack chunks find their icon fonts next to the URL RequireJS gives their AMD
  //    module (@jupyter-widgets/base, controls, output, html-manager), which would lie beside
  //    the page (book/@jupyter-widgets/...woff2: 404). Which chunk sets the path first varies
  //    from load to load, so map every @jupyter-widgets module, and the bundle's own
  //    override, to the folder this script came from.
  var here = document.currentScript.src.split("?")[0];
  var folder = here.slice(0, here.lastIndexOf("/"));
  window.__jupyter_widgets_assets_path__ = folder + "/";
  require.config({
    paths: { "@jupyter-widgets/html-manager/dist": folder, "@jupyter-widgets": folder },
  });
  // 2. It typesets widget labels with MathJax 2's MathJax.Hub.Queue, which MathJax 3 (ours)
  //    lacks: forward those calls to MathJax 3. MathJax (a deferred script) replaces the
  //    window.MathJax config object when it runs, before DOMContentLoaded, and the manager
  //    renders widgets after this listener (registered first) has run.
  document.addEventListener("DOMContentLoaded", function () {
    var mj = window.MathJax;
    if (!mj || mj.Hub) return;
    mj.Hub = {
      Queue: function (job) {
        var element = job && job[2];
        if (element && mj.startup && mj.startup.promise) {
          mj.startup.promise.then(function () { return mj.typesetPromise([element]); });
        }
      },
    };
  });
})();
