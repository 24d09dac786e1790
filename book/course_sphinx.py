"""Small fixes to the built pages (a Jupyter Book local extension, see _config.yml).

sphinx-thebe registers its inline configuration script once per reading pass, and Jupyter Book runs two, so
every page declared `const THEBE_JS_URL` twice and the browser logged "Identifier 'THEBE_JS_URL' has already
been declared". We keep the first of any identical script on a page.
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


def setup(app):
    # First in line: html-page-context stops at the first handler that returns a template name.
    app.connect("html-page-context", keep_first_of_identical_scripts, priority=1)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
