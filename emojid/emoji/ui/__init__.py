"""The web UI: a curator's workbench in the browser (server-rendered Jinja, htmx).

`site.py` the routes, `render.py` templates and the wrappers every handler goes
through, `session.py` logins and CSRF, `browse.py` the public pages, `curate.py`
the admin's edits, `remote.py` other servers and sync, `queries.py` the reads
beyond PackService. Templates in `templates/`, the stylesheet and the vendored
htmx in `static/`.
"""
