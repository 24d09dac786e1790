"""Small fixes to the built pages (a Jupyter Book local extension, see _config.yml).

sphinx-thebe registers its inline configuration script once per reading pass, and Jupyter Book runs two, so
every page declared `const THEBE_JS_URL` twice and the browser logged "Identifier 'THEBE_JS_URL' has already
been declared". We keep the first of any identical script on a page.

The widget manager typesets widget labels with MathJax 2's `MathJax.Hub.Queue`, but the book loads MathJax 3, which
has no `Hub`: on pages with widgets the browser logged "Cannot read properties of undefined (reading 'Queue')"
whenever a label was drawn after MathJax had loaded. A small script, first on every page, gives every object
assigned to `window.MathJax` a `Hub.Queue` that typesets the element with MathJax 3's own call.

The book has an English and a Chinese edition (book/zh/, built into html/zh/). Every page starts with a link to
the same page in the other edition; `course_other_edition` in each edition's _config.yml says where that edition's
root is, relative to this one's, and how to name it.
"""
from html import escape

MATHJAX2_BRIDGE = """
(function () {
  var current;
  function withHub(mathjax) {
    if (mathjax && typeof mathjax === "object" && !mathjax.Hub) {
      mathjax.Hub = {Queue: function (job) {
        var element = job && job[2];
        if (element && window.MathJax && window.MathJax.typesetPromise) {
          window.MathJax.typesetPromise([element]).catch(function () {});
        }
      }};
    }
    return mathjax;
  }
  Object.defineProperty(window, "MathJax", {configurable: true, enumerable: true,
    get: function () { return current; }, set: function (value) { current = withHub(value); }});
})();
"""


def keep_first_of_identical_scripts(app, pagename, templatename, context, doctree):
    seen, unique = set(), []
    for script in context.get("script_files", []):
        # An inline script's filename is None or "" depending on who added it: both mean "no file".
        key = (getattr(script, "filename", str(script)) or "", repr(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    if "script_files" in context:
        context["script_files"][:] = unique


def link_other_edition(app, pagename, templatename, context, doctree):
    """Start the page with a link to the same page in the other language (pages from the toc only)."""
    other = app.config.course_other_edition
    if not other or doctree is None or "body" not in context:
        return
    href = escape("../" * pagename.count("/") + other["root"] + pagename + ".html")
    lang = escape(other["lang"])
    context["body"] = (f'<p class="language-switch" style="text-align: right"><a href="{href}" hreflang="{lang}" '
                       f'lang="{lang}">{escape(other["label"])}</a></p>\n' + context["body"])
    context["metatags"] = context.get("metatags", "") + f'\n<link rel="alternate" hreflang="{lang}" href="{href}" />'


def setup(app):
    app.add_config_value("course_other_edition", {}, "html")
    app.connect("html-page-context", link_other_edition)
    # First in line: html-page-context stops at the first handler that returns a template name.
    app.connect("html-page-context", keep_first_of_identical_scripts, priority=1)
    app.add_js_file(None, body=MATHJAX2_BRIDGE, priority=1)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
